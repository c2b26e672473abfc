"""Settings for every process of the platform, read once from STATS_* environment variables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stats_platform.domain.voice import DEFAULT_CAP

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/stats"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STATS_", extra="ignore")

    # None means "not configured": use DEFAULT_DATABASE_URL, or an embedded server if none answers.
    database_url: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    data_dir: Path = PROJECT_ROOT / ".data"
    timescaledb: Literal["auto", "on", "off"] = "auto"

    auth: Literal["on", "off"] = "on"
    env: Literal["development", "production", "test"] = "development"
    rate_limit_per_minute: int = Field(default=600, ge=1)
    # Bad keys one client address may present per clock minute before it is refused (429).
    bad_key_limit_per_minute: int = Field(default=20, ge=1)
    log_json: bool = False
    # Stats reads share db_pool_size connections; ingest and key lookups have a pool of their
    # own, so no number of slow readers can keep the bot's batches out.
    db_pool_size: int = Field(default=10, ge=1, le=200)
    api_workers: int = Field(default=2, ge=1, le=64)
    """API worker processes (uvicorn --workers); each has its own pools, the cache is Redis."""
    db_ingest_pool_size: int = Field(default=4, ge=1, le=50)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    max_batch_events: int = Field(default=5000, ge=1, le=5000)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=5 * 1024 * 1024)
    max_data_bytes: int = Field(default=16 * 1024, ge=1, le=16 * 1024)
    future_tolerance_seconds: int = Field(default=300, ge=0, le=300)
    # A request's headers, and an ingest body, must arrive within these: slow clients
    # (trickling a byte at a time) would otherwise hold connections for ever.
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    body_read_timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    raw_retention_days: int = Field(default=30, ge=1)
    snapshot_retention_days: int = Field(default=365, ge=1)
    five_minute_retention_days: int = Field(default=90, ge=1)
    voice_session_cap_hours: int = Field(default=DEFAULT_CAP // timedelta(hours=1), ge=1, le=24 * 7)
    # An ingest statement runs at most this long, so every event that arrived more than
    # settle_seconds ago is committed and visible: a run counts exactly those (covered_until).
    ingest_statement_timeout_seconds: int = Field(default=20, ge=1, le=300)
    # Each statement of a stats read runs at most this long, then the answer is a 503.
    read_statement_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    settle_seconds: int = Field(default=30, ge=1, le=3600)
    # How long after a 5-minute window closes its run waits for the bot's batches to land.
    batch_delay_seconds: int = Field(default=15, ge=0, le=300)

    # missed_windows_sensor: how far back it looks for windows never computed, and how long past
    # a window's due time it leaves the schedule's run to commit (docs/operations.md).
    missed_windows_lookback_minutes: int = Field(default=2 * 24 * 60, ge=5, le=60 * 24 * 60)
    missed_windows_grace_seconds: int = Field(default=120, ge=0, le=3600)

    # A migration waits at most this long for a lock, then lets the statements queued behind it
    # (ingest's INSERTs) through and tries again after a backoff (docs/operations.md, Migrations).
    migration_lock_timeout_ms: int = Field(default=2000, ge=10, le=60_000)
    migration_lock_attempts: int = Field(default=10, ge=1, le=1000)

    cache_ttl_seconds: int = Field(default=10, ge=0, le=3600)
    # Off only to measure what they cost (benchmarks/ingest --compare-live).
    live_push: bool = True
    metrics: bool = True
    failure_webhook_url: str | None = None

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("STATS_DATABASE_URL must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _no_open_auth_in_production(self) -> Settings:
        if self.auth == "off" and self.env == "production":
            raise ValueError(
                "STATS_AUTH=off is for local development; refused with STATS_ENV=production"
            )
        if self.five_minute_retention_days > self.snapshot_retention_days:
            raise ValueError(
                "STATS_FIVE_MINUTE_RETENTION_DAYS may not exceed STATS_SNAPSHOT_RETENTION_DAYS"
            )
        if self.settle_seconds <= self.ingest_statement_timeout_seconds:
            raise ValueError(
                "STATS_SETTLE_SECONDS must exceed STATS_INGEST_STATEMENT_TIMEOUT_SECONDS: a run"
                " would otherwise miss events of ingest transactions still committing"
            )
        return self


def raw_retention_horizon(now: datetime, retention_days: int) -> datetime:
    """UTC midnight of the oldest day whose raw events are all kept.

    Retention removes whole UTC days before this instant, never part of a day: every window
    from here on can be recomputed, and voice replayed from this midnight's checkpoint, exactly.
    """
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=retention_days)


def get_settings() -> Settings:
    return Settings()
