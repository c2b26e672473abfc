"""Checkpoints: open_at(at) is the replay state before `at`; replaying from it changes nothing.

Times are minutes after T0 (2024-03-01 00:00 UTC); H = 60 minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stats_platform.transforms.voice import open_at, sessionize, voice_by_window

T0 = datetime(2024, 3, 1, tzinfo=UTC)
H = 60
DAY = timedelta(hours=24)
ONE_MS = timedelta(milliseconds=1)
MS = pl.Datetime("ms", "UTC")
KEY = ["guild_id", "user_id", "started_at"]
IDS = {"guild_id": pl.String, "user_id": pl.String, "channel_id": pl.String}
CARRY_SCHEMA = {**IDS, "started_at": MS}
NO_CARRY = pl.LazyFrame(schema=CARRY_SCHEMA)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def voice_events(rows: list[tuple]) -> pl.LazyFrame:
    """Rows (user, channel, minute) in arrival order (seq = position), guild g1."""
    return pl.LazyFrame(
        {
            "guild_id": ["g1"] * len(rows),
            "user_id": [row[0] for row in rows],
            "channel_id": [row[1] for row in rows],
            "ts": [at(row[2]) for row in rows],
            "seq": list(range(len(rows))),
        },
        schema={**IDS, "ts": MS, "seq": pl.Int64},
    )


def stored_sessions(rows: list[tuple]) -> pl.LazyFrame:
    """(user, channel, started minute, ended minute or None), guild g1."""
    return pl.LazyFrame(
        {
            "guild_id": ["g1"] * len(rows),
            "user_id": [row[0] for row in rows],
            "channel_id": [row[1] for row in rows],
            "started_at": [at(row[2]) for row in rows],
            "ended_at": [None if row[3] is None else at(row[3]) for row in rows],
            "end_reason": [None if row[3] is None else "leave" for row in rows],
        },
        schema={**CARRY_SCHEMA, "ended_at": MS, "end_reason": pl.String},
    )


def carried_users(sessions: pl.LazyFrame, moment: datetime) -> list[str]:
    return open_at(sessions, moment, cap=DAY).collect().sort("user_id")["user_id"].to_list()


def test_open_at_returns_the_carry_in_shape():
    sessions = stored_sessions([("u1", "c1", 0, None)])
    expected = pl.DataFrame(
        {"guild_id": ["g1"], "user_id": ["u1"], "channel_id": ["c1"], "started_at": [at(0)]},
        schema=CARRY_SCHEMA,
    )
    assert_frame_equal(open_at(sessions, at(30), cap=DAY).collect(), expected)


def test_open_at_keeps_sessions_started_before_and_not_ended_before():
    sessions = stored_sessions(
        [
            ("closed_before", "c1", 0, 20),
            ("ends_exactly_then", "c1", 0, 30),
            ("ends_after", "c1", 0, 40),
            ("open", "c1", 10, None),
            ("starts_exactly_then", "c1", 30, None),
            ("starts_after", "c1", 31, None),
        ]
    )
    # A session opened exactly at `at` is left out: the replay from `at` sees its opening event.
    # One that ends exactly at `at` is carried: the replay sees its closing event.
    assert carried_users(sessions, at(30)) == ["ends_after", "ends_exactly_then", "open"]


def test_open_at_drops_sessions_whose_cap_expired_before():
    sessions = stored_sessions([("u1", "c1", 0, None)])
    assert carried_users(sessions, at(24 * H)) == ["u1"]
    assert carried_users(sessions, at(24 * H) + ONE_MS) == []


def test_open_at_reads_a_naive_datetime_as_utc():
    sessions = stored_sessions([("u1", "c1", 0, 60)])
    assert carried_users(sessions, datetime(2024, 3, 1, 0, 30)) == ["u1"]


# Every rule in one history: moves, mutes, leaves with nothing open, ties, runs over 24 h and
# 48 h, never-closed sessions, and events landing exactly on a cap.
HISTORY = [
    ("u1", "c1", 0),
    ("u1", "c1", 3),
    ("u1", "c2", 10),
    ("u1", None, 20),
    ("u1", None, 25),
    ("u1", "c1", 30),
    ("u1", "c1", 30 + 24 * H),
    ("u1", "c2", 40 + 48 * H),
    ("u2", "c5", 5),
    *[("u2", "c5", 5 + hour * H) for hour in range(1, 61, 7)],
    ("u2", None, 62 * H),
    ("u3", "c1", 100),
    ("u3", "c2", 100),
    ("u3", None, 100),
    ("u3", "c3", 100),
    ("u3", "c3", 100 + 24 * H),
    ("u3", None, 100 + 30 * H),
    ("u4", "c1", 24 * H),
    ("u4", None, 48 * H),
    ("u5", None, 7),
    ("u5", "c9", 3 * 24 * H),
]


def checkpoints() -> list[datetime]:
    """Every event instant, a millisecond either side, and every cap expiry of the history."""
    full = sessionize(voice_events(HISTORY), NO_CARRY, cap=DAY).collect()
    instants = {at(minute) for _, _, minute in HISTORY}
    instants |= {start + DAY for start in full["started_at"]}
    instants |= {moment + delta for moment in set(instants) for delta in (ONE_MS, -ONE_MS)}
    return sorted(instants)


def replay_split(moment: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The replay of events before `moment`, and the replay from its checkpoint onwards."""
    events = voice_events(HISTORY)
    before = sessionize(events.filter(pl.col("ts") < moment), NO_CARRY, cap=DAY).collect()
    carry_in = open_at(before.lazy(), moment, cap=DAY)
    after = sessionize(events.filter(pl.col("ts") >= moment), carry_in, cap=DAY).collect()
    return before, after


