"""Which rollup windows and which raw-event ranges answer a set of buckets exactly.

Pure planning, no I/O: the engine fetches what the plan names. Coarse windows are taken first
(days, then hours, then 5 minutes), each only when it is computed and not stale for the guild;
whatever no usable window covers is read from the raw events. Before the raw-event retention
horizon nothing can be read raw, so kept rows are used as they are and the bucket's resolution
says how coarse that made it (contract §3, exactness horizon).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from stats_platform.domain.grains import COARSE_TO_FINE, GRAINS, RESOLUTIONS, Grain
from stats_platform.domain.instants import ceil_to, floor_to

EXACT = RESOLUTIONS[0]
"""The resolution of an answer that no kept-as-is rollup row made coarser."""

Span = tuple[datetime, datetime]
_LENGTHS = {g.name: g.length for g in GRAINS}


@dataclass(frozen=True)
class RollupWindow:
    """One computed window of a grain: the rows of a (period_type, period_start)."""

    grain: str
    """The grain's name, as `period_type` in the tables."""
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + _LENGTHS[self.grain]


@dataclass
class BucketPlan:
    """How one bucket [start, end) is answered."""

    start: datetime
    end: datetime
    windows: list[RollupWindow] = field(default_factory=list)
    raw: list[Span] = field(default_factory=list)
    resolution: str = EXACT


def plan(
    buckets: Iterable[Span],
    *,
    usable: set[RollupWindow],
    kept: set[RollupWindow],
    raw_horizon: datetime,
) -> list[BucketPlan]:
    """A plan per bucket; `usable` windows are exact for the guild, `kept` are all that have rows."""
    plans = []
    for start, end in buckets:
        bucket = BucketPlan(start, end)
        windows, gaps = _cover(start, end, usable, COARSE_TO_FINE)
        bucket.windows.extend(windows)
        for gap_start, gap_end in gaps:
            if gap_end <= raw_horizon:
                _snap_to_kept(bucket, gap_start, gap_end, kept)
            elif gap_start < raw_horizon:
                _snap_to_kept(bucket, gap_start, raw_horizon, kept)
                bucket.raw.append((raw_horizon, gap_end))
            else:
                bucket.raw.append((gap_start, gap_end))
        plans.append(bucket)
    return plans


def _cover(
    start: datetime, end: datetime, usable: set[RollupWindow], grains: Sequence[Grain]
) -> tuple[list[RollupWindow], list[Span]]:
    """Usable windows of the coarsest grain inside [start, end), then finer ones in the gaps."""
    if start >= end:
        return [], []
    if not grains:
        return [], [(start, end)]
    picked, gaps = _usable_inside(start, end, usable, grains[0])
    raw: list[Span] = []
    for gap_start, gap_end in gaps:
        finer, rest = _cover(gap_start, gap_end, usable, grains[1:])
        picked.extend(finer)
        raw.extend(rest)
    return picked, raw


def _usable_inside(
    start: datetime, end: datetime, usable: set[RollupWindow], of: Grain
) -> tuple[list[RollupWindow], list[Span]]:
    """The usable windows of one grain that lie inside [start, end), and the gaps between them."""
    every = of.length
    picked: list[RollupWindow] = []
    gaps: list[Span] = []
    cursor = start
    at = ceil_to(start, every)
    while at + every <= end:
        window = RollupWindow(of.name, at)
        if window in usable:
            if cursor < at:
                gaps.append((cursor, at))
            picked.append(window)
            cursor = at + every
        at += every
    if cursor < end:
        gaps.append((cursor, end))
    return picked, gaps


def _snap_to_kept(
    bucket: BucketPlan, start: datetime, end: datetime, kept: set[RollupWindow]
) -> None:
    """Past the raw horizon: the finest kept rows that start in the gap and end by its end."""
    for finest in GRAINS:
        every = finest.length
        at = floor_to(start, every)
        windows = []
        while at + every <= end:
            if RollupWindow(finest.name, at) in kept:
                windows.append(RollupWindow(finest.name, at))
            at += every
        if windows:
            bucket.windows.extend(windows)
            bucket.resolution = coarsest([bucket.resolution, finest.resolution])
            return


def coarsest(resolutions: Iterable[str]) -> str:
    """The coarsest of some answer resolutions (`exact` when there are none)."""
    return max(resolutions, key=RESOLUTIONS.index, default=EXACT)
