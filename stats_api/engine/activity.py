"""Exact activity for any set of buckets: rollup rows where they are usable, raw events elsewhere.

The parts: `computed` says which rollup windows are computed and still exact for the guild,
`plan` picks windows and raw spans per bucket, `rollup_reads` sums the picked windows' rows,
`raw_tail` computes the raw spans with the pipeline's transforms; this module puts them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

import polars as pl
import psycopg

from stats_api.engine import plan
from stats_api.engine.computed import (
    ComputedWindow,
    CoverageRead,
    GrainSpan,
    disjoint,
    exact_windows,
    newest,
    read_computed,
)
from stats_api.engine.frames import COUNT_COLUMNS, PEOPLE_COLUMNS, READ_ENGINE
from stats_api.engine.plan import SPAN_NAMES, BucketPlan, RollupWindow, Span
from stats_api.engine.raw_tail import compute_raw
from stats_api.engine.rollup_reads import read_rollups
from stats_platform.domain.grains import COARSE_TO_FINE
from stats_platform.domain.instants import floor_to
from stats_platform.transforms import activity as transforms


@dataclass(frozen=True)
class Activity:
    """Per bucket (index into the buckets asked for): totals, and one row per active member."""

    totals: pl.DataFrame
    members: pl.DataFrame
    """Empty for the buckets answered without members (see `activity`)."""
    resolution: str
    """The coarsest of the buckets' resolutions."""
    data_as_of: datetime | None
    resolutions: tuple[str, ...] = ()
    """Each bucket's resolution."""


def activity(
    conn: psycopg.Connection,
    *,
    guild_id: str,
    buckets: list[Span],
    now: datetime,
    cap: timedelta,
    raw_horizon: datetime,
    members: bool = True,
) -> Activity:
    """Activity of each bucket [start, end), counted up to now (a bucket starting later is empty).

    With `members=False` (totals only), a bucket that one window of a grain answers whole
    takes its voice and distinct members from that window's snapshot row, which the pipeline
    computed from the same member rows, and reads no block: an activity series by hour is
    mostly such buckets.
    """
    clamped = [(start, min(end, now)) if start < now else (start, start) for start, end in buckets]
    plans, newest_rollup = plan_buckets(
        conn, guild_id=guild_id, buckets=clamped, cap=cap, raw_horizon=raw_horizon
    )
    whole = frozenset() if members else frozenset(i for i, p in enumerate(plans) if _one_window(p))
    rollup_members, rollup_totals = read_rollups(conn, guild_id, plans, without_members=whole)
    raw = compute_raw(conn, guild_id, plans, now=now, cap=cap)
    merged_members = combine(pl.concat([rollup_members, raw.members], how="vertical_relaxed"))
    counts = pl.concat([rollup_totals, raw.totals], how="diagonal_relaxed")
    return Activity(
        bucket_totals(len(buckets), counts, merged_members, whole),
        merged_members,
        plan.coarsest(p.resolution for p in plans),
        newest([newest_rollup, raw.newest_arrival]),
        tuple(p.resolution for p in plans),
    )


