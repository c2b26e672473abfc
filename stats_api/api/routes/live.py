"""GET /v1/guilds/{guildId}/stats/live: today's totals and live voice, pushed as Server-Sent Events."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from redis import RedisError

from stats_api import metrics
from stats_api.api.deps import ReadGuildDep
from stats_api.api.params import PeriodQuery
from stats_api.api.responder import ERRORS, StatsResponder
from stats_api.api.routes.dashboard import dashboard_answer
from stats_api.api.routes.voice import live_voice_answer
from stats_api.live.feed import Build, LiveFeed, LiveState
from stats_api.schemas import LiveCards, LiveTotals
from stats_platform.domain.instants import epoch_us_of

router = APIRouter(prefix="/v1/guilds/{guildId}/stats", tags=["stats"])

TODAY = PeriodQuery(period="today")
RETRY_MS = 5000
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")
UNAVAILABLE = (
    "live push needs Redis, which is unavailable: poll dashboard?period=today and voice/live"
)


@dataclass(frozen=True)
class OpenedStream:
    guild_id: str
    cursor: str  # the stream id after which entries are sent
    first: ServerSentEvent | None  # the current state, unless the page resumes a replay


def totals_builder(state: Any) -> Build:
    """The live event of a guild, from the dashboard's and voice/live's own code, in one snapshot."""

    def build(guild_id: str) -> LiveState:
        with state.pool.connection() as conn:
            responder = StatsResponder(guild_id, conn, state.redis, state.settings)
            with responder.snapshot() as snap:
                dashboard = dashboard_answer(snap, TODAY)
                voice = live_voice_answer(snap, state.live_presence)
                newest = snap.newest
        cards = LiveCards.model_validate({f: getattr(dashboard, f) for f in LiveCards.model_fields})
        event = LiveTotals.model_validate(
            {
                "guildId": guild_id,
                "day": {"from": dashboard.period_start, "to": dashboard.period_end},
                "dataAsOf": dashboard.data_as_of,
                "totals": cards,
                "voice": voice,
            }
        )
        body = event.model_dump(mode="json", by_alias=True)
        shown = [body["day"]["from"], body["totals"], body["voice"]]
        digest = orjson.dumps(shown, option=orjson.OPT_SORT_KEYS)
        return LiveState(
            newest_us=0 if newest is None else epoch_us_of(newest),
            digest=hashlib.sha256(digest).hexdigest()[:32],
            data=orjson.dumps(body),
        )

    return build


def open_stream(
    guild_id: ReadGuildDep,
    request: Request,
    last_event_id: Annotated[str | None, Header(description="resume after this event id")] = None,
) -> OpenedStream:
    """Checks key, guild and Redis before the stream starts, so they answer with a status."""
    feed: LiveFeed = request.app.state.live_feed
    was_watched = feed.watch(guild_id)
    if was_watched is None:
        raise HTTPException(503, UNAVAILABLE, headers={"Retry-After": "30"})
    # While the guild was watched every state was published, so a replay misses nothing.
    if last_event_id and STREAM_ID.fullmatch(last_event_id) and was_watched:
        return OpenedStream(guild_id, last_event_id, None)
    newest = feed.publish(guild_id)  # 404 for a guild no table knows
    if newest is None:
        raise HTTPException(503, UNAVAILABLE, headers={"Retry-After": "30"})
    entry_id, data = newest
    return OpenedStream(guild_id, entry_id, totals_event(entry_id, data))


def totals_event(event_id: str, data: bytes) -> ServerSentEvent:
    return ServerSentEvent(event="totals", id=event_id, raw_data=data.decode())


@router.get(
    "/live",
    response_class=EventSourceResponse,
    responses={
        **ERRORS,
        200: {"content": {"text/event-stream": {"schema": LiveTotals.model_json_schema()}}},
        503: {"description": "Redis is unavailable: poll the dashboard and voice/live instead"},
    },
)
async def live_stream(
    opened: Annotated[OpenedStream, Depends(open_stream)], request: Request
) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: first a `retry:` hint and a `totals` event with the current state
    (unless `Last-Event-ID` resumes), then one `totals` event per state after committed
    batches (`data`: today's dashboard totals in UTC and live voice, see LiveTotals), `: ping`
    comments after 15 s of silence, and `event: unavailable` before closing if Redis goes away."""
    feed: LiveFeed = request.app.state.live_feed
    yield ServerSentEvent(retry=RETRY_MS, comment=f"live totals of guild {opened.guild_id}")
    if opened.first is not None:
        yield opened.first
    cursor = opened.cursor
    with metrics.open_stream():
        while True:
            try:
                entries = await feed.entries_after(opened.guild_id, cursor)
            except (RedisError, OSError):
                yield ServerSentEvent(event="unavailable", data={"detail": UNAVAILABLE})
                return
            for entry_id, data in entries:
                cursor = entry_id
                yield totals_event(entry_id, data)
