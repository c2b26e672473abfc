"""Response models of the ingestion and health endpoints (and the documented shape of an event)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class EventIn(BaseModel):
    """One event as the bot sends it. Documentation only: the endpoint checks events with
    plain code (stats_api.ingest.validate), because it is the hot path."""

    id: str | None = Field(default=None, max_length=64, description="idempotency key")
    type: str = Field(description="a known event type or any UPPER_SNAKE name")
    guildId: str = Field(pattern=r"^[0-9]{1,20}$")
    userId: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    channelId: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    messageId: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    roleId: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    shardId: int | None = Field(default=None, ge=0)
    timestamp: int | str = Field(description="epoch milliseconds, or ISO-8601 with an offset")
    data: dict[str, Any] | None = Field(
        default=None, description="free JSON, at most 16 KiB encoded"
    )


class IngestError(BaseModel):
    index: int = Field(description="position of the event in the batch, from 0")
    field: str = Field(description="the event field at fault, or `event` when it is not an object")
    message: str = Field(description="the rule the field breaks")


class IngestResult(BaseModel):
    accepted: int = Field(description="events stored by this request")
    duplicates: int = Field(description="valid events already stored (or repeated in the batch)")
    rejected: int = Field(description="events that broke a rule; see errors")
    errors: list[IngestError]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    database: Literal["ok", "unavailable"]
    migrations: Literal["current", "outdated", "unknown"]
    redis: Literal["ok", "unavailable"] = Field(description="optional: the API works without it")
