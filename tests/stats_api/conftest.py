"""The API under test: built per test from test Settings, on the session's database and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import psycopg
import pytest
import redis
from api_testkit import GUILD, OTHER_GUILD, PROJECT_ROOT, Api, free_port, now_ms, wait_ready
from fastapi.testclient import TestClient

from stats_api.main import create_app
from stats_platform.settings import Settings
from stats_platform.storage.api_keys import create_key
from stats_platform.storage.database import create_database_if_missing, drop_database, with_database

# What the API writes. The other data tables are not touched by these tests.
API_TABLES = ("events", "window_arrivals", "api_keys")


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
def redis_url(redis_client: redis.Redis) -> str:
    """The test Redis server, in the database next to the one redis_client empties.

    The API's keys are namespaced by random key ids, so they need no emptying; and test runs
    sharing a machine FLUSHDB the fixture's database often enough to reset a rate-limit
    counter in the middle of a test.
    """
    params = redis_client.connection_pool.connection_kwargs
    database = params["db"] - 1 if params["db"] else 1
    return f"redis://{params['host']}:{params['port']}/{database}"


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    return Settings(database_url=database_url, redis_url=redis_url, env="test", auth="on")


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


@pytest.fixture
def fresh_database_url(database_url: str) -> Iterator[str]:
    """An empty database of its own (no migrations) on the test server, dropped afterwards."""
    url = with_database(database_url, f"stats_test_{uuid.uuid4().hex[:10]}")
    create_database_if_missing(url)
    yield url
    drop_database(url)


@pytest.fixture
def start_api(fresh_database_url: str, redis_url: str) -> Iterator[Callable[..., Api]]:
    """Serves the API (`stats-platform serve`, which migrates) on a free port of its own.

    `start(auth="on"|"off", **env)`: env adds STATS_* settings of that server.
    """
    processes: list[subprocess.Popen] = []

    def start(*, auth: str, **settings: str) -> Api:
        port = free_port()
        env = {
            **os.environ,
            "STATS_DATABASE_URL": fresh_database_url,
            "STATS_REDIS_URL": redis_url,
            "STATS_AUTH": auth,
            **settings,
        }
        command = [sys.executable, "-m", "stats_platform.tools.cli", "serve", "--port", str(port)]
        processes.append(
            subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/readyz")
        return Api(url, fresh_database_url)

    yield start
    for process in processes:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
