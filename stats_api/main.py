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
from stats_api.ingest.payload import PayloadError
from stats_api.ingest.store import EventStore
from stats_api.ingest.validate import EventRow
from stats_api.live.feed import LiveFeed, async_client
from stats_api.live.presence import LivePresence
from stats_api.metrics.platform import PlatformCollector
from stats_api.periods import PeriodError
from stats_api.ratelimit import RateLimiter
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
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    pool = open_pool(
        resolve_database_url(settings),
        max_size=settings.db_pool_size,
        timeout=settings.db_pool_timeout_seconds,
    )
    pool.open(wait=False)
    redis = RedisGate.from_url(settings.redis_url)
    app.state.pool = pool
    app.state.redis = redis
    app.state.rate_limiter = RateLimiter(redis, settings.rate_limit_per_minute)
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

    def committed(rows: list[EventRow], stored: list[list]) -> None:
        if settings.metrics:
            metrics.count_stored(rows, stored)
        feed.notify({guild for guild, _, _ in stored})

    app.state.event_store = EventStore(
        pool, on_voice=app.state.live_presence.apply, on_commit=committed
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


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", path=request.url.path, error=str(exc))
    return JSONResponse(
        {"detail": "database unavailable; retry later"},
        status_code=503,
        headers={"Retry-After": "5"},
    )
