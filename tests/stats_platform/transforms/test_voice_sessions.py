"""Voice sessions rebuilt by hand from VOICE_STATE_UPDATE events: every rule of contract §2.

Times are minutes after T0 (2024-03-01 00:00 UTC); H = 60 minutes. Each expected session is
(user, channel, started minute, ended minute or None, end reason or None).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from stats_platform.transforms.voice import sessionize

T0 = datetime(2024, 3, 1, tzinfo=UTC)
H = 60
DAY = timedelta(hours=24)
MS = pl.Datetime("ms", "UTC")
NO_CARRY: list[tuple[str, str, float]] = []


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def minute_of(value: datetime | None) -> float | None:
    if value is None:
        return None
    minutes = (value - T0) / timedelta(minutes=1)
    return int(minutes) if minutes == int(minutes) else minutes


def voice_events(rows: list[tuple]) -> pl.LazyFrame:
    """Rows (user, channel, minute) in arrival order, or (user, channel, minute, seq); guild g1."""
    return pl.LazyFrame(
        {
            "guild_id": [row[4] if len(row) > 4 else "g1" for row in rows],
            "user_id": [row[0] for row in rows],
            "channel_id": [row[1] for row in rows],
            "ts": [at(row[2]) for row in rows],
            "seq": [row[3] if len(row) > 3 else index for index, row in enumerate(rows)],
        },
        schema={
            "guild_id": pl.String,
            "user_id": pl.String,
            "channel_id": pl.String,
            "ts": MS,
            "seq": pl.Int64,
        },
    )


def carry(rows: list[tuple[str, str, float]]) -> pl.LazyFrame:
    """Sessions open at the replay start: (user, channel, started minute), guild g1."""
    return pl.LazyFrame(
        {
            "guild_id": ["g1"] * len(rows),
            "user_id": [row[0] for row in rows],
            "channel_id": [row[1] for row in rows],
            "started_at": [at(row[2]) for row in rows],
        },
        schema={
            "guild_id": pl.String,
            "user_id": pl.String,
            "channel_id": pl.String,
            "started_at": MS,
        },
    )


def replay(
    rows: list[tuple], carried: list[tuple[str, str, float]] = NO_CARRY, cap: timedelta = DAY
) -> list[tuple]:
    sessions = sessionize(voice_events(rows), carry(carried), cap=cap).collect()
    return [
        (user, channel, minute_of(started), minute_of(ended), reason)
        for _, user, channel, started, ended, reason in sessions.sort(
            "guild_id", "user_id", "started_at"
        ).iter_rows()
    ]


def test_channel_set_with_nothing_open_opens_a_session_that_stays_open():
    assert replay([("u1", "c1", 10)]) == [("u1", "c1", 10, None, None)]


def test_mute_and_deafen_in_the_same_channel_change_nothing():
    rows = [("u1", "c1", 0), ("u1", "c1", 3), ("u1", "c1", 4), ("u1", None, 10)]
    assert replay(rows) == [("u1", "c1", 0, 10, "leave")]


def test_another_channel_closes_the_session_and_opens_the_next_at_that_instant():
    rows = [("u1", "c1", 0), ("u1", "c2", 7), ("u1", "c3", 9), ("u1", None, 12)]
    assert replay(rows) == [
        ("u1", "c1", 0, 7, "move"),
        ("u1", "c2", 7, 9, "move"),
        ("u1", "c3", 9, 12, "leave"),
    ]


def test_leave_with_nothing_open_does_nothing():
    rows = [("u1", None, 0), ("u1", "c1", 5), ("u1", None, 8), ("u1", None, 9)]
    assert replay(rows) == [("u1", "c1", 5, 8, "leave")]
    assert replay([("u1", None, 0)]) == []


def test_rejoining_the_same_channel_after_a_leave_opens_a_new_session():
    rows = [("u1", "c1", 0), ("u1", None, 5), ("u1", "c1", 6), ("u1", None, 9)]
    assert replay(rows) == [("u1", "c1", 0, 5, "leave"), ("u1", "c1", 6, 9, "leave")]


def test_never_closed_session_ends_at_the_cap_when_the_next_event_is_later():
    # Left voice without the bot seeing it: the leave 25 h later finds nothing open any more.
    assert replay([("u1", "c1", 0), ("u1", None, 25 * H)]) == [("u1", "c1", 0, 24 * H, "cap")]
    # A later update in the same channel opens a new session: the old one was over.
    assert replay([("u1", "c1", 0), ("u1", "c1", 30 * H)]) == [
        ("u1", "c1", 0, 24 * H, "cap"),
        ("u1", "c1", 30 * H, None, None),
    ]
    # A move after the cap opens the new channel's session; the old one ended at the cap.
    assert replay([("u1", "c1", 0), ("u1", "c2", 26 * H)]) == [
        ("u1", "c1", 0, 24 * H, "cap"),
        ("u1", "c2", 26 * H, None, None),
    ]


def test_leave_or_move_exactly_at_the_cap_is_a_leave_or_a_move():
    assert replay([("u1", "c1", 0), ("u1", None, 24 * H)]) == [("u1", "c1", 0, 24 * H, "leave")]
    assert replay([("u1", "c1", 0), ("u1", "c2", 24 * H)]) == [
        ("u1", "c1", 0, 24 * H, "move"),
        ("u1", "c2", 24 * H, None, None),
    ]


def test_same_channel_update_exactly_at_the_cap_opens_the_next_session():
    assert replay([("u1", "c1", 0), ("u1", "c1", 24 * H)]) == [
        ("u1", "c1", 0, 24 * H, "cap"),
        ("u1", "c1", 24 * H, None, None),
    ]


def test_run_of_mutes_longer_than_24h_is_cut_at_the_cap():
    # Mutes every 5 h: the first update at or after 0 + 24 h is at 25 h and opens a new session.
    rows = [("u1", "c1", hour * H) for hour in (0, 5, 10, 15, 20, 25, 30)] + [("u1", None, 32 * H)]
    assert replay(rows) == [
        ("u1", "c1", 0, 24 * H, "cap"),
        ("u1", "c1", 25 * H, 32 * H, "leave"),
    ]


def test_run_of_mutes_longer_than_48h_is_cut_at_every_cap():
    # Updates every 10 h: sessions open at 0, at 30 (first >= 24) and at 60 (first >= 54).
    rows = [("u1", "c1", hour * H) for hour in range(0, 61, 10)] + [("u1", None, 70 * H)]
    assert replay(rows) == [
        ("u1", "c1", 0, 24 * H, "cap"),
        ("u1", "c1", 30 * H, 54 * H, "cap"),
        ("u1", "c1", 60 * H, 70 * H, "leave"),
    ]


def test_run_of_mutes_longer_than_72h_ending_open_and_capped_by_a_move():
    # Hourly mutes for 80 h: sessions open at 0, 24, 48 and 72 h; the move at 100 h comes after
    # 72 + 24 = 96 h, so the last session ended at its cap and the move opens c2.
    rows = [("u1", "c1", hour * H) for hour in range(81)] + [("u1", "c2", 100 * H)]
    assert replay(rows) == [
        ("u1", "c1", 0, 24 * H, "cap"),
        ("u1", "c1", 24 * H, 48 * H, "cap"),
        ("u1", "c1", 48 * H, 72 * H, "cap"),
        ("u1", "c1", 72 * H, 96 * H, "cap"),
        ("u1", "c2", 100 * H, None, None),
    ]


def test_cap_is_configurable():
    rows = [("u1", "c1", 0), ("u1", "c1", 50), ("u1", "c1", 90), ("u1", None, 200)]
    assert replay(rows, cap=timedelta(hours=1)) == [
        ("u1", "c1", 0, 60, "cap"),
        ("u1", "c1", 90, 150, "cap"),
    ]
    assert replay(rows, cap=timedelta(hours=4)) == [("u1", "c1", 0, 200, "leave")]


def test_carry_in_session_is_continued_by_mutes_and_closed_by_a_leave():
    rows = [("u1", "c1", 10), ("u1", None, 20)]
    assert replay(rows, carried=[("u1", "c1", -60)]) == [("u1", "c1", -60, 20, "leave")]


def test_carry_in_session_is_closed_by_a_move():
    rows = [("u1", "c2", 10)]
    assert replay(rows, carried=[("u1", "c1", -60)]) == [
        ("u1", "c1", -60, 10, "move"),
        ("u1", "c2", 10, None, None),
    ]


def test_carry_in_session_without_events_stays_open():
    assert replay([], carried=[("u1", "c1", -60)]) == [("u1", "c1", -60, None, None)]


def test_carry_in_session_is_capped_from_its_own_start():
    # Opened 23 h before the replay start: the update 2 h in comes after its cap (1 h in).
    rows = [("u1", "c1", 2 * H), ("u1", None, 3 * H)]
    assert replay(rows, carried=[("u1", "c1", -23 * H)]) == [
        ("u1", "c1", -23 * H, 1 * H, "cap"),
        ("u1", "c1", 2 * H, 3 * H, "leave"),
    ]


def test_ties_on_timestamp_are_replayed_in_arrival_order():
    # Rows are given out of order on purpose; seq says the leave arrived before the join of c2.
    leave_first = [("u1", "c2", 10, 4), ("u1", "c1", 0, 1), ("u1", None, 10, 3)]
    assert replay(leave_first) == [("u1", "c1", 0, 10, "leave"), ("u1", "c2", 10, None, None)]
    # The other way round c2 opens and closes in the same millisecond: no session, c1 moved.
    join_first = [("u1", "c2", 10, 3), ("u1", "c1", 0, 1), ("u1", None, 10, 4)]
    assert replay(join_first) == [("u1", "c1", 0, 10, "move")]


def test_users_and_guilds_are_replayed_independently():
    rows = [
        ("u1", "c1", 0, 1, "g1"),
        ("u1", "c9", 1, 2, "g2"),
        ("u2", "c1", 2, 3, "g1"),
        ("u1", None, 5, 4, "g1"),
        ("u2", None, 6, 5, "g1"),
        ("u1", None, 7, 6, "g2"),
    ]
    sessions = sessionize(voice_events(rows), carry([]), cap=DAY).collect()
    expected = pl.DataFrame(
        {
            "guild_id": ["g1", "g1", "g2"],
            "user_id": ["u1", "u2", "u1"],
            "channel_id": ["c1", "c1", "c9"],
            "started_at": [at(0), at(2), at(1)],
            "ended_at": [at(5), at(6), at(7)],
            "end_reason": ["leave", "leave", "leave"],
        },
        schema={
            "guild_id": pl.String,
            "user_id": pl.String,
            "channel_id": pl.String,
            "started_at": MS,
            "ended_at": MS,
            "end_reason": pl.String,
        },
    )
    assert_frame_equal(sessions.sort("guild_id", "user_id", "started_at"), expected)


def test_events_without_a_user_are_ignored():
    assert replay([(None, "c1", 0), ("u1", "c1", 1), (None, None, 2)]) == [
        ("u1", "c1", 1, None, None)
    ]


def test_no_events_and_no_carry_in_gives_no_sessions():
    sessions = sessionize(voice_events([]), carry([]), cap=DAY).collect()
    assert sessions.height == 0
    assert sessions.columns == [
        "guild_id",
        "user_id",
        "channel_id",
        "started_at",
        "ended_at",
        "end_reason",
    ]
