"""Every test runs against real PostgreSQL and Redis: a database of its own, created and dropped here."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis

from stats_platform.storage.database import create_database_if_missing, drop_database, with_database
from stats_platform.storage.migrations import migrate

SERVER_URL = os.environ.get(
    "STATS_TEST_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("STATS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# Tables holding data (not schema_migrations, platform_settings): emptied between tests.
DATA_TABLES = (
    "events",
    "api_keys",
    "metrics_snapshots",
    "member_activity",
    "member_stats",
    "computed_windows",
    "window_arrivals",
    "voice_sessions",
    "voice_checkpoints",
    "voice_checkpoint_marks",
)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = with_database(SERVER_URL, f"stats_test_{uuid.uuid4().hex[:10]}")
    create_database_if_missing(url)
    migrate(url)
    yield url
    drop_database(url)


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a migrated database whose data tables start empty."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(DATA_TABLES))
        yield conn


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
