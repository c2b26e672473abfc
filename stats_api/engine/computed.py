"""Which rollup windows the pipeline has computed, and which of them still answer a guild exactly.

A computed window covers the events that had arrived by its `covered_until`. For one guild it
stops being exact when an event of the guild arrived at the window since then (`late`), or when a
late voice event elsewhere can change the window's voice time (`domain.voice.voice_stale`). Ingestion
records those arrivals per guild and window in `window_arrivals`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from stats_api.engine.plan import RollupWindow, Span
from stats_platform.domain.grains import COARSE_TO_FINE
from stats_platform.domain.voice import voice_stale
from stats_platform.storage.scripts import script

LONGEST = COARSE_TO_FINE[0].length
"""No window starts more than this before a span it overlaps (the coverage query's index range)."""


@dataclass(frozen=True)
class ComputedWindow:
    """A computed window as one guild sees it."""

    window: RollupWindow
    covered_until: datetime
    last_received_at: datetime | None
    last_voice_received_at: datetime | None

    @property
    def late(self) -> bool:
        return self.last_received_at is not None and self.last_received_at >= self.covered_until

    @property
    def late_voice(self) -> bool:
        return (
            self.last_voice_received_at is not None
            and self.last_voice_received_at >= self.covered_until
        )


GrainSpan = tuple[str, Span]
"""A span of time asked of one grain's windows (the grain's name)."""


def read_computed(
    conn: psycopg.Connection,
    guild_id: str,
    wanted: Sequence[GrainSpan],
    *,
    reach: timedelta = timedelta(0),
) -> list[ComputedWindow]:
    """The computed windows of each span's grain that overlap the span, and those in the
    `reach` before a span that a late voice event arrived at (the only ones of them whose
    flags can make a window of the span stale; a month's 5-minute pass reads some ten rows
    instead of the three hundred of a day's reach). A window may come once per span it
    answers for."""
    rows = conn.execute(
        script(__file__, "select_coverage.sql"),
        {
            "guild_id": guild_id,
            "grains": [grain for grain, _ in wanted],
            "starts": [s for _, (s, _) in wanted],
            "ends": [e for _, (_, e) in wanted],
            "reach_starts": [s - reach - LONGEST for _, (s, _) in wanted],
            "reach": reach,
            "longest": LONGEST,
        },
    ).fetchall()
    return [ComputedWindow(RollupWindow(name, start), *rest) for name, start, *rest in rows]


@dataclass(frozen=True)
class CoverageRead:
    """One coverage query's rows, kept to answer later questions about spans inside its own.

    The engine asks one grain at a time, each inside what the coarser ones left open; reading
    the likely spans of every grain in one query up front saves a round trip per grain when
    the guess holds, and `answers` says when it does not.
    """

    asked: dict[str, list[Span]]
    """Per grain, the disjoint spans read, in time order."""
    rows: list[ComputedWindow]
    reach: timedelta

    @classmethod
    def read(
        cls, conn: psycopg.Connection, guild_id: str, wanted: Sequence[GrainSpan], reach: timedelta
    ) -> CoverageRead:
        asked: dict[str, list[Span]] = {}
        for grain, span in wanted:
            asked.setdefault(grain, []).append(span)
        asked = {grain: disjoint(spans) for grain, spans in asked.items()}
        flat = [(grain, span) for grain, spans in asked.items() for span in spans]
        return cls(asked, read_computed(conn, guild_id, flat, reach=reach), reach)

    def answers(self, grain: str, spans: list[Span]) -> list[ComputedWindow] | None:
        """What `read_computed` of these disjoint, ordered spans of `grain` with this reach
        returns (each window once), or None when a span is not inside one that was read.

        Every such window is among the rows: one overlapping a span overlaps the span read
        around it, and a late-voice one ending in the reach before a span either ends inside
        the span read or in that span's reach.
        """
        asked = self.asked.get(grain, [])
        asked_starts = [s for s, _ in asked]
        for start, end in spans:
            i = bisect_right(asked_starts, start) - 1
            if i < 0 or asked[i][1] < end:
                return None
        starts = [s for s, _ in spans]
        ends = [e for _, e in spans]
        return [
            c
            for c in self.rows
            if c.window.grain == grain and _asked_for(c, starts, ends, self.reach)
        ]


def _asked_for(
    c: ComputedWindow, starts: list[datetime], ends: list[datetime], reach: timedelta
) -> bool:
    """Whether the coverage query of these spans returns `c` (its two parts, as the SQL has them)."""
    i = bisect_right(ends, c.window.start)  # the first span ending after the window starts
    if i < len(starts) and starts[i] < c.window.end:
        return True
    if not c.late_voice:
        return False
    j = bisect_left(starts, c.window.end)  # the first span starting at or after the window ends
    return j < len(starts) and starts[j] - reach < c.window.end


def disjoint(spans: Iterable[Span]) -> list[Span]:
    """The union of some spans, as disjoint spans in time order."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def newest(arrivals: Iterable[datetime | None]) -> datetime | None:
    """The newest of some arrival times; None when none is known."""
    return max((a for a in arrivals if a is not None), default=None)


def exact_windows(computed: Iterable[ComputedWindow], cap: timedelta) -> set[RollupWindow]:
    """The computed windows whose rows are still exact for the guild."""
    computed = list(computed)
    late_voice = [(c.window.start, c.window.end) for c in computed if c.late_voice]
    return {
        c.window
        for c in computed
        if not c.late and not voice_stale(c.window.start, c.window.end, late_voice, cap)
    }
