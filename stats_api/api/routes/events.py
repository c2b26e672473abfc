"""POST /v1/events: the bot's way in (contract §1)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from stats_api import metrics
from stats_api.api.deps import EventStoreDep, IngestKeyDep, SettingsDep
from stats_api.ingest.idempotency import Receipt
from stats_api.ingest.payload import BoundedBody, parse_events
from stats_api.ingest.validate import Limits, batch_guilds, validate_batch
from stats_api.schemas import EventIn, IngestResult
from stats_platform.logs import get_logger
from stats_platform.storage.api_keys import ApiKey

router = APIRouter(prefix="/v1/events", tags=["events"])
log = get_logger("stats.ingest")

_BATCH_SCHEMA = {
    "oneOf": [
        {"type": "array", "items": EventIn.model_json_schema()},
        {
            "type": "object",
            "properties": {"events": {"type": "array", "items": EventIn.model_json_schema()}},
            "required": ["events"],
        },
    ]
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": 'malformed JSON, or not an array / {"events": [...]}'},
    401: {"description": "no key, or a bad or revoked one"},
    403: {"description": "the key may not send events for a guild in the batch"},
    408: {"description": "the body did not arrive within STATS_BODY_READ_TIMEOUT_SECONDS"},
    413: {"description": "more than 5,000 events or 5 MiB decoded"},
    415: {
        "description": "Content-Type is not application/json, or an unsupported Content-Encoding"
    },
    429: {
        "description": "over the key's rate, or too many bad keys from this address; see Retry-After"
    },
    503: {"description": "database unreachable; nothing of the batch was acknowledged"},
}


async def read_event_body(request: Request, settings: SettingsDep) -> bytes:
    """The decoded body, read only as far as the size limit allows."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise HTTPException(415, "Content-Type must be application/json")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise HTTPException(415, "Content-Encoding must be gzip or absent")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_body_bytes:
        raise HTTPException(413, f"body is larger than {settings.max_body_bytes} bytes")
    body = BoundedBody(settings.max_body_bytes, gzip=encoding == "gzip")
    try:
        async with asyncio.timeout(settings.body_read_timeout_seconds):
            async for chunk in request.stream():
                body.feed(chunk)
    except TimeoutError:
        raise HTTPException(
            408,
            f"body not received within {settings.body_read_timeout_seconds:g} s",
            headers={"Connection": "close"},
        ) from None
    return body.result()


EventBodyDep = Annotated[bytes, Depends(read_event_body)]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="optional: a retry with the same key and body gets the first answer back"
        " (kept 24 hours, per API key); the same key with another body is a 422",
        examples=["batch-2024-05-01T12:00:00Z-7"],
    ),
]


@router.post(
    "",
    status_code=202,
    response_model=IngestResult,
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BATCH_SCHEMA}},
        }
    },
)
def post_events(
    key: IngestKeyDep,
    body: EventBodyDep,
    settings: SettingsDep,
    store: EventStoreDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    """Validate a batch event by event and store the valid ones; answers once they are committed."""
    started = time.perf_counter()
    receipt = None
    if idempotency_key is not None:
        receipt = Receipt.of(key.key_id if key else None, idempotency_key, body)
        first = store.first_answer(receipt)
        if first is not None:
            return _replayed(first)
    events = parse_events(body, max_events=settings.max_batch_events)
    if key is not None:
        _require_guilds(key, batch_guilds(events))
    batch = validate_batch(events, Limits.at(time.time_ns() // 1_000_000, settings))
    metrics.count_rejected(events, batch)
    answer, replayed = store.store_answered(
        batch.rows,
        lambda inserted: IngestResult.model_validate(
            {
                "accepted": inserted,
                "duplicates": len(batch.rows) - inserted,
                "rejected": batch.rejected,
                "errors": batch.errors,
            }
        ).model_dump(),
        receipt,
    )
    if replayed:
        return _replayed(answer)
    log.info(
        "events ingested",
        key_id=key.key_id if key else None,
        accepted=answer["accepted"],
        duplicates=answer["duplicates"],
        rejected=answer["rejected"],
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return answer


def _replayed(answer: dict[str, Any]) -> JSONResponse:
    return JSONResponse(answer, status_code=202, headers={"Idempotent-Replayed": "true"})


def _require_guilds(key: ApiKey, guilds: list[str]) -> None:
    denied = key.denied_guilds(guilds)
    if denied:
        noun = "guild" if len(denied) == 1 else "guilds"
        raise HTTPException(
            403, f"API key {key.key_id} may not send events for {noun} {', '.join(denied)}"
        )
