"""GET /v1/guilds/{guildId}/stats/dashboard: a period's totals against the previous period."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from stats_api import figures
from stats_api.api.params import PeriodQuery
from stats_api.api.responder import ERRORS, Snapshot, StatsDep, meta
from stats_api.engine.computed import newest
from stats_api.schemas import Dashboard

router = APIRouter(prefix="/v1/guilds/{guildId}/stats", tags=["stats"])


@router.get("/dashboard", response_model=Dashboard, responses=ERRORS)
def dashboard(stats: StatsDep, query: Annotated[PeriodQuery, Query()]) -> Response:
    """Totals of the period, their percent change against the previous period of the same
    length (null for `all` or when the previous period had none) and the top 3 members by
    messages. `resolution` describes the period itself; the previous period may rest on
    coarser rollups when it lies beyond the raw-event retention."""
    params = query.model_dump(mode="json", by_alias=True)
    return stats.respond("dashboard", params, lambda snap: dashboard_answer(snap, query))


def dashboard_answer(snap: Snapshot, query: PeriodQuery) -> Dashboard:
    """The dashboard of `query` in `snap` (also the live stream's totals)."""
    asked, previous = snap.time_range(query)
    current = snap.activity([(asked.start, asked.end)])
    totals = figures.period_totals(current.totals.row(0, named=True))
    before, as_of = None, current.data_as_of
    if previous is not None:
        earlier = snap.activity([(previous.start, previous.end)])
        before = figures.period_totals(earlier.totals.row(0, named=True))
        as_of = newest([as_of, earlier.data_as_of])
    return Dashboard.model_validate(
        {
            **meta(asked, as_of, current.resolution),
            **totals,
            **figures.changes(totals, before),
            "topMembers": figures.top_members(current.members),
        }
    )
