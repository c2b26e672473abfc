"""Voice time per window: overlap of every session with each epoch-aligned window, in ms."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stats_platform.transforms.voice import voice_by_window

MS = pl.Datetime("ms", "UTC")
DAY = timedelta(hours=24)
FIVE_MIN = timedelta(minutes=5)
MINUTE_MS = 60_000


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def sessions(rows: list[tuple]) -> pl.LazyFrame:
    """(user, started_at, ended_at or None), guild g1, channel c1."""
    return pl.LazyFrame(
        {
            "guild_id": ["g1"] * len(rows),
            "user_id": [row[0] for row in rows],
            "channel_id": ["c1"] * len(rows),
            "started_at": [row[1] for row in rows],
            "ended_at": [row[2] for row in rows],
            "end_reason": [None if row[2] is None else "leave" for row in rows],
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


def windows(
    rows: list[tuple],
    *,
    start: datetime,
    end: datetime,
    every: timedelta,
    as_of: datetime,
    cap: timedelta = DAY,
) -> list[tuple]:
    out = voice_by_window(
        sessions(rows), start=start, end=end, every=every, as_of=as_of, cap=cap
    ).collect()
    return (
        out.sort("user_id", "window_start")
        .select("user_id", "window_start", "voice_ms", "last_voice_at")
        .rows()
    )


def test_session_across_a_five_minute_boundary_counts_in_both_windows():
    rows = [("u1", utc(2024, 3, 1, 0, 3), utc(2024, 3, 1, 0, 7))]
    got = windows(
        rows,
        start=utc(2024, 3, 1),
        end=utc(2024, 3, 2),
        every=FIVE_MIN,
        as_of=utc(2024, 3, 2),
    )
    assert got == [
        ("u1", utc(2024, 3, 1, 0, 0), 2 * MINUTE_MS, utc(2024, 3, 1, 0, 5)),
        ("u1", utc(2024, 3, 1, 0, 5), 2 * MINUTE_MS, utc(2024, 3, 1, 0, 7)),
    ]


def test_session_across_midnight_counts_on_both_days():
    rows = [("u1", utc(2024, 3, 1, 23, 0), utc(2024, 3, 2, 1, 30))]
    got = windows(
        rows, start=utc(2024, 3, 1), end=utc(2024, 3, 3), every=DAY, as_of=utc(2024, 3, 5)
    )
    assert got == [
        ("u1", utc(2024, 3, 1), 60 * MINUTE_MS, utc(2024, 3, 2)),
        ("u1", utc(2024, 3, 2), 90 * MINUTE_MS, utc(2024, 3, 2, 1, 30)),
    ]


def test_open_session_counts_up_to_as_of():
    rows = [("u1", utc(2024, 3, 1, 0, 0), None)]
    got = windows(
        rows,
        start=utc(2024, 3, 1),
        end=utc(2024, 3, 2),
        every=FIVE_MIN,
        as_of=utc(2024, 3, 1, 0, 12, 30),
    )
    assert got == [
        ("u1", utc(2024, 3, 1, 0, 0), 5 * MINUTE_MS, utc(2024, 3, 1, 0, 5)),
        ("u1", utc(2024, 3, 1, 0, 5), 5 * MINUTE_MS, utc(2024, 3, 1, 0, 10)),
        ("u1", utc(2024, 3, 1, 0, 10), 150_000, utc(2024, 3, 1, 0, 12, 30)),
    ]


def test_as_of_also_cuts_a_session_that_ended_later():
    # Computed at 10:30 from events that arrived later than that: only what was known counts.
    rows = [("u1", utc(2024, 3, 1, 10, 0), utc(2024, 3, 1, 11, 0))]
    got = windows(
        rows,
        start=utc(2024, 3, 1),
        end=utc(2024, 3, 2),
        every=timedelta(hours=1),
        as_of=utc(2024, 3, 1, 10, 30),
    )
    assert got == [("u1", utc(2024, 3, 1, 10), 30 * MINUTE_MS, utc(2024, 3, 1, 10, 30))]


def test_never_closed_session_counts_up_to_its_cap():
    # Opened at 12:00 and never closed: 12 h on day 1 and 12 h on day 2, nothing on day 3.
    rows = [("u1", utc(2024, 3, 1, 12), None)]
    got = windows(
        rows, start=utc(2024, 3, 1), end=utc(2024, 3, 4), every=DAY, as_of=utc(2024, 3, 10)
    )
    assert got == [
        ("u1", utc(2024, 3, 1), 12 * 60 * MINUTE_MS, utc(2024, 3, 2)),
        ("u1", utc(2024, 3, 2), 12 * 60 * MINUTE_MS, utc(2024, 3, 2, 12)),
    ]
    hour_cap = windows(
        rows,
        start=utc(2024, 3, 1),
        end=utc(2024, 3, 4),
        every=DAY,
        as_of=utc(2024, 3, 10),
        cap=timedelta(hours=1),
    )
    assert hour_cap == [("u1", utc(2024, 3, 1), 60 * MINUTE_MS, utc(2024, 3, 1, 13))]


def test_overlap_is_clipped_to_start_and_end_even_when_they_are_not_aligned():
    rows = [
        ("u1", utc(2024, 3, 1, 9, 0), utc(2024, 3, 1, 12, 0)),
        ("u2", utc(2024, 3, 1, 8, 0), utc(2024, 3, 1, 9, 0)),
        ("u3", utc(2024, 3, 1, 11, 0), utc(2024, 3, 1, 11, 45)),
    ]
    got = windows(
        rows,
        start=utc(2024, 3, 1, 9, 30),
        end=utc(2024, 3, 1, 11, 15),
        every=timedelta(hours=1),
        as_of=utc(2024, 3, 2),
    )
    assert got == [
        ("u1", utc(2024, 3, 1, 9), 30 * MINUTE_MS, utc(2024, 3, 1, 10)),
        ("u1", utc(2024, 3, 1, 10), 60 * MINUTE_MS, utc(2024, 3, 1, 11)),
        ("u1", utc(2024, 3, 1, 11), 15 * MINUTE_MS, utc(2024, 3, 1, 11, 15)),
        ("u3", utc(2024, 3, 1, 11), 15 * MINUTE_MS, utc(2024, 3, 1, 11, 15)),
    ]


def test_sessions_of_one_user_in_one_window_add_up():
    rows = [
        ("u1", utc(2024, 3, 1, 10, 0), utc(2024, 3, 1, 10, 1)),
        ("u1", utc(2024, 3, 1, 10, 2), utc(2024, 3, 1, 10, 3, 30)),
        ("u1", utc(2024, 3, 1, 10, 4), utc(2024, 3, 1, 10, 4)),
    ]
    got = windows(
        rows,
        start=utc(2024, 3, 1),
        end=utc(2024, 3, 2),
        every=FIVE_MIN,
        as_of=utc(2024, 3, 2),
    )
    assert got == [("u1", utc(2024, 3, 1, 10), 150_000, utc(2024, 3, 1, 10, 3, 30))]


def test_session_after_as_of_or_outside_the_range_gives_nothing():
    rows = [
        ("u1", utc(2024, 3, 1, 12), utc(2024, 3, 1, 13)),
        ("u2", utc(2024, 2, 1, 12), utc(2024, 2, 1, 13)),
    ]
    got = windows(
        rows,
        start=utc(2024, 3, 1),
        end=utc(2024, 3, 2),
        every=FIVE_MIN,
        as_of=utc(2024, 3, 1, 12),
    )
    assert got == []


def test_output_columns_and_types():
    out = voice_by_window(
        sessions([("u1", utc(2024, 3, 1, 0, 0, 0), utc(2024, 3, 1, 0, 0, 1))]),
        start=utc(2024, 3, 1),
        end=utc(2024, 3, 2),
        every=FIVE_MIN,
        as_of=utc(2024, 3, 2),
        cap=DAY,
    ).collect()
    expected = pl.DataFrame(
        {
            "guild_id": ["g1"],
            "user_id": ["u1"],
            "window_start": [utc(2024, 3, 1)],
            "voice_ms": [1000],
            "last_voice_at": [utc(2024, 3, 1, 0, 0, 1)],
        },
        schema={
            "guild_id": pl.String,
            "user_id": pl.String,
            "window_start": MS,
            "voice_ms": pl.Int64,
            "last_voice_at": MS,
        },
    )
    assert_frame_equal(out, expected)


@pytest.mark.parametrize("seed", range(20))
def test_every_grain_adds_up_to_the_same_overlap(seed: int):
    rng = random.Random(seed)
    start, end = utc(2024, 3, 1, 3, 17), utc(2024, 3, 4, 11, 2)
    as_of = utc(2024, 3, 3, 20, 0, 0)
    rows = []
    for user in ("u1", "u2", "u3"):
        moment = utc(2024, 2, 29) + timedelta(milliseconds=rng.randrange(10**8))
        while moment < utc(2024, 3, 5):
            length = timedelta(milliseconds=rng.randrange(1, 40 * 3_600_000))
            rows.append((user, moment, None if rng.random() < 0.3 else moment + length))
            moment += length + timedelta(milliseconds=rng.randrange(0, 10**7))
    by_hand: dict[str, int] = {}
    for user, began, ended in rows:
        finish = min(ended or began + DAY, as_of, end)
        overlap = (finish - max(began, start)) // timedelta(milliseconds=1)
        by_hand[user] = by_hand.get(user, 0) + max(overlap, 0)
    for every in (FIVE_MIN, timedelta(hours=1), DAY, timedelta(days=7)):
        per_window = voice_by_window(
            sessions(rows), start=start, end=end, every=every, as_of=as_of, cap=DAY
        )
        totals = per_window.group_by("user_id").agg(pl.col("voice_ms").sum()).collect()
        assert dict(totals.rows()) == {user: ms for user, ms in by_hand.items() if ms > 0}
