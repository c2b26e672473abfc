"""Voice time through the assets: sessions, 5-minute/hourly/daily voice and midnight checkpoints.

Times are t(hours, minutes, seconds) after `base` (UTC midnight three days ago, day 0); day 1
is t(24 + h). Voice is in milliseconds: 1 minute = 60,000 ms, 1 hour = 3,600,000 ms.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from platform_testkit import (
    DAILY_ASSETS,
    HOUR_MS,
    MIN_MS,
    ROLLUPS,
    materialize,
    member_voice,
    message,
    rows,
    run_resources,
    snapshot,
    snapshot_voice,
    stage_member_rows,
    voice,
)

from stats_platform.storage import warehouse

DAY = timedelta(days=1)


def sessions(db) -> list[tuple]:
    return rows(
        db,
        "SELECT user_id, channel_id, started_at, ended_at, end_reason FROM voice_sessions"
        " ORDER BY user_id, started_at",
    )


def checkpoints(db) -> list[tuple]:
    """The voice_sessions asset's checkpoints: those at midnights (the hourly grain's aside)."""
    return rows(
        db,
        "SELECT at, user_id, channel_id, started_at FROM voice_checkpoints"
        " WHERE at = date_trunc('day', at, 'UTC') ORDER BY 1, 2",
    )


def hourly_checkpoints(db) -> list[tuple]:
    return rows(
        db,
        "SELECT at, user_id, channel_id, started_at FROM voice_checkpoints"
        " WHERE at <> date_trunc('day', at, 'UTC') ORDER BY 1, 2",
    )


def test_join_mute_move_leave_and_leave_with_nothing_open(db, store, t, base, resources):
    store(
        voice(t(10), "1", "900"),
        voice(t(10, 10), "1", "900"),  # mute: same channel, nothing changes
        voice(t(10, 20), "1", "901"),  # move
        voice(t(10, 45), "1", None),  # leave
        voice(t(12), "2", None),  # leave with nothing open: no session, but an active user
    )
    materialize(DAILY_ASSETS, resources, grain="daily", start=base)
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(10), last=t(12))
    materialize([ROLLUPS["5min"]], resources, grain="5min", start=t(10), last=t(10, 45))

    assert sessions(db) == [
        ("1", "900", t(10), t(10, 20), "move"),
        ("1", "901", t(10, 20), t(10, 45), "leave"),
    ]
    # 20 minutes in 900 and 25 in 901: 45 minutes.
    assert snapshot(db, "daily", base) == {
        "total_events": 5,
        "total_messages": 0,
        "total_reactions": 0,
        "voice_ms": 45 * MIN_MS,
        "unique_active_users": 2,
        "joins": 0,
        "leaves": 0,
        "data": {"by_type": {"VOICE_STATE_UPDATE": 5}},
    }
    assert snapshot_voice(db, "hourly") == {t(10): 45 * MIN_MS}
    assert snapshot(db, "hourly", t(12))["unique_active_users"] == 1
    # Nine full 5-minute windows from 10:00 to 10:45; the move at 10:20 splits no window.
    assert member_voice(db, "5min") == {(t(10, 5 * i), "1"): 5 * MIN_MS for i in range(9)}
    assert snapshot(db, "5min", t(10, 45)) == {
        "total_events": 1,
        "total_messages": 0,
        "total_reactions": 0,
        "voice_ms": 0,
        "unique_active_users": 1,
        "joins": 0,
        "leaves": 0,
        "data": {"by_type": {"VOICE_STATE_UPDATE": 1}},
    }
    stage_member_rows(db)
    assert rows(
        db,
        "SELECT user_id, events, voice_ms, last_voice_at, last_seen FROM member_rows"
        " WHERE period_type = 'daily' ORDER BY user_id",
    ) == [("1", 4, 45 * MIN_MS, t(10, 45), t(10, 45)), ("2", 1, 0, None, t(12))]
    assert rows(
        db, "SELECT user_id, total_voice_ms, last_voice_at FROM member_stats ORDER BY user_id"
    ) == [("1", 45 * MIN_MS, t(10, 45)), ("2", 0, None)]


def test_session_across_a_five_minute_boundary_counts_in_both_windows(
    db, store, t, base, resources
):
    store(voice(t(14, 3, 30), "3", "900"), voice(t(14, 7, 15), "3", None))
    materialize([ROLLUPS["5min"]], resources, grain="5min", start=t(14), last=t(14, 5))
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(14))

    # 14:03:30-14:05:00 is 90 s, 14:05:00-14:07:15 is 135 s.
    assert snapshot_voice(db, "5min") == {t(14): 90_000, t(14, 5): 135_000}
    assert snapshot_voice(db, "hourly") == {t(14): 225_000}
    assert snapshot(db, "5min", t(14, 5))["unique_active_users"] == 1


def test_session_across_midnight_counts_on_both_days_and_is_checkpointed(
    db, store, t, base, resources
):
    store(voice(t(23, 50), "4", "900"), voice(t(24, 20), "4", None))
    materialize(DAILY_ASSETS, resources, grain="daily", start=base, last=base + DAY)
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(23), last=t(24))

    assert sessions(db) == [("4", "900", t(23, 50), t(24, 20), "leave")]
    assert checkpoints(db) == [(base + DAY, "4", "900", t(23, 50))]
    assert snapshot_voice(db, "daily") == {base: 10 * MIN_MS, base + DAY: 20 * MIN_MS}
    assert snapshot_voice(db, "hourly") == {t(23): 10 * MIN_MS, t(24): 20 * MIN_MS}
    # Day 1 has no event of user 4 before 00:20 but voice time from midnight: active on both days.
    assert snapshot(db, "daily", base + DAY)["unique_active_users"] == 1
    assert rows(db, "SELECT total_voice_ms, last_voice_at FROM member_stats") == [
        (30 * MIN_MS, t(24, 20))
    ]


def test_never_closed_session_ends_at_the_24_hour_cap(db, store, t, base, resources):
    store(voice(t(6), "5", "900"))
    materialize(DAILY_ASSETS, resources, grain="daily", start=base, last=base + DAY)
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(29), last=t(30))

    assert sessions(db) == [("5", "900", t(6), t(30), "cap")]
    assert checkpoints(db) == [(base + DAY, "5", "900", t(6))]
    # 18 hours on day 0, 6 on day 1; nothing after 06:00 on day 1.
    assert snapshot_voice(db, "daily") == {base: 18 * HOUR_MS, base + DAY: 6 * HOUR_MS}
    assert snapshot_voice(db, "hourly") == {t(29): HOUR_MS}
    assert rows(db, "SELECT total_voice_ms FROM member_stats") == [(24 * HOUR_MS,)]


def test_cap_is_configurable(db, store, t, base, database_url):
    store(voice(t(6), "5", "900"), message(t(8), "5"))
    one_hour = run_resources(database_url, voice_session_cap_hours=1)
    materialize(DAILY_ASSETS, one_hour, grain="daily", start=base, last=base + DAY)
    materialize([ROLLUPS["hourly"]], one_hour, grain="hourly", start=t(6), last=t(7))

    assert sessions(db) == [("5", "900", t(6), t(7), "cap")]
    assert checkpoints(db) == []
    assert rows(
        db,
        "SELECT at FROM voice_checkpoint_marks WHERE at = date_trunc('day', at, 'UTC') ORDER BY at",
    ) == [
        (base + DAY,),
        (base + 2 * DAY,),
    ]
    assert snapshot_voice(db, "daily") == {base: HOUR_MS}
    assert snapshot_voice(db, "hourly") == {t(6): HOUR_MS}
    assert snapshot(db, "hourly", t(7)) is None


def test_replay_from_the_midnight_checkpoint_equals_replay_from_scratch(
    db, store, t, base, resources
):
    store(
        voice(t(6), "5", "900"),  # never closed: capped at day 1 06:00
        voice(t(23, 50), "4", "900"),
        voice(t(24, 20), "4", None),
        voice(t(33), "6", "900"),
        voice(t(33, 30), "6", "901"),
        voice(t(34), "6", None),
    )
    day1 = base + DAY

    def day1_rows() -> tuple[list[tuple], list[tuple]]:
        stage_member_rows(db)
        return (
            rows(
                db,
                "SELECT user_id, voice_ms, last_voice_at, last_seen FROM member_rows"
                " WHERE period_type = 'daily' AND period_start = %s ORDER BY user_id",
                (day1,),
            ),
            rows(
                db,
                "SELECT voice_ms, unique_active_users FROM metrics_snapshots"
                " WHERE period_type = 'daily' AND period_start = %s",
                (day1,),
            ),
        )

    # No checkpoint yet: day 1 is replayed from the first voice event kept.
    materialize([ROLLUPS["daily"]], resources, grain="daily", start=day1)
    assert rows(db, "SELECT count(*) FROM voice_checkpoint_marks") == [(0,)]
    from_scratch = day1_rows()
    assert from_scratch == (
        [
            ("4", 20 * MIN_MS, t(24, 20), t(24, 20)),
            ("5", 6 * HOUR_MS, t(30), t(30)),
            ("6", HOUR_MS, t(34), t(34)),
        ],
        [(20 * MIN_MS + 7 * HOUR_MS, 3)],
    )

    # Day 0's voice_sessions writes the checkpoint at day 1's midnight; day 1 then starts there,
    # and still does once day 0's raw events are gone.
    materialize([DAILY_ASSETS[0]], resources, grain="daily", start=base)
    assert checkpoints(db) == [(day1, "4", "900", t(23, 50)), (day1, "5", "900", t(6))]
    materialize([ROLLUPS["daily"]], resources, grain="daily", start=day1)
    assert day1_rows() == from_scratch
    db.execute("DELETE FROM events WHERE ts < %s", (day1,))
    materialize([ROLLUPS["daily"]], resources, grain="daily", start=day1)
    assert day1_rows() == from_scratch


def test_next_day_run_ends_a_session_the_previous_day_run_saw_open(db, store, t, base, resources):
    store(voice(t(23, 50), "7", "900"))
    materialize([DAILY_ASSETS[0]], resources, grain="daily", start=base)
    # With no later event, day 0's run could only end it at the cap.
    assert sessions(db) == [("7", "900", t(23, 50), t(47, 50), "cap")]

    # The leave arrives after day 0 was computed; it is on day 1, so day 0 is not stale.
    store(voice(t(24, 20), "7", None, received_at=datetime.now(UTC)))
    materialize([DAILY_ASSETS[0]], resources, grain="daily", start=base + DAY)

    assert sessions(db) == [("7", "900", t(23, 50), t(24, 20), "leave")]


def test_late_voice_event_before_a_checkpoint_makes_the_replay_start_further_back(
    db, store, t, base, resources
):
    store(message(t(10), "1"))
    materialize(DAILY_ASSETS, resources, grain="daily", start=base, last=base + DAY)
    assert checkpoints(db) == []

    # User 2 joined at 23:00 on day 0; the event arrives after midnight's checkpoint was taken.
    store(voice(t(23), "2", "900", received_at=datetime.now(UTC)))
    materialize([ROLLUPS["daily"]], resources, grain="daily", start=base + DAY)

    # Capped 24 hours after 23:00: 23 hours on day 1, found only by replaying day 0.
    assert member_voice(db, "daily") == {(base + DAY, "2"): 23 * HOUR_MS}


def test_session_still_open_is_stored_open_and_counts_up_to_the_window_end(db, store, resources):
    # Joined one second before today's midnight and still in voice (its cap is nearly a day off).
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - DAY
    store(voice(today - timedelta(seconds=1), "8", "900"))
    materialize(DAILY_ASSETS, resources, grain="daily", start=yesterday)

    assert sessions(db) == [("8", "900", today - timedelta(seconds=1), None, None)]
    assert checkpoints(db) == [(today, "8", "900", today - timedelta(seconds=1))]
    assert member_voice(db, "daily") == {(yesterday, "8"): 1000}
    # The lifetime row's latest voice is the computation's now: the session is still open.
    ((last_voice_at, updated_at),) = rows(db, "SELECT last_voice_at, updated_at FROM member_stats")
    assert today < last_voice_at <= updated_at


def test_the_hourly_grain_checkpoints_each_hour_and_a_replay_from_there_is_exact(
    db, store, t, base, resources
):
    store(
        voice(t(6), "5", "900"),  # never closed: the 24 h cap ends it at 06:00 on day 1
        voice(t(13, 30), "6", "901"),
        voice(t(14, 10), "6", "902"),  # a move
        voice(t(15, 5), "6", None),
    )
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(13), last=t(15))

    # Hour ends 14:00, 15:00 and 16:00 (midnights are the voice_sessions asset's).
    assert hourly_checkpoints(db) == [
        (t(14), "5", "900", t(6)),
        (t(14), "6", "901", t(13, 30)),
        (t(15), "5", "900", t(6)),
        (t(15), "6", "902", t(14, 10)),
        (t(16), "5", "900", t(6)),
    ]
    assert rows(db, "SELECT at FROM voice_checkpoint_marks ORDER BY at") == [
        (t(14),),
        (t(15),),
        (t(16),),
    ]
    # The API's replay from 14:30 starts at the 14:00 checkpoint; from scratch it reads all.
    from_checkpoint = warehouse.load_voice_sessions(
        db, start=t(14, 30), end=t(17), cap=DAY
    ).collect()
    db.execute("DELETE FROM voice_checkpoint_marks")
    from_scratch = warehouse.load_voice_sessions(db, start=t(14, 30), end=t(17), cap=DAY).collect()
    overlapping = pl.col("ended_at").is_null() | (pl.col("ended_at") > t(14, 30))
    assert from_checkpoint.filter(overlapping).sort("user_id", "started_at").rows() == (
        from_scratch.filter(overlapping).sort("user_id", "started_at").rows()
    )
    assert from_checkpoint.filter(overlapping).height == 2  # user 5 in 900, user 6 in 902


def test_an_hour_checkpoint_stays_valid_until_a_voice_event_before_it_arrives_late(
    db, store, t, base, resources
):
    store(voice(t(13, 30), "6", "901"), voice(t(14, 10), "6", "902"))
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(13), last=t(15))
    assert warehouse.latest_checkpoint(db, t(16, 40), None) == t(16)

    # After the checkpoints, on time: its hour (16:00) is not before any of them.
    store(voice(t(16, 30), "6", None, received_at=datetime.now(UTC)))
    assert warehouse.latest_checkpoint(db, t(16, 40), None) == t(16)
    # Late, for 14:00-15:00: the 15:00 and 16:00 checkpoints miss it, 14:00's does not.
    store(voice(t(14, 20), "7", "903", received_at=datetime.now(UTC)))
    assert warehouse.latest_checkpoint(db, t(16, 40), None) == t(14)
    assert warehouse.latest_checkpoint(db, t(14, 40), None) == t(14)
