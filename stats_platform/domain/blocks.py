"""Member blocks: each window's member rows kept as one columnar block per guild, and spans of days.

A block holds the member rows of one guild in one window (a grain's window, or a span of days
merged from the daily blocks), so answering a period reads a handful of blocks per guild,
however many members it has. Spans are whole numbers of UTC days, powers of two, aligned at the
epoch: any run of days is covered by at most two spans of each length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from stats_platform.domain.grains import DAILY, GRAIN_NAMES
from stats_platform.domain.instants import ceil_to, floor_to


@dataclass(frozen=True)
class Span:
    """A run of `days` UTC days whose daily blocks are merged into one block per guild."""

    days: int

    @property
    def name(self) -> str:
        """`period_type` of its blocks."""
        return f"{self.days}d"

    @property
    def length(self) -> timedelta:
        return DAILY.length * self.days

    def starts(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Starts of this span's windows that overlap [start, end)."""
        at = floor_to(start, self.length)
        while at < end:
            yield at
            at += self.length

    def inside(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Starts of this span's windows that lie inside [start, end)."""
        at = ceil_to(start, self.length)
        while at + self.length <= end:
            yield at
            at += self.length


SPANS: tuple[Span, ...] = tuple(Span(2**k) for k in range(1, 6))
"""Finest first: 2, 4, 8, 16 and 32 days. Each is merged from two of the next finer."""
WIDEST_SPAN = SPANS[-1]
"""Its blocks together hold all of a guild's days: lifetime totals are merged from them."""
SPAN_NAMES: tuple[str, ...] = tuple(s.name for s in SPANS)
BLOCK_PERIODS: tuple[str, ...] = (*GRAIN_NAMES, *SPAN_NAMES)
"""Every `period_type` a member block can have."""
SMALL_BLOCK_ROWS = 4096
"""Blocks with fewer rows are stored uncompressed: zstd's fixed cost would exceed its savings."""
