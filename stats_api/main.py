"""The FastAPI application: `create_app(settings)` builds it, the lifespan owns pool and Redis."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from psycopg.errors import QueryCanceled
from psycopg_pool import PoolTimeout

from stats_api import metrics
from stats_api.api.openapi import install_docs
from stats_api.api.routes import (
    activity,
    dashboard,
    events,
    health,
    leaderboard,
    live,
    members,
    voice,
)
from stats_api.api.routes import metrics as metrics_route
from stats_api.errors import LogUnhandledErrors
from stats_api.in_flight import InFlight
from stats_api.ingest.idempotency import IdempotencyConflict
from stats_api.ingest.payload import PayloadError
from stats_api.ingest.store import EventStore
from stats_api.live.feed import LiveFeed, async_client
from stats_api.live.presence import LivePresence
from stats_api.metrics.platform import PlatformCollector
from stats_api.periods import PeriodError
from stats_api.ratelimit import BadKeyThrottle, RateLimiter
from stats_api.redis_gate import RedisGate
from stats_api.ui import routes as ui
from stats_platform.logs import configure_logging, configure_structlog, get_logger
from stats_platform.settings import Settings, get_settings
from stats_platform.storage.database import open_pool, resolve_database_url

log = get_logger("stats.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for `settings` (default: the environment). `uvicorn --factory stats_api.main:create_app`."""
    settings = settings or get_settings()
    if logging.getLogger().handlers:
        configure_structlog()
    else:
        # Started as `uvicorn --factory`, nothing set logging up; the CLI and pytest do.
        configure_logging(json_logs=settings.log_json)
    app = FastAPI(
        title="Discord stats platform",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    app.state.settings = settings
    app.add_middleware(LogUnhandledErrors)
    app.include_router(health.router)
    app.include_router(events.router)
    for stats in (dashboard, members, leaderboard, activity, voice, live):
        app.include_router(stats.router)
    app.include_router(ui.router)
    if settings.metrics:
        app.include_router(metrics_route.router)
        app.add_middleware(metrics.RequestMetrics)
    app.add_exception_handler(PayloadError, _payload_error)
    app.add_exception_handler(PeriodError, _period_error)
    app.add_exception_handler(IdempotencyConflict, _idempotency_conflict)
    app.add_exception_handler(QueryCanceled, _deadline_passed)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    url = resolve_database_url(settings)
    timeout = settings.db_pool_timeout_seconds
    pool = open_pool(url, max_size=settings.db_pool_size, timeout=timeout, name="stats-read")
    ingest_pool = open_pool(
        url, max_size=settings.db_ingest_pool_size, timeout=timeout, name="stats-ingest"
    )
    pool.open(wait=False)
    ingest_pool.open(wait=False)
    redis = RedisGate.from_url(settings.redis_url)
    app.state.pool = pool
    app.state.ingest_pool = ingest_pool
    app.state.redis = redis
    app.state.in_flight = InFlight()
    app.state.rate_limiter = RateLimiter(redis, settings.rate_limit_per_minute)
    app.state.bad_key_throttle = BadKeyThrottle(redis, settings.bad_key_limit_per_minute)
    app.state.live_presence = LivePresence(
        redis,
        cap=timedelta(hours=settings.voice_session_cap_hours),
        future=timedelta(seconds=settings.future_tolerance_seconds),
    )
    streams = async_client(settings.redis_url)
    app.state.live_feed = feed = LiveFeed(
        redis, streams, live.totals_builder(app.state), enabled=settings.live_push
    )
    app.state.platform_metrics = CollectorRegistry(auto_describe=False)
    app.state.platform_metrics.register(PlatformCollector(pool, redis))

    def committed(stored: list[list]) -> None:
        if settings.metrics:
            metrics.count_stored(stored)
        feed.notify({guild for guild, _, new, _ in stored if new})

    app.state.event_store = EventStore(
        ingest_pool,
        on_voice=app.state.live_presence.apply,
        on_commit=committed,
        statement_timeout_seconds=settings.ingest_statement_timeout_seconds,
    )
    feed.start()
    if settings.auth == "off":
        log.warning("STATS_AUTH=off: API keys are not checked; anyone can send and read events")
    try:
        yield
    finally:
        feed.stop()
        metrics.process_exiting()
        pool.close()
        ingest_pool.close()
        redis.close()
        await streams.aclose()


async def _payload_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PayloadError)
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


async def _period_error(request: Request, exc: Exception) -> JSONResponse:
    """The shape FastAPI gives query validation errors, naming the parameter."""
    assert isinstance(exc, PeriodError)
    detail = [{"loc": ["query", exc.param], "msg": str(exc), "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _idempotency_conflict(request: Request, exc: Exception) -> JSONResponse:
    detail = [{"loc": ["header", "Idempotency-Key"], "msg": str(exc), "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", path=request.url.path, error=str(exc))
    return JSONResponse(
        {"detail": "database unavailable; retry later"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _deadline_passed(request: Request, exc: Exception) -> JSONResponse:
    """A statement ran past its statement_timeout: the question is too costly, not the database down."""
    settings: Settings = request.app.state.settings
    log.warning("statement deadline passed", path=request.url.path, error=str(exc))
    return JSONResponse(
        {
            "detail": "the answer took longer than its deadline of"
            f" {settings.read_statement_timeout_seconds:g} s; ask for a shorter period"
            " or a coarser granularity, or retry later"
        },
        status_code=503,
        headers={"Retry-After": "5"},
    )
