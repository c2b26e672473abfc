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
from stats_api.engine.rollup_reads import read_member_rows
from stats_platform.domain.grains import DAILY
from stats_platform.domain.rollups import (
    LIFETIME_COUNTS,
    LIFETIME_FROM_MEMBER,
    LIFETIME_INSTANTS,
    LIFETIME_LATEST,
    MEMBER_STATS_COLUMNS,
)
from stats_platform.storage import warehouse
from stats_platform.storage.scripts import sql_script

LIFETIME_SCHEMA = {
    "user_id": pl.String,
    **{
        column: pl.Int64 for column in MEMBER_STATS_COLUMNS if column not in ("guild_id", "user_id")
    },
}
"""A member_stats row as read: instants in epoch ms."""
COUNTS_FROM_ACTIVITY = {
    member: lifetime
    for member, lifetime in LIFETIME_FROM_MEMBER.items()
    if lifetime in LIFETIME_COUNTS
}
"""Member-row counts (activity) and the lifetime sums they add to."""
COUNTS = set(LIFETIME_COUNTS)
LATEST = list(LIFETIME_LATEST)
"""Lifetime instants that are the latest of the days; `joined_at` is the earliest."""
STORED_SQL = sql_script(
    __file__,
    "select_member_stats.sql",
    columns=warehouse.epoch_ms_columns(
        "member_stats", list(LIFETIME_SCHEMA), instants=LIFETIME_INSTANTS
    ),
)


def lifetime_members(
    conn: psycopg.Connection, *, guild_id: str, now: datetime, cap: timedelta, raw_horizon: datetime
) -> pl.DataFrame:
    """Lifetime totals per member: member_stats, corrected for days it does not cover exactly."""
    stored = _stored(conn, guild_id)
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
    old = read_member_rows(conn, guild_id, [(w, 0) for w in stale if w in kept])
    return _apply_corrections(stored, fresh, old)


def _stored(conn: psycopg.Connection, guild_id: str) -> pl.DataFrame:
    stored = warehouse.copy_out(conn, STORED_SQL, {"guild_id": guild_id}, LIFETIME_SCHEMA)
    return stored.with_columns(warehouse.ms_to_datetime(*LIFETIME_INSTANTS))


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
