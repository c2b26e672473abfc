"""Lifetime member rows: member_stats, corrected for the days it does not cover exactly.

member_stats is the merge of the daily member blocks (through their spans). Days inside the raw
retention whose daily window is not computed yet (today) or is stale (late events) are answered
by `activity` instead; a stale day's old daily block rows are taken out of the sums first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
import psycopg

from stats_api.engine.activity import activity
from stats_api.engine.computed import exact_windows, read_computed
from stats_api.engine.frames import READ_ENGINE, empty_members
from stats_api.engine.plan import EXACT, RollupWindow, Span, coarsest
from stats_api.engine.rollup_reads import read_member_blocks
from stats_platform.domain.grains import DAILY
from stats_platform.domain.rollups import (
    LIFETIME_COUNTS,
    LIFETIME_FROM_MEMBER,
    LIFETIME_LATEST,
)
from stats_platform.storage import blocks

LIFETIME_SCHEMA = blocks.LIFETIME_BLOCK_SCHEMA
"""A member's lifetime row: member_stats without the guild."""
COUNTS_FROM_ACTIVITY = {
    member: lifetime
    for member, lifetime in LIFETIME_FROM_MEMBER.items()
    if lifetime in LIFETIME_COUNTS
}
"""Member-row counts (activity) and the lifetime sums they add to."""
COUNTS = set(LIFETIME_COUNTS)
LATEST = list(LIFETIME_LATEST)
"""Lifetime instants that are the latest of the days; `joined_at` is the earliest."""


def lifetime_members(
    conn: psycopg.Connection, *, guild_id: str, now: datetime, cap: timedelta, raw_horizon: datetime
) -> pl.DataFrame:
    """Lifetime totals per member: member_stats, corrected for days it does not cover exactly."""
    return lifetime_and_periods(
        conn, guild_id=guild_id, now=now, cap=cap, raw_horizon=raw_horizon, periods=[]
    ).lifetime


@dataclass(frozen=True)
class LifetimeAndPeriods:
    lifetime: pl.DataFrame
    """Lifetime totals per member, as `lifetime_members` gives them."""
    periods: pl.DataFrame
    """Member rows of the periods asked alongside; `bucket` is the period's index."""
    resolution: str
    """The coarsest of the periods' resolutions."""


def lifetime_and_periods(
    conn: psycopg.Connection,
    *,
    guild_id: str,
    now: datetime,
    cap: timedelta,
    raw_horizon: datetime,
    periods: Sequence[Span],
) -> LifetimeAndPeriods:
    """Lifetime totals per member, and the member rows of some periods from the same activity
    read: a member's detail asks both, and one activity call is one coverage walk, one block
    read and one raw tail (a guild active in the last minutes pays some 15 ms of Polars set-up
    per raw tail, whatever its size)."""
    stored = blocks.read_lifetime(conn, guild_id)
    days = _raw_days(now, raw_horizon)
    computed = read_computed(conn, guild_id, [(DAILY.name, (days[0][0], days[-1][1]))])
    exact = exact_windows(computed, cap)
    redo = [day for day in days if RollupWindow(DAILY.name, day[0]) not in exact]
    if not redo and not periods:
        return LifetimeAndPeriods(stored, empty_members(), EXACT)
    # The periods first, so their buckets keep their indices.
    found = activity(
        conn,
        guild_id=guild_id,
        buckets=[*periods, *redo],
        now=now,
        cap=cap,
        raw_horizon=raw_horizon,
    )
    asked = pl.col("bucket") < len(periods)
    in_periods = found.members.filter(asked)
    resolution = coarsest(found.resolutions[: len(periods)])
    if not redo:
        return LifetimeAndPeriods(stored, in_periods, resolution)
    kept = {c.window for c in computed}
    stale = [RollupWindow(DAILY.name, start) for start, _ in redo]
    old = read_member_blocks(conn, guild_id, [(w, 0) for w in stale if w in kept])
    fresh = found.members.filter(~asked)
    return LifetimeAndPeriods(_apply_corrections(stored, fresh, old), in_periods, resolution)


def _raw_days(now: datetime, raw_horizon: datetime) -> list[Span]:
    """The days from the raw horizon through the one containing now."""
    day = DAILY.length
    return [
        (raw_horizon + day * i, raw_horizon + day * (i + 1))
        for i in range((now - raw_horizon) // day + 1)
    ]


def _apply_corrections(
    stored: pl.DataFrame, fresh: pl.DataFrame, old: pl.DataFrame
) -> pl.DataFrame:
    """stored + fresh - old per member; latest instants are the latest of stored and fresh."""

    def as_totals(frame: pl.DataFrame, sign: int) -> pl.LazyFrame:
        return frame.lazy().select(
            "user_id", *(pl.col(a).mul(sign).alias(t) for a, t in COUNTS_FROM_ACTIVITY.items())
        )

    counts = (
        pl.concat(
            [stored.lazy().select("user_id", *COUNTS), as_totals(fresh, 1), as_totals(old, -1)],
            how="diagonal_relaxed",
        )
        .group_by("user_id")
        .agg(pl.col(sorted(COUNTS)).sum())
    )
    instants = pl.concat(
        [
            stored.lazy().select("user_id", *LATEST, "joined_at"),
            fresh.lazy().select("user_id", *LATEST, pl.col("first_join_at").alias("joined_at")),
        ],
        how="vertical_relaxed",
    )
    latest = instants.group_by("user_id").agg(pl.col(LATEST).max(), pl.col("joined_at").min())
    return (
        counts.join(latest, on="user_id").select(list(LIFETIME_SCHEMA)).collect(engine=READ_ENGINE)
    )
