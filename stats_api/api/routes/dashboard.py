"""GET /v1/guilds/{guildId}/stats/dashboard: a period's totals against the previous period."""

from __future__ import annotations

from typing import Annotated

import polars as pl
from fastapi import APIRouter, Query, Response

from stats_api import figures
from stats_api.api.params import PeriodQuery
from stats_api.api.responder import ERRORS, Snapshot, StatsDep, meta
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
    # One pass for both periods: one coverage plan, and the raw edge they share replayed once.
    spans = [(asked.start, asked.end)]
    if previous is not None:
        spans.append((previous.start, previous.end))
    found = snap.activity(spans)
    totals = figures.period_totals(found.totals.row(0, named=True))
    before = None if previous is None else figures.period_totals(found.totals.row(1, named=True))
    return Dashboard.model_validate(
        {
            **meta(asked, found.data_as_of, found.resolutions[0]),
            **totals,
            **figures.changes(totals, before),
            "topMembers": figures.top_members(found.members.filter(pl.col("bucket") == 0)),
        }
    )
