"""Finding windows whose computation missed events that arrived later (no Dagster here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from stats_platform.domain.grains import DAILY, GRAIN_NAMES, LENGTHS
from stats_platform.domain.instants import ceil_to, floor_to
from stats_platform.domain.voice import reach_of_late_voice
from stats_platform.storage.scripts import script


@dataclass(frozen=True)
class StaleRange:
    """A run's worth of recomputation: [start, end) at one grain."""

    grain: str
    start: datetime
    end: datetime


def find_late_arrivals(
    conn: psycopg.Connection, *, after: datetime, until: datetime, ticked: datetime
) -> list[tuple[str, datetime, bool]]:
    """(grain, window start, has late voice) of computed windows with arrivals up to `until` past their coverage.

    Arrivals in (after, until], and any arrival for windows committed since the previous tick
    at `ticked` (which could not see them).
    """
    rows = conn.execute(
        script(__file__, "select_late_windows.sql"),
        {"after": after, "until": until, "ticked": ticked},
    ).fetchall()
    return [(grain, start, bool(voice)) for grain, start, voice in rows]


def ranges_to_recompute(
    late: list[tuple[str, datetime, bool]],
    *,
    cap: timedelta,
    last_complete: dict[str, datetime],
    first_kept: datetime,
) -> list[StaleRange]:
    """Merges late windows into ranges per grain; late voice also reaches `cap` forward (sessions it changes).

    The daily grain also covers the day before a late voice event: that day's sessions may end in it.
    Windows starting before `first_kept` (the raw-retention horizon) are left out: their events are gone.
    """
    spans: dict[str, list[tuple[datetime, datetime]]] = {grain: [] for grain in GRAIN_NAMES}
    day = DAILY.length
    for grain, start, voice in late:
        every = LENGTHS[grain]
        end = start + every
        if voice:
            end = ceil_to(reach_of_late_voice(start, end, cap)[1], every)
            spans[DAILY.name].append((floor_to(start, day) - day, ceil_to(end, day)))
        spans[grain].append((start, end))
    ranges = []
    for grain, windows in spans.items():
        for start, end in _merge(sorted(windows)):
            start = max(start, ceil_to(first_kept, LENGTHS[grain]))
            end = min(end, last_complete[grain])
            if start < end:
                ranges.append(StaleRange(grain, start, end))
    return ranges


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
