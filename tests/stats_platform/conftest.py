"""Fixtures of the pipeline tests: a fixed recent day, events stored like ingestion, run resources."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest
from platform_testkit import Event, run_resources, store_events
from psycopg import sql


@pytest.fixture
def base() -> datetime:
    """UTC midnight three days ago: inside every partition set, and every test window closed."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=3)


@pytest.fixture
def t(base: datetime) -> Callable[..., datetime]:
    """t(hours, minutes=0, seconds=0): that long after `base`."""

    def at(hours: float, minutes: float = 0, seconds: float = 0) -> datetime:
        return base + timedelta(hours=hours, minutes=minutes, seconds=seconds)

    return at


@pytest.fixture
def store(db: psycopg.Connection) -> Callable[..., int]:
    def _store(*events: Event) -> int:
        return store_events(db, events)

    return _store


@pytest.fixture
def resources(database_url: str) -> dict[str, object]:
    return run_resources(database_url)


@pytest.fixture
def instance() -> dg.DagsterInstance:
    """An in-memory Dagster instance: runs, events and sensor state of one test."""
    return dg.DagsterInstance.ephemeral()


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """tests/conftest.py's `db`, emptied with DELETE instead of TRUNCATE.

    These tests leave a few dozen rows; truncating the ~40 daily partitions of `events` cost a
    second or more per test on a busy server, deleting costs milliseconds. Every data table is
    emptied: all of the schema's tables except the migration and storage-mode records.
    """
    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            " AND c.relname NOT IN ('schema_migrations', 'platform_settings')"
        ).fetchall()
        with conn.transaction():
            for (table,) in tables:
                conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
        yield conn
