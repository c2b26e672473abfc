"""Finding windows that were due but never computed: the daemon was down at their schedule tick.

Dagster's schedules catch up only a few missed ticks after the daemon comes back; this finds
every window whose run should have committed by now and did not (no Dagster here).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import psycopg

from stats_platform.domain.grains import Grain
from stats_platform.domain.instants import ceil_to, floor_to
from stats_platform.storage.scripts import script


def due_at(grain: Grain, end: datetime, *, run_delay: timedelta) -> datetime:
    """When the window ending at `end` should be computed: its schedule tick plus the run's wait.

    `run_delay` is what a run waits past the window end before reading (settle and batch
    delay) plus a margin for the run itself.
    """
    return end + timedelta(minutes=grain.schedule_minute) + run_delay


def last_due_end(grain: Grain, now: datetime, *, run_delay: timedelta) -> datetime:
    """The end of the newest window of `grain` that is due at `now`."""
    return floor_to(now - timedelta(minutes=grain.schedule_minute) - run_delay, grain.length)


def find_missed_windows(
    conn: psycopg.Connection,
    grain: Grain,
    *,
    since: datetime,
    due_by: datetime,
    run_delay: timedelta,
) -> list[datetime]:
    """Starts of the windows of `grain` from `since` on, due by `due_by`, not in computed_windows."""
    start = ceil_to(since, grain.length)
    until = last_due_end(grain, due_by, run_delay=run_delay)
    if until <= start:
        return []
    rows = conn.execute(
        script(__file__, "select_missed_windows.sql"),
        {"grain": grain.name, "since": start, "until": until, "every": grain.length},
    ).fetchall()
    return [w for (w,) in rows]


def contiguous_ranges(
    starts: Iterable[datetime], every: timedelta
) -> list[tuple[datetime, datetime]]:
    """Sorted window starts merged into [start, end) ranges of adjacent windows."""
    ranges: list[tuple[datetime, datetime]] = []
    for start in sorted(starts):
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], start + every)
        else:
            ranges.append((start, start + every))
    return ranges
