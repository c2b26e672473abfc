"""Turning exact activity into the numbers contract §3 promises: changes, rankings, pages, buckets."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from math import floor
from typing import Any, Literal

import polars as pl

from stats_platform.domain.instants import iso_z
from stats_platform.transforms.common import snowflake_order

MS_PER_MINUTE = 60_000
Category = Literal["messages", "voice", "reactions", "overall"]
SortBy = Literal["messages", "voice", "reactions", "lastSeen"]

_LEADERBOARD_SCORE = {
    "messages": pl.col("messages"),
    "voice": pl.col("voice_ms") // MS_PER_MINUTE,
    "reactions": pl.col("reactions_given"),
    "overall": pl.col("messages") + pl.col("voice_ms") // MS_PER_MINUTE + pl.col("reactions_given"),
}
# Voice sorts by the minutes shown, so members with equal minutes tie and go by userId.
_MEMBER_SORT = {
    "messages": pl.col("total_messages"),
    "voice": pl.col("total_voice_ms") // MS_PER_MINUTE,
    "reactions": pl.col("total_reactions_given"),
    "lastSeen": pl.col("last_seen"),
}
BADGES = {1: "gold", 2: "silver", 3: "bronze"}


def percent_change(current: int, previous: int | None) -> int | None:
    """round((cur - prev) / prev * 100), halves away from zero; None when there is no base."""
    if not previous:
        return None
    ratio = Fraction(current - previous, previous) * 100
    magnitude = floor(abs(ratio) + Fraction(1, 2))
    return magnitude if ratio >= 0 else -magnitude


def minutes(voice_ms: int) -> int:
    return voice_ms // MS_PER_MINUTE


def period_totals(totals: dict[str, int]) -> dict[str, int]:
    return {
        "totalMessages": totals["total_messages"],
        "totalVoiceMinutes": minutes(totals["voice_ms"]),
        "totalReactions": totals["total_reactions"],
        "uniqueActiveUsers": totals["unique_active_users"],
        "newMembers": totals["joins"],
        "leftMembers": totals["leaves"],
    }


def changes(current: dict[str, int], previous: dict[str, int] | None) -> dict[str, int | None]:
    keys = {
        "messagesChange": "totalMessages",
        "voiceMinutesChange": "totalVoiceMinutes",
        "reactionsChange": "totalReactions",
        "activeUsersChange": "uniqueActiveUsers",
    }
    return {
        k: percent_change(current[v], previous[v] if previous else None) for k, v in keys.items()
    }


def top_members(members: pl.DataFrame, n: int = 3) -> list[dict[str, Any]]:
    """The n members with most messages (at least one), ties by userId ascending."""
    ranked = members.filter(pl.col("messages") > 0).sort(
        [pl.col("messages"), *snowflake_order("user_id")], descending=[True, False, False]
    )
    return [
        {
            "userId": r["user_id"],
            "totalMessages": r["messages"],
            "totalVoiceMinutes": minutes(r["voice_ms"]),
        }
        for r in ranked.head(n).to_dicts()
    ]


def leaderboard(members: pl.DataFrame, category: Category, limit: int) -> list[dict[str, Any]]:
    """Members with a positive score, higher first, ties by userId ascending, ranks 1..n."""
    ranked = (
        members.with_columns(score=_LEADERBOARD_SCORE[category])
        .filter(pl.col("score") > 0)
        .sort([pl.col("score"), *snowflake_order("user_id")], descending=[True, False, False])
        .head(limit)
    )
    return [
        {
            "rank": rank,
            "userId": r["user_id"],
            "score": r["score"],
            "totalMessages": r["messages"],
            "totalVoiceMinutes": minutes(r["voice_ms"]),
            "totalReactions": r["reactions_given"],
            "badge": BADGES.get(rank),
        }
        for rank, r in enumerate(ranked.to_dicts(), start=1)
    ]


def member_page(
    lifetime: pl.DataFrame,
    *,
    guild_id: str,
    now: datetime,
    sort_by: SortBy,
    descending: bool,
    page: int,
    page_size: int,
    min_messages: int | None,
    min_voice_minutes: int | None,
    active_only: bool,
) -> tuple[list[dict[str, Any]], int]:
    """One page of lifetime rows and the total after filters; ties always by userId ascending."""
    rows = lifetime
    if min_messages is not None:
        rows = rows.filter(pl.col("total_messages") >= min_messages)
    if min_voice_minutes is not None:
        rows = rows.filter(pl.col("total_voice_ms") >= min_voice_minutes * MS_PER_MINUTE)
    if active_only:
        rows = rows.filter(pl.col("last_seen") >= now - timedelta(days=7))
    key = _MEMBER_SORT[sort_by]
    rows = rows.sort(
        [key, *snowflake_order("user_id")], descending=[descending, False, False], nulls_last=True
    )
    chunk = rows.slice((page - 1) * page_size, page_size)
    return [member_row(r, guild_id) for r in chunk.to_dicts()], rows.height


def member_row(r: dict[str, Any], guild_id: str) -> dict[str, Any]:
    return {
        "userId": r["user_id"],
        "guildId": guild_id,
        "totalMessages": r["total_messages"],
        "totalVoiceMinutes": minutes(r["total_voice_ms"]),
        "totalReactionsGiven": r["total_reactions_given"],
        "totalReactionsReceived": r["total_reactions_received"],
        "lastMessageAt": iso_or_null(r["last_message_at"]),
        "lastVoiceAt": iso_or_null(r["last_voice_at"]),
        "lastSeen": iso_or_null(r["last_seen"]),
        "joinedAt": iso_or_null(r["joined_at"]),
    }


def iso_or_null(at: datetime | None) -> str | None:
    """An instant as the answers print it, or null."""
    return iso_z(at) if at is not None else None
