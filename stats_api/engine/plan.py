"""Which rollup windows and which raw-event ranges answer a set of buckets exactly.

Pure planning, no I/O: the engine fetches what the plan names. Coarse windows are taken first
(spans of days whose days are all usable, days, then hours, then 5 minutes), each only when it
is computed and not stale for the guild;
whatever no usable window covers is read from the raw events. Before the raw-event retention
horizon nothing can be read raw, so kept rows are used as they are and the bucket's resolution
says how coarse that made it (contract §3, exactness horizon).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from stats_platform.domain.blocks import SPAN_NAMES, SPANS
from stats_platform.domain.grains import COARSE_TO_FINE, DAILY, GRAINS, RESOLUTIONS
from stats_platform.domain.instants import floor_to

EXACT = RESOLUTIONS[0]
"""The resolution of an answer that no kept-as-is rollup row made coarser."""

Span = tuple[datetime, datetime]
_LENGTHS = {g.name: g.length for g in GRAINS} | {s.name: s.length for s in SPANS}
LEVELS: tuple[str, ...] = (*reversed(SPAN_NAMES), *(g.name for g in COARSE_TO_FINE))
"""What a bucket is covered with, coarsest first: spans of days, then the grains' windows."""


@dataclass(frozen=True)
class RollupWindow:
    """One window of a grain or span: its rows or block are keyed (period_type, period_start)."""

    grain: str
    """The grain's or span's name, as `period_type` in the tables."""
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + _LENGTHS[self.grain]

    def days(self) -> list[RollupWindow]:
        """The daily windows of a span (a grain's window is itself)."""
        if self.grain not in SPAN_NAMES:
            return [self]
        n = _LENGTHS[self.grain] // DAILY.length
        return [RollupWindow(DAILY.name, self.start + DAILY.length * i) for i in range(n)]


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
    """A plan per bucket; `usable` windows are exact for the guild, `kept` are all that have rows.

    The work follows the windows that exist, not the buckets' length: each level's usable
    starts are sorted once and looked up by bisection.
    """
    usable_starts = _starts_by_level(with_spans(usable))
    kept_starts = _starts_by_level(kept)
    plans = []
    for start, end in buckets:
        bucket = BucketPlan(start, end)
        windows, gaps = _cover(start, end, usable_starts, LEVELS)
        bucket.windows.extend(windows)
        for gap_start, gap_end in gaps:
            if gap_end <= raw_horizon:
                _snap_to_kept(bucket, gap_start, gap_end, kept_starts)
            elif gap_start < raw_horizon:
                _snap_to_kept(bucket, gap_start, raw_horizon, kept_starts)
                bucket.raw.append((raw_horizon, gap_end))
            else:
                bucket.raw.append((gap_start, gap_end))
        plans.append(bucket)
    return plans


def with_spans(usable: set[RollupWindow]) -> set[RollupWindow]:
    """The usable windows plus every span whose days are all usable (two usable halves)."""
    finer = {w.start for w in usable if w.grain == DAILY.name}
    spans = set()
    for span in SPANS:
        half = span.length / 2
        whole = {
            at
            for at in {floor_to(d, span.length) for d in finer}
            if at in finer and at + half in finer
        }
        spans |= {RollupWindow(span.name, at) for at in whole}
        finer = whole
    return usable | spans


def _starts_by_level(windows: Iterable[RollupWindow]) -> dict[str, list[datetime]]:
    by_level: dict[str, list[datetime]] = {}
    for w in windows:
        by_level.setdefault(w.grain, []).append(w.start)
    return {level: sorted(starts) for level, starts in by_level.items()}


def _inside(starts: list[datetime], start: datetime, last_start: datetime) -> list[datetime]:
    """The sorted starts in [start, last_start]."""
    return starts[bisect_left(starts, start) : bisect_right(starts, last_start)]


def _cover(
    start: datetime, end: datetime, usable: dict[str, list[datetime]], levels: Sequence[str]
) -> tuple[list[RollupWindow], list[Span]]:
    """Usable windows of the coarsest level inside [start, end), then finer ones in the gaps."""
    if start >= end:
        return [], []
    # Levels longer than the span cannot fit in it: an hour's bucket starts at the hours.
    fits = next((i for i, level in enumerate(levels) if _LENGTHS[level] <= end - start), None)
    if fits is None:
        return [], [(start, end)]
    levels = levels[fits:]
    picked, gaps = _usable_inside(start, end, usable.get(levels[0], []), levels[0])
    raw: list[Span] = []
    for gap_start, gap_end in gaps:
        finer, rest = _cover(gap_start, gap_end, usable, levels[1:])
        picked.extend(finer)
        raw.extend(rest)
    return picked, raw


def _usable_inside(
    start: datetime, end: datetime, starts: list[datetime], level: str
) -> tuple[list[RollupWindow], list[Span]]:
    """The usable windows of one level that lie inside [start, end), and the gaps between them."""
    every = _LENGTHS[level]
    picked: list[RollupWindow] = []
    gaps: list[Span] = []
    cursor = start
    for at in _inside(starts, start, end - every):
        if cursor < at:
            gaps.append((cursor, at))
        picked.append(RollupWindow(level, at))
        cursor = at + every
    if cursor < end:
        gaps.append((cursor, end))
    return picked, gaps


def _snap_to_kept(
    bucket: BucketPlan, start: datetime, end: datetime, kept: dict[str, list[datetime]]
) -> None:
    """Past the raw horizon: the finest kept rows that start in the gap and end by its end."""
    for finest in GRAINS:
        every = finest.length
        starts = _inside(kept.get(finest.name, []), floor_to(start, every), end - every)
        if starts:
            bucket.windows.extend(RollupWindow(finest.name, at) for at in starts)
            bucket.resolution = coarsest([bucket.resolution, finest.resolution])
            return


def coarsest(resolutions: Iterable[str]) -> str:
    """The coarsest of some answer resolutions (`exact` when there are none)."""
    return max(resolutions, key=RESOLUTIONS.index, default=EXACT)
