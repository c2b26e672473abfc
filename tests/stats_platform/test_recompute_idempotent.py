"""Recomputing and backfilling leave exactly what one clean run leaves.

Tables are compared in full, without the columns that record when a row was written
(computed_at, covered_until, updated_at). Day 0 is `base`, day 1 is t(24 + h).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from platform_testkit import (
    DAILY_ASSETS,
    ROLLUPS,
    Event,
    dump_tables,
    materialize,
    message,
    reaction,
    voice,
)

DAY = timedelta(days=1)
OUTPUT_TABLES = (
    "metrics_snapshots, member_blocks, member_stats, member_stats_blocks,"
    " computed_windows, voice_sessions,"
    " voice_checkpoints, voice_checkpoint_marks"
)


@pytest.fixture
def two_days(store, t) -> None:
    store(
        Event("GUILD_MEMBER_ADD", t(9), "1"),
        message(t(10), "1"),
        reaction(t(10, 1), "2", author="1"),
        voice(t(6), "3", "900"),  # never closed: capped at day 1 06:00
        voice(t(22, 30), "2", "900"),
        voice(t(22, 40), "2", "901"),
        voice(t(23, 50), "1", "900"),
        voice(t(24, 20), "1", None),
        message(t(24, 30), "2"),
        Event("GUILD_MEMBER_REMOVE", t(25), "2"),
        voice(t(25, 10), "2", None),
    )


def backfill(resources, base, t) -> None:
    """Days 0 and 1, the hours 22:00 to 01:00 and the windows 23:55 to 00:10, each as one run."""
    materialize(DAILY_ASSETS, resources, grain="daily", start=base, last=base + DAY)
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(22), last=t(25))
    materialize([ROLLUPS["5min"]], resources, grain="5min", start=t(23, 55), last=t(24, 10))


def test_one_partition_recomputed_leaves_identical_tables(db, two_days, t, base, resources):
    def compute() -> None:
        materialize(DAILY_ASSETS, resources, grain="daily", start=base)
        materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(10))
        materialize([ROLLUPS["5min"]], resources, grain="5min", start=t(10))

    compute()
    first = dump_tables(db)
    compute()
    assert dump_tables(db) == first
    assert len(first["metrics_snapshots"]) == 3
    assert len(first["member_stats"]) == 3


def test_range_backfill_twice_leaves_identical_tables(db, two_days, t, base, resources):
    backfill(resources, base, t)
    first = dump_tables(db)
    backfill(resources, base, t)
    assert dump_tables(db) == first
    # 2 days, 4 hours and 4 five-minute windows with activity.
    assert len([r for r in first["metrics_snapshots"] if r[1] == "daily"]) == 2
    assert len([r for r in first["metrics_snapshots"] if r[1] == "hourly"]) == 4
    assert len([r for r in first["metrics_snapshots"] if r[1] == "5min"]) == 4


def test_range_backfill_equals_partition_by_partition(db, two_days, t, base, resources):
    backfill(resources, base, t)
    as_range = dump_tables(db)

    db.execute("TRUNCATE " + OUTPUT_TABLES)
    for day in (base, base + DAY):
        materialize(DAILY_ASSETS, resources, grain="daily", start=day)
    for hour in range(22, 26):
        materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(hour))
    for minute in range(23 * 60 + 55, 24 * 60 + 15, 5):
        materialize([ROLLUPS["5min"]], resources, grain="5min", start=t(0, minute))

    assert dump_tables(db) == as_range
