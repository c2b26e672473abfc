"""Every test runs against real PostgreSQL and Redis: a database of its own, created and dropped here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
import redis

from stats_platform.storage.database import create_database_if_missing, drop_database, with_database
from stats_platform.storage.migrations import migrate
from tests.testkit.api import PROJECT_ROOT, Api, free_port, wait_ready

SERVER_URL = os.environ.get(
    "STATS_TEST_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("STATS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# Tables holding data (not schema_migrations, platform_settings): emptied between tests.
DATA_TABLES = (
    "events",
    "api_keys",
    "metrics_snapshots",
    "member_blocks",
    "member_stats_blocks",
    "member_stats",
    "computed_windows",
    "window_arrivals",
    "voice_sessions",
    "voice_checkpoints",
    "voice_checkpoint_marks",
    "ingest_idempotency",
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
