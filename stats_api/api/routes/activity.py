"""GET /v1/guilds/{guildId}/stats/activity: a period as a series of buckets aligned to `tz`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from stats_api import figures, periods
from stats_api.api.params import ActivityQuery
from stats_api.api.responder import ERRORS, Snapshot, StatsDep, meta
from stats_api.schemas import ActivitySeries
from stats_platform.domain.instants import iso_z

router = APIRouter(prefix="/v1/guilds/{guildId}/stats", tags=["stats"])


@router.get("/activity", response_model=ActivitySeries, responses=ERRORS)
def activity(stats: StatsDep, query: Annotated[ActivityQuery, Query()]) -> Response:
    """One data point per bucket from periodStart to periodEnd, empty buckets as zeros. A
    bucket's timestamp is its start in `tz`; the first bucket counts from periodStart only, so
    the buckets add up to the period's totals (distinct users excepted)."""
    params = query.model_dump(mode="json", by_alias=True)
    return stats.respond("activity", params, lambda snap: _activity(snap, query))


def _activity(snap: Snapshot, query: ActivityQuery) -> ActivitySeries:
    asked, _ = snap.time_range(query)
    labelled = periods.buckets(asked, query.granularity, periods.zone_of(query.tz))
    found = snap.activity(
        [(max(label, asked.start), end) for label, end in labelled], members=False
    )
    return ActivitySeries.model_validate(
        {
            **meta(asked, found.data_as_of, found.resolution),
            "granularity": query.granularity,
            "dataPoints": [
                _data_point(label, totals)
                for (label, _), totals in zip(labelled, found.totals.to_dicts(), strict=True)
            ],
        }
    )


def _data_point(label: datetime, totals: dict[str, int]) -> dict[str, object]:
    counted = figures.period_totals(totals)
    return {
        "timestamp": iso_z(label),
        "totalMessages": counted["totalMessages"],
        "totalVoiceMinutes": counted["totalVoiceMinutes"],
        "totalReactions": counted["totalReactions"],
        "uniqueActiveUsers": counted["uniqueActiveUsers"],
        "joins": counted["newMembers"],
        "leaves": counted["leftMembers"],
    }