def plan_buckets(
    conn: psycopg.Connection,
    *,
    guild_id: str,
    buckets: list[Span],
    cap: timedelta,
    raw_horizon: datetime,
) -> tuple[list[BucketPlan], datetime | None]:
    """The plans, and the newest arrival at the windows they pick.

    Coverage is planned one grain at a time, coarsest first, each finer grain only inside what
    the coarser ones left open (and, of the `cap` before it, where a late voice event can reach
    from, the windows such an event arrived at): a month takes its days, then the hours of
    today, then the 5-minute windows of this hour. One query reads every grain's likely spans
    (`likely_spans`) first; a grain asked outside them is read on its own.
    """
    read = CoverageRead.read(conn, guild_id, likely_spans(buckets), reach=cap)
    computed: list[ComputedWindow] = []
    plans: list[BucketPlan] = []
    usable: set[RollupWindow] = set()
    gaps: list[Span] = [(min(s for s, _ in buckets), max(e for _, e in buckets))]
    for grain in COARSE_TO_FINE:
        spans = disjoint(gaps)
        found = read.answers(grain.name, spans)
        if found is None:
            found = read_computed(conn, guild_id, [(grain.name, s) for s in spans], reach=cap)
        computed += found
        before, usable = usable, exact_windows(computed, cap)
        # A bucket the coarser grains answered whole keeps its plan while every window usable
        # before still is: the new windows are all of this finer grain, which it has no gap for.
        redo = [i for i, p in enumerate(plans) if _open(p)] if plans and before <= usable else None
        redone = plan.plan(
            buckets if redo is None else [buckets[i] for i in redo],
            usable=usable,
            kept={c.window for c in computed},
            raw_horizon=raw_horizon,
        )
        if redo is None:
            plans = redone
        else:
            for i, p in zip(redo, redone, strict=True):
                plans[i] = p
        gaps = [gap for p in plans for gap in p.raw] + [
            (w.start, w.end) for p in plans if p.resolution != plan.EXACT for w in p.windows
        ]
        if not gaps:
            break
    by_window = {c.window: c for c in computed}
    arrivals = [by_window[d].last_received_at for p in plans for w in p.windows for d in w.days()]
    return plans, newest(arrivals)


def likely_spans(buckets: list[Span]) -> list[GrainSpan]:
    """What each grain's coverage pass will most likely ask for: the whole range of the
    coarsest grain; of a finer one, the coarser window holding each bucket edge that the
    coarser grain cannot split, the next one too after a range start it cannot split (where
    the coarser grain's oldest windows may be gone or never run), and the last two of the range
    (the open one, and the one whose run may not have landed yet)."""
    start, end = min(s for s, _ in buckets), max(e for _, e in buckets)
    wanted: list[GrainSpan] = [(COARSE_TO_FINE[0].name, (start, end))]
    edges = {at for bucket in buckets for at in bucket}
    for coarser, grain in pairwise(COARSE_TO_FINE):
        step = coarser.length
        spans = [(first, first + step) for at in edges if (first := floor_to(at, step)) != at]
        if (first := floor_to(start, step)) != start:
            spans.append((first + step, first + 2 * step))
        spans.append((floor_to(end, step) - step, end))
        clipped = [(max(s, start), min(e, end)) for s, e in spans]
        wanted += [(grain.name, span) for span in disjoint(clipped) if span[0] < span[1]]
    return wanted


def _open(p: BucketPlan) -> bool:
    """Whether a bucket's plan leaves something to a finer grain: raw spans, or kept rows used
    as they are."""
    return bool(p.raw) or p.resolution != plan.EXACT


def combine(members: pl.DataFrame) -> pl.DataFrame:
    """One row per (bucket, user) over all the windows and spans that answered the bucket."""
    return transforms.combine_members(members.lazy(), keys=["bucket"]).collect(engine=READ_ENGINE)


def _one_window(p: BucketPlan) -> bool:
    return not p.raw and len(p.windows) == 1 and p.windows[0].grain not in SPAN_NAMES


def bucket_totals(
    n_buckets: int,
    counts: pl.DataFrame,
    members: pl.DataFrame,
    from_snapshots: frozenset[int] = frozenset(),
) -> pl.DataFrame:
    """Every bucket, empty ones as zeros: event counts, voice and distinct active members
    (from the members, or for the buckets `from_snapshots` from their one snapshot row)."""
    people = members.group_by("bucket").agg(transforms.people_totals())
    if from_snapshots:
        snapshots = counts.filter(pl.col("bucket").is_in(list(from_snapshots)))
        people = pl.concat([people, snapshots.select("bucket", *PEOPLE_COLUMNS)])
    summed = counts.group_by("bucket").agg(pl.col(COUNT_COLUMNS).sum())
    return (
        pl.DataFrame({"bucket": pl.int_range(n_buckets, eager=True, dtype=pl.Int64)})
        .join(summed, on="bucket", how="left")
        .join(people, on="bucket", how="left")
        .fill_null(0)
        .sort("bucket")
    )
