"""GET /v1/guilds/{guildId}/stats/leaderboard: members ranked within a period."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from stats_api import figures
from stats_api.api.params import LeaderboardQuery
from stats_api.api.responder import ERRORS, Snapshot, StatsDep, meta
from stats_api.schemas import Leaderboard

router = APIRouter(prefix="/v1/guilds/{guildId}/stats", tags=["stats"])


@router.get("/leaderboard", response_model=Leaderboard, responses=ERRORS)
def leaderboard(stats: StatsDep, query: Annotated[LeaderboardQuery, Query()]) -> Response:
    """Members with a positive score in the period, higher first, ties by userId ascending;
    ranks 1..n without gaps, badges gold, silver and bronze for ranks 1-3."""
    params = query.model_dump(mode="json", by_alias=True)
    return stats.respond("leaderboard", params, lambda snap: _leaderboard(snap, query))


def _leaderboard(snap: Snapshot, query: LeaderboardQuery) -> Leaderboard:
    asked, _ = snap.time_range(query)
    found = snap.activity([(asked.start, asked.end)])
    return Leaderboard.model_validate(
        {
            **meta(asked, found.data_as_of, found.resolution),
            "category": query.category,
            "entries": figures.leaderboard(found.members, query.category, query.limit),
        }
    )
