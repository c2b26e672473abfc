"""Exact activity for any set of buckets: rollup rows where they are usable, raw events elsewhere.

The parts: `computed` says which rollup windows are computed and still exact for the guild,
`plan` picks windows and raw spans per bucket, `rollup_reads` sums the picked windows' rows,
`raw_tail` computes the raw spans with the pipeline's transforms; this module puts them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
import psycopg

from stats_api.engine import plan
from stats_api.engine.computed import ComputedWindow, exact_windows, newest, read_computed
from stats_api.engine.frames import BUCKET_AS_GUILD, COUNT_COLUMNS, GUILD_AS_BUCKET
from stats_api.engine.plan import BucketPlan, Span
from stats_api.engine.raw_tail import compute_raw
from stats_api.engine.rollup_reads import read_rollups
from stats_platform.domain.grains import COARSE_TO_FINE, GRAINS
from stats_platform.transforms import activity as transforms

FINEST = GRAINS[0]
COARSER = COARSE_TO_FINE[:-1]


@dataclass(frozen=True)
class Activity:
    """Per bucket (index into the buckets asked for): totals, and one row per active member."""

    totals: pl.DataFrame
    members: pl.DataFrame
    resolution: str
    data_as_of: datetime | None


def activity(
    conn: psycopg.Connection,
    *,
    guild_id: str,
    buckets: list[Span],
    now: datetime,
    cap: timedelta,
    raw_horizon: datetime,
) -> Activity:
    """Activity of each bucket [start, end), counted up to now (a bucket starting later is empty)."""
    clamped = [(start, min(end, now)) if start < now else (start, start) for start, end in buckets]
    plans, newest_rollup = plan_buckets(
        conn, guild_id=guild_id, buckets=clamped, cap=cap, raw_horizon=raw_horizon
    )
    rollup_members, rollup_totals = read_rollups(conn, guild_id, plans)
    raw = compute_raw(conn, guild_id, plans, now=now, cap=cap)
    members = combine(pl.concat([rollup_members, raw.members], how="vertical_relaxed"))
    counts = pl.concat([rollup_totals, raw.totals], how="vertical_relaxed")
    return Activity(
        bucket_totals(len(buckets), counts, members),
        members,
        plan.coarsest(p.resolution for p in plans),
        newest([newest_rollup, raw.newest_arrival]),
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

    Coverage of the coarse grains is read first; the finest grain's windows only inside the gaps.
    """
    span = (min(s for s, _ in buckets) - cap, max(e for _, e in buckets))
    computed = read_computed(conn, guild_id, grains=COARSER, spans=[span])
    plans = _plan_with(buckets, computed, cap, raw_horizon)
    gaps = [gap for p in plans for gap in p.raw] + [
        (w.start, w.end) for p in plans if p.resolution != plan.EXACT for w in p.windows
    ]
    if gaps:
        computed += read_computed(conn, guild_id, grains=[FINEST], spans=gaps)
        plans = _plan_with(buckets, computed, cap, raw_horizon)
    by_window = {c.window: c for c in computed}
    arrivals = [by_window[w].last_received_at for p in plans for w in p.windows]
    return plans, newest(arrivals)


def _plan_with(
    buckets: list[Span], computed: list[ComputedWindow], cap: timedelta, raw_horizon: datetime
) -> list[BucketPlan]:
    return plan.plan(
        buckets,
        usable=exact_windows(computed, cap),
        kept={c.window for c in computed},
        raw_horizon=raw_horizon,
    )


def combine(members: pl.DataFrame) -> pl.DataFrame:
    """One row per (bucket, user) over all the windows and spans that answered the bucket."""
    as_guild = members.lazy().select(BUCKET_AS_GUILD, pl.exclude("bucket"))
    combined = transforms.combine_members(as_guild).collect()
    return combined.select(GUILD_AS_BUCKET, pl.exclude("guild_id"))


def bucket_totals(n_buckets: int, counts: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """Every bucket, empty ones as zeros: event counts, voice and distinct active members."""
    people = members.group_by("bucket").agg(transforms.people_totals())
    summed = counts.group_by("bucket").agg(pl.col(COUNT_COLUMNS).sum())
    return (
        pl.DataFrame({"bucket": pl.int_range(n_buckets, eager=True, dtype=pl.Int64)})
        .join(summed, on="bucket", how="left")
        .join(people, on="bucket", how="left")
        .fill_null(0)
        .sort("bucket")
    )
