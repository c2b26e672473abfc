"""Which rollup windows the pipeline has computed, and which of them still answer a guild exactly.

A computed window covers the events that had arrived by its `covered_until`. For one guild it
stops being exact when an event of the guild arrived at the window since then (`late`), or when a
late voice event elsewhere can change the window's voice time (`domain.voice.voice_stale`). Ingestion
records those arrivals per guild and window in `window_arrivals`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from stats_api.engine.plan import RollupWindow, Span
from stats_platform.domain.grains import COARSE_TO_FINE, Grain
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


def read_computed(
    conn: psycopg.Connection,
    guild_id: str,
    *,
    grains: Sequence[Grain],
    spans: list[Span],
    reach: timedelta = timedelta(0),
) -> list[ComputedWindow]:
    """The computed windows of these grains that overlap any of the spans, and those in the
    `reach` before a span that a late voice event arrived at (the only ones of them whose
    flags can make a window of the span stale; a month's 5-minute pass reads some ten rows
    instead of the three hundred of a day's reach)."""
    rows = conn.execute(
        script(__file__, "select_coverage.sql"),
        {
            "guild_id": guild_id,
            "grains": [g.name for g in grains],
            "starts": [s for s, _ in spans],
            "ends": [e for _, e in spans],
            "reach_starts": [s - reach - LONGEST for s, _ in spans],
            "reach": reach,
            "longest": LONGEST,
        },
    ).fetchall()
    return [ComputedWindow(RollupWindow(name, start), *rest) for name, start, *rest in rows]


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
