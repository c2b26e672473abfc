"""The API under test: built per test from test Settings, on the session's database and Redis.

The fixtures of a served API (redis_url, fresh_database_url, start_api) are in tests/conftest.py:
the tools' tests under tests/stats_platform start it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient

from stats_api.main import create_app
from stats_platform.settings import Settings
from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD, OTHER_GUILD, now_ms

# What the API writes. The other data tables are not touched by these tests.
API_TABLES = ("events", "window_arrivals", "api_keys", "ingest_idempotency")


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """The root fixture's contract (autocommit, data tables empty) at a fraction of its cost.

    TRUNCATE of the partitioned events table takes about a second; these tests hold a few rows,
    which DELETE removes in milliseconds.
    """
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in API_TABLES:
            conn.execute(f"DELETE FROM {table}")
        yield conn


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    # Every TestClient is the address "testclient": the bad-key throttle has its own test.
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        env="test",
        auth="on",
        bad_key_limit_per_minute=100_000,
    )


@pytest.fixture
def make_client(settings: Settings, db: psycopg.Connection) -> Iterator[Callable[..., TestClient]]:
    """Builds (and starts) an app whose settings differ from the test defaults by **overrides."""
    started: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(settings.model_copy(update=overrides)))
        client.__enter__()
        started.append(client)
        return client

    yield make
    for client in started:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def ingest_key(db: psycopg.Connection) -> str:
    """A key that may send events for GUILD and OTHER_GUILD."""
    return create_key(db, scope="ingest", guild_ids=[GUILD, OTHER_GUILD], name="bot")[1]


@pytest.fixture
def post(client: TestClient, ingest_key: str) -> Callable[..., httpx.Response]:
    """POSTs a batch (any JSON value) as the bot would; headers override the defaults."""

    def send(
        batch: Any, *, via: TestClient | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        merged = {"Content-Type": "application/json", "Authorization": f"Bearer {ingest_key}"}
        merged.update(headers or {})
        return (via or client).post("/v1/events", content=orjson.dumps(batch), headers=merged)

    return send


@pytest.fixture
def event() -> Callable[..., dict[str, Any]]:
    """A valid MESSAGE_CREATE a minute old, with fields replaced (or, set to ..., removed)."""
    stamp = now_ms() - 60_000

    def make(**fields: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "type": "MESSAGE_CREATE",
            "guildId": GUILD,
            "userId": "42",
            "timestamp": stamp,
        }
        base.update(fields)
        return {k: v for k, v in base.items() if v is not ...}

    return make
