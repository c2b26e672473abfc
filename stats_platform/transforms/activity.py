"""Per-member and per-guild activity per window (contract §2), and their sums over many windows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import polars as pl

from stats_platform.domain.events import EventType
from stats_platform.domain.rollups import (
    LIFETIME_FROM_MEMBER,
    MEMBER_ACTIVITY_COLUMNS,
    MEMBER_MEASURES,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_EVENT_COUNTS,
    SNAPSHOT_TYPE_COUNTS,
)
from stats_platform.transforms.common import TIMESTAMP, window_start


def _member_totals() -> list[pl.Expr]:
    """Aggregations that merge member rows: counts add up, first join is the minimum."""
    merged = {
        "sum": lambda name: pl.col(name).sum().cast(pl.Int64),
        "min": lambda name: pl.col(name).min(),
        "max": lambda name: pl.col(name).max(),
    }
    return [merged[m.merge](m.name) for m in MEMBER_MEASURES]


def _when_type(event_type: str) -> pl.Expr:
    """The event's ts if it is of `event_type`, else null (so min/max skip it)."""
    return pl.when(pl.col("type") == event_type).then(pl.col("ts"))


def member_activity(events: pl.LazyFrame, voice: pl.LazyFrame, *, every: timedelta) -> pl.LazyFrame:
    """One row per (guild, window of `every`, user) with any activity: the rows of the member blocks.

    `voice` is voice_by_window's output at the same grain. Reactions received go to
    message_author_id when present and not the reacting user (a reaction whose user_id is null
    still counts for its author). last_seen is the latest event of the user or voice time; a
    row with only reactions received has no last_seen.
    """
    period = window_start("ts", every).alias("period_start")
    kind = pl.col("type")
    # One row per contribution (the actor of an event, the author of a reacted message, a
    # voice window), then a single group_by: cheaper than aggregating each part and joining.
    acted = events.filter(pl.col("user_id").is_not_null()).select(
        "guild_id",
        period,
        "user_id",
        events=pl.lit(1, pl.Int64),
        messages=kind == EventType.MESSAGE_CREATE,
        reactions_given=kind == EventType.MESSAGE_REACTION_ADD,
        joins=kind == EventType.GUILD_MEMBER_ADD,
        leaves=kind == EventType.GUILD_MEMBER_REMOVE,
        first_join_at=_when_type(EventType.GUILD_MEMBER_ADD),
        last_message_at=_when_type(EventType.MESSAGE_CREATE),
        last_seen=pl.col("ts"),
    )
    author = pl.col("message_author_id")
    received = events.filter(
        (kind == EventType.MESSAGE_REACTION_ADD)
        & author.is_not_null()
        & (pl.col("user_id").is_null() | (author != pl.col("user_id")))
    ).select("guild_id", period, author.alias("user_id"), reactions_received=pl.lit(1, pl.Int64))
    in_voice = voice.select(
        "guild_id",
        pl.col("window_start").alias("period_start"),
        "user_id",
        pl.col("voice_ms").cast(pl.Int64),
        pl.col("last_voice_at").cast(TIMESTAMP),
        pl.col("last_voice_at").cast(TIMESTAMP).alias("last_seen"),
    )
    return (
        pl.concat([acted, received, in_voice], how="diagonal_relaxed")
        .group_by("guild_id", "period_start", "user_id")
        .agg(_member_totals())
        .select(MEMBER_ACTIVITY_COLUMNS)
    )


def _by_type_json() -> pl.Expr:
    """'{"by_type":{"TYPE":n,...}}' with types in sorted order, from per-type rows `type`, `n`."""
    name = (
        pl.col("type")
        .str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all('"', '\\"', literal=True)
    )
    entry = pl.format('"{}":{}', name, pl.col("n"))
    return pl.concat_str(pl.lit('{"by_type":{'), entry.sort_by("type").str.join(","), pl.lit("}}"))


def metrics_snapshots(
    events: pl.LazyFrame, members: pl.LazyFrame, *, every: timedelta
) -> pl.LazyFrame:
    """One row per (guild, window of `every`) with any activity: the metrics_snapshots table.

    `members` is member_activity's output at the same grain. Events without user_id count in
    the totals and in `data` (per-type counts, unknown types included) but not as users.
    """
    keys = ["guild_id", "period_start"]
    by_type = (
        events.group_by("guild_id", window_start("ts", every).alias("period_start"), "type")
        .agg(n=pl.len().cast(pl.Int64))
        .group_by(keys)
        .agg(
            pl.col("n").sum().alias("total_events"),
            *(
                pl.col("n").filter(pl.col("type") == kind).sum().alias(name)
                for name, kind in SNAPSHOT_TYPE_COUNTS.items()
            ),
            data=_by_type_json(),
        )
    )
    people = members.group_by(keys).agg(people_totals())
    return (
        by_type.join(people, on=keys, how="full", coalesce=True)
        .with_columns(
            *(pl.col(name).fill_null(0).cast(pl.Int64) for name in SNAPSHOT_EVENT_COUNTS),
            pl.col("voice_ms").fill_null(0),
            pl.col("unique_active_users").fill_null(0),
            pl.col("data").fill_null('{"by_type":{}}'),
            period_end=pl.col("period_start") + every,
        )
        .select(SNAPSHOT_COLUMNS)
    )


def people_totals() -> list[pl.Expr]:
    """Voice and distinct active users of member rows (one per user): a user with an event or voice time is active."""
    return [
        pl.col("voice_ms").sum().cast(pl.Int64).alias("voice_ms"),
        ((pl.col("events") > 0) | (pl.col("voice_ms") > 0))
        .sum()
        .cast(pl.Int64)
        .alias("unique_active_users"),
    ]


def combine_members(frames: pl.LazyFrame, *, keys: Sequence[str] = ("guild_id",)) -> pl.LazyFrame:
    """Member rows of any windows (mixed grains allowed) summed per (keys, user).

    The windows must not overlap, or their counts would be added twice.
    """
    return frames.group_by(*keys, "user_id").agg(_member_totals())


def lifetime_member_stats(daily_members: pl.LazyFrame) -> pl.LazyFrame:
    """member_stats rows: lifetime sums of a member's rows over all their days (daily or span rows)."""
    return combine_members(daily_members).select(
        "guild_id",
        "user_id",
        *(pl.col(member).alias(lifetime) for member, lifetime in LIFETIME_FROM_MEMBER.items()),
    )


def with_session_ends(lifetime: pl.LazyFrame, session_ends: pl.LazyFrame) -> pl.LazyFrame:
    """member_stats rows whose last voice (and so last seen) is at least their sessions' latest end.

    `session_ends` has guild_id, user_id, last_voice_at: each member's latest voice instant by
    their sessions, which may lie past the last day the daily rows cover.
    """
    latest = pl.col("session_last_voice_at")
    return (
        lifetime.join(
            session_ends.rename({"last_voice_at": "session_last_voice_at"}),
            on=["guild_id", "user_id"],
            how="left",
        )
        .with_columns(
            last_voice_at=pl.max_horizontal("last_voice_at", latest),
            last_seen=pl.max_horizontal("last_seen", latest),
        )
        .drop("session_last_voice_at")
    )
