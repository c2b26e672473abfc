"""Which rollup windows and which raw-event ranges answer a set of buckets exactly.

Pure planning, no I/O: the repository fetches what the plan names. Coarse windows are taken first
(days, then hours, then 5 minutes), each only when it is computed and not stale for the guild;
whatever no usable window covers is read from the raw events. Before the raw-event retention
horizon nothing can be read raw, so kept rows are used as they are and the bucket's resolution
says how coarse that made it (SPEC §3, exactness horizon).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stats_platform.domain.grains import LENGTHS as GRAINS
from stats_platform.domain.instants import ceil_to, floor_to

COARSE_TO_FINE = ("daily", "hourly", "5min")
RESOLUTION_OF = {"5min": "5min", "hourly": "hour", "daily": "day"}

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Window:
    grain: str
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + GRAINS[self.grain]


@dataclass
class BucketPlan:
    """How one bucket [start, end) is answered."""

    start: datetime
    end: datetime
    windows: list[Window] = field(default_factory=list)
    raw: list[Span] = field(default_factory=list)
    resolution: str = "exact"


def plan(
    buckets: Iterable[Span], *, usable: set[Window], kept: set[Window], raw_horizon: datetime
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
    start: datetime, end: datetime, usable: set[Window], grains: tuple[str, ...]
) -> tuple[list[Window], list[Span]]:
    """Usable windows of the coarsest grain inside [start, end), then finer ones in the gaps."""
    if start >= end:
        return [], []
    if not grains:
        return [], [(start, end)]
    every = GRAINS[grains[0]]
    picked: list[Window] = []
    gaps: list[Span] = []
    cursor = start
    at = ceil_to(start, every)
    while at + every <= end:
        window = Window(grains[0], at)
        if window in usable:
            if cursor < at:
                gaps.append((cursor, at))
            picked.append(window)
            cursor = at + every
        at += every
    if cursor < end:
        gaps.append((cursor, end))
    raw: list[Span] = []
    for gap_start, gap_end in gaps:
        finer, rest = _cover(gap_start, gap_end, usable, grains[1:])
        picked.extend(finer)
        raw.extend(rest)
    return picked, raw


def _snap_to_kept(bucket: BucketPlan, start: datetime, end: datetime, kept: set[Window]) -> None:
    """Past the raw horizon: the finest kept rows that start in the gap and end by its end."""
    for grain in reversed(COARSE_TO_FINE):
        every = GRAINS[grain]
        at = floor_to(start, every)
        windows = []
        while at + every <= end:
            if Window(grain, at) in kept:
                windows.append(Window(grain, at))
            at += every
        if windows:
            bucket.windows.extend(windows)
            if bucket.resolution == "exact" or _coarser(grain, bucket.resolution):
                bucket.resolution = RESOLUTION_OF[grain]
            return


def _coarser(grain: str, resolution: str) -> bool:
    order = ["exact", "5min", "hour", "day"]
    return order.index(RESOLUTION_OF[grain]) > order.index(resolution)


def coarsest(resolutions: Iterable[str]) -> str:
    order = ["exact", "5min", "hour", "day"]
    return max(resolutions, key=order.index, default="exact")


def voice_stale(window: Window, late_voice: list[Span], cap: timedelta) -> bool:
    """A voice event that arrived late at [t, t + grain) can change voice time until t + grain + cap."""
    return any(t_start < window.end and t_end + cap > window.start for t_start, t_end in late_voice)
