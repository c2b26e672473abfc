"""Fixtures of the pipeline tests: a fixed recent day, events stored like ingestion, run resources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest
from platform_testkit import Event, run_resources, store_events


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
