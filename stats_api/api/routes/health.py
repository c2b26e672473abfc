"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Literal

import psycopg
from fastapi import APIRouter, Response
from psycopg_pool import PoolTimeout

from stats_api.api.deps import IngestPoolDep, RedisDep
from stats_api.schemas import Health, Readiness
from stats_platform.storage.migrations import is_current

router = APIRouter(tags=["health"])

# A probe answers quickly or not at all: do not queue behind busy requests for long.
READINESS_TIMEOUT_SECONDS = 1.0


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(response: Response, pool: IngestPoolDep, redis: RedisDep) -> Readiness:
    """Ready when the database answers and its schema is current; Redis is reported, not required.

    Asked on ingest's pool: busy readers do not make the instance look down."""
    database, migrations = _database_state(pool)
    ready = database == "ok" and migrations == "current"
    response.status_code = 200 if ready else 503
    return Readiness(
        status="ready" if ready else "unavailable",
        database=database,
        migrations=migrations,
        redis="ok" if redis.ping() else "unavailable",
    )


def _database_state(
    pool: IngestPoolDep,
) -> tuple[Literal["ok", "unavailable"], Literal["current", "outdated", "unknown"]]:
    try:
        with pool.connection(timeout=READINESS_TIMEOUT_SECONDS) as conn:
            return "ok", "current" if is_current(conn) else "outdated"
    except (PoolTimeout, psycopg.Error):
        return "unavailable", "unknown"
