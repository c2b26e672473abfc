"""GET /v1/guilds/{guildId}/stats/members and members/{userId}: lifetime member rows."""

from __future__ import annotations

from math import ceil
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, HTTPException, Path, Query, Response

from stats_api import figures
from stats_api.api.params import MemberListQuery, PeriodQuery
from stats_api.api.responder import ERRORS, Snapshot, StatsDep, meta
from stats_api.schemas import SNOWFLAKE_PATTERN, MemberDetail, MemberList
from stats_platform.domain.snowflakes import normalize_snowflake

router = APIRouter(prefix="/v1/guilds/{guildId}/stats/members", tags=["stats"])
UserIdPath = Annotated[
    str,
    Path(alias="userId", pattern=SNOWFLAKE_PATTERN, description="a snowflake", examples=["42"]),
]


@router.get("", response_model=MemberList, responses=ERRORS)
def list_members(stats: StatsDep, query: Annotated[MemberListQuery, Query()]) -> Response:
    """Lifetime rows of the guild's members, filtered, sorted and paged; ties always by userId
    ascending, so pages never overlap. A page past the last is empty. The period is everything
    kept: from the guild's first data to now."""
    params = query.model_dump(mode="json", by_alias=True)
    return stats.respond("members", params, lambda snap: _member_list(snap, query))


@router.get("/{userId}", response_model=MemberDetail, responses=ERRORS)
def member(
    stats: StatsDep, user_id: UserIdPath, query: Annotated[PeriodQuery, Query()]
) -> Response:
    """One member's lifetime row, and in `activity` their totals in the period. 404 when the
    guild has no such member."""
    user = normalize_snowflake(user_id) or user_id
    params = {"userId": user, **query.model_dump(mode="json", by_alias=True)}
    return stats.respond("member", params, lambda snap: _member(snap, user, query))


def _member_list(snap: Snapshot, query: MemberListQuery) -> MemberList:
    rows, total = figures.member_page(
        snap.lifetime(),
        guild_id=snap.guild_id,
        now=snap.now,
        sort_by=query.sort_by,
        descending=query.sort_order == "desc",
        page=query.page,
        page_size=query.page_size,
        min_messages=query.min_messages,
        min_voice_minutes=query.min_voice_minutes,
        active_only=query.active_only,
    )
    everything, _ = snap.time_range(PeriodQuery(period="all"))
    return MemberList.model_validate(
        {
            **meta(everything, snap.newest, "exact"),
            "members": rows,
            "pagination": {
                "total": total,
                "page": query.page,
                "pageSize": query.page_size,
                "totalPages": ceil(total / query.page_size),
            },
        }
    )


def _member(snap: Snapshot, user: str, query: PeriodQuery) -> MemberDetail:
    asked, _ = snap.time_range(query)
    found = snap.lifetime_and_periods([(asked.start, asked.end)])
    lifetime = found.lifetime.filter(pl.col("user_id") == user)
    if lifetime.height == 0:
        raise HTTPException(404, f"member {user} not found in guild {snap.guild_id}")
    mine = found.periods.filter(pl.col("user_id") == user).to_dicts()
    return MemberDetail.model_validate(
        {
            # The lifetime row counts everything stored, so the guild's newest arrival.
            **meta(asked, snap.newest, found.resolution),
            **figures.member_row(lifetime.row(0, named=True), snap.guild_id),
            "activity": _period_activity(mine[0] if mine else None),
        }
    )


def _period_activity(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {
            "totalMessages": 0, "totalVoiceMinutes": 0, "totalReactionsGiven": 0,
            "totalReactionsReceived": 0, "lastMessageAt": None, "lastVoiceAt": None, "lastSeen": None,
        }  # fmt: skip
    return {
        "totalMessages": row["messages"],
        "totalVoiceMinutes": figures.minutes(row["voice_ms"]),
        "totalReactionsGiven": row["reactions_given"],
        "totalReactionsReceived": row["reactions_received"],
        "lastMessageAt": figures.iso_or_null(row["last_message_at"]),
        "lastVoiceAt": figures.iso_or_null(row["last_voice_at"]),
        "lastSeen": figures.iso_or_null(row["last_seen"]),
    }
