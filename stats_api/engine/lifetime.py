"""Lifetime member rows: member_stats, corrected for the days it does not cover exactly.

member_stats sums the daily member rows. Days inside the raw retention whose daily window is not
computed yet (today) or is stale (late events) are answered by `activity` instead; a stale
day's old daily rows are taken out of the sums first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import psycopg

from stats_api.engine.activity import activity
from stats_api.engine.computed import exact_windows, read_computed
from stats_api.engine.plan import RollupWindow, Span
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
    stored = blocks.read_lifetime(conn, guild_id)
    days = _raw_days(now, raw_horizon)
    computed = read_computed(conn, guild_id, grains=[DAILY], spans=[(days[0][0], days[-1][1])])
    exact = exact_windows(computed, cap)
    redo = [day for day in days if RollupWindow(DAILY.name, day[0]) not in exact]
    if not redo:
        return stored
    fresh = activity(
        conn, guild_id=guild_id, buckets=redo, now=now, cap=cap, raw_horizon=raw_horizon
    ).members
    kept = {c.window for c in computed}
    stale = [RollupWindow(DAILY.name, start) for start, _ in redo]
    old = read_member_blocks(conn, guild_id, [(w, 0) for w in stale if w in kept])
    return _apply_corrections(stored, fresh, old)


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
    return counts.join(latest, on="user_id").select(list(LIFETIME_SCHEMA)).collect()