def settle(sessions: pl.DataFrame, moment: datetime) -> pl.DataFrame:
    """Records sessions with no end whose cap passed before `moment` as ended by the cap."""
    expired = pl.col("ended_at").is_null() & (pl.col("started_at") + DAY < moment)
    return sessions.with_columns(
        ended_at=pl.when(expired).then(pl.col("started_at") + DAY).otherwise("ended_at"),
        end_reason=pl.when(expired).then(pl.lit("cap")).otherwise("end_reason"),
    ).sort(KEY)


def test_history_replays_to_the_sessions_worked_out_by_hand():
    full = sessionize(voice_events(HISTORY), NO_CARRY, cap=DAY).collect().sort(KEY)
    by_hand = [
        ("u1", "c1", at(0), at(10), "move"),
        ("u1", "c2", at(10), at(20), "leave"),
        ("u1", "c1", at(30), at(30 + 24 * H), "cap"),
        ("u1", "c1", at(30 + 24 * H), at(30 + 48 * H), "cap"),
        ("u1", "c2", at(40 + 48 * H), None, None),
        ("u2", "c5", at(5), at(5 + 24 * H), "cap"),
        ("u2", "c5", at(5 + 29 * H), at(5 + 53 * H), "cap"),
        ("u2", "c5", at(5 + 57 * H), at(62 * H), "leave"),
        ("u3", "c1", at(100), at(100), "move"),
        ("u3", "c3", at(100), at(100 + 24 * H), "cap"),
        ("u3", "c3", at(100 + 24 * H), at(100 + 30 * H), "leave"),
        ("u4", "c1", at(24 * H), at(48 * H), "leave"),
        ("u5", "c9", at(3 * 24 * H), None, None),
    ]
    # u3: c1 and c2 open and close within minute 100 (ties in arrival order); c1 is a real
    # session only if it lasts, so the zero-length ones are dropped.
    by_hand = [row for row in by_hand if row[3] is None or row[3] > row[2]]
    assert full.select("user_id", "channel_id", "started_at", "ended_at", "end_reason").rows() == (
        by_hand
    )


@pytest.mark.parametrize("moment", checkpoints())
def test_replay_from_a_checkpoint_of_the_full_replay_reproduces_it(moment: datetime):
    events = voice_events(HISTORY)
    full = sessionize(events, NO_CARRY, cap=DAY).collect()
    carry_in = open_at(full.lazy(), moment, cap=DAY).collect()
    resumed = sessionize(events.filter(pl.col("ts") >= moment), carry_in.lazy(), cap=DAY).collect()
    # The replay from `moment` owns the sessions it carried in and those starting from then.
    owned = full.join(carry_in.select(KEY), on=KEY, how="semi").vstack(
        full.filter(pl.col("started_at") >= moment)
    )
    assert_frame_equal(resumed.sort(KEY), owned.sort(KEY))


@pytest.mark.parametrize("moment", checkpoints())
def test_replay_in_two_parts_matches_one_replay(moment: datetime):
    events = voice_events(HISTORY)
    full = sessionize(events, NO_CARRY, cap=DAY).collect()
    before, after = replay_split(moment)
    merged = before.join(after.select(KEY), on=KEY, how="anti").vstack(after)
    # The part before `moment` cannot know whether a later event ended an expired session, so
    # such a session keeps a null end there; settled, both replays are the same row for row.
    assert_frame_equal(settle(merged, moment), settle(full, moment))
    last = at(4 * 24 * H)
    per_hour = {
        "start": T0,
        "end": last,
        "every": timedelta(hours=1),
        "as_of": last,
        "cap": DAY,
    }
    assert_frame_equal(
        voice_by_window(merged.lazy(), **per_hour).collect().sort("user_id", "window_start"),
        voice_by_window(full.lazy(), **per_hour).collect().sort("user_id", "window_start"),
    )


def test_session_left_open_before_the_checkpoint_is_settled_only_by_the_reader():
    # u1 joins at 0 and leaves unseen; the next event (a leave) comes on day 3. A replay of the
    # first two days leaves the session open: its effective end is still 0 + 24 h.
    rows = [("u1", "c1", 0), ("u1", None, 3 * 24 * H)]
    events = voice_events(rows)
    full = sessionize(events, NO_CARRY, cap=DAY).collect()
    assert full.select("started_at", "ended_at", "end_reason").rows() == [
        (at(0), at(24 * H), "cap")
    ]
    checkpoint = at(2 * 24 * H)
    before = sessionize(events.filter(pl.col("ts") < checkpoint), NO_CARRY, cap=DAY).collect()
    assert before.select("started_at", "ended_at", "end_reason").rows() == [(at(0), None, None)]
    assert open_at(before.lazy(), checkpoint, cap=DAY).collect().height == 0
