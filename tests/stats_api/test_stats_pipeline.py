"""Answers are the same whether windows are read from rollups or computed from raw events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from stats_testkit import DAY, HOUR, MIN, clear_rollups, fixed_events, get_stats, midnight, msg, ok

from stats_platform.defs.members.assets import member_stats
from stats_platform.defs.rollups.assets import rollups_5min, rollups_daily, rollups_hourly
from stats_platform.defs.voice.assets import voice_sessions
from stats_platform.partitions import daily_partitions, five_minute_partitions, hourly_partitions
from stats_platform.resources import PipelineSettings, PostgresResource
from stats_platform.settings import raw_retention_horizon
from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@pytest.fixture(autouse=True)
def no_rollups(db: psycopg.Connection) -> Iterator[None]:
    """The API tests share a database whose fixture only empties what ingestion writes."""
    clear_rollups(db)
    yield
    clear_rollups(db)


def materialize(
    assets: list[dg.AssetsDefinition],
    partitions: dg.TimeWindowPartitionsDefinition,
    first: datetime,
    last: datetime,
    database_url: str,
) -> None:
    """One run over the windows starting from `first` to `last`, as a backfill would."""
    tags = {
        RANGE_START: partitions.get_partition_key_for_timestamp(first.timestamp()),
        RANGE_END: partitions.get_partition_key_for_timestamp(last.timestamp()),
    }
    resources = {
        "postgres": PostgresResource(url=database_url),
        "pipeline": PipelineSettings(settle_seconds=0, batch_delay_seconds=0),
    }
    assert dg.materialize(assets, tags=tags, resources=resources).success


def answers(client: TestClient, key: str, d: datetime) -> list[Any]:
    c = d + DAY
    requests: list[tuple[str, dict[str, Any]]] = [
        ("dashboard", {"span": (c, c + DAY)}),
        ("dashboard", {"span": (d + 9 * HOUR, c + 12 * HOUR + 30 * MIN), "tz": "Asia/Kolkata"}),
        ("leaderboard", {"span": (d - 2 * DAY, c + DAY), "category": "overall"}),
        ("activity", {"span": (d - 3 * DAY, c + 2 * DAY), "granularity": "day"}),
        ("activity", {"span": (c, c + DAY), "granularity": "hour", "tz": "Asia/Kathmandu"}),
        ("members", {"sortBy": "voice"}),
        ("members/9", {"span": (c + 12 * HOUR, c + DAY + HOUR)}),
    ]
    found = []
    for path, params in requests:
        body = ok(get_stats(client, key, path, **params))
        if path == "members":
            body.pop("periodEnd")  # everything kept, up to the moment of the answer
        found.append(body)
    return found


def test_answers_are_the_same_after_the_windows_are_materialized(
    post: Callable[..., httpx.Response],
    make_client: Callable[..., TestClient],
    db: psycopg.Connection,
    database_url: str,
) -> None:
    d = midnight(10)
    post(fixed_events(d))
    client = make_client(cache_ttl_seconds=0)
    key = create_key(db, scope="read", guild_ids=[GUILD])[1]
    from_raw = answers(client, key, d)

    c = d + DAY
    materialize([voice_sessions, rollups_daily, member_stats], daily_partitions,
                d - 3 * DAY, c + DAY, database_url)  # fmt: skip
    materialize([rollups_hourly], hourly_partitions, c, c + 23 * HOUR, database_url)
    materialize([rollups_5min], five_minute_partitions, c + 10 * HOUR, c + 11 * HOUR, database_url)
    computed = db.execute(
        "SELECT period_type, count(*) FROM computed_windows GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert computed == [("5min", 13), ("daily", 6), ("hourly", 24)]
    assert db.execute("SELECT count(*) FROM member_stats").fetchone() == (4,)

    assert answers(client, key, d) == from_raw
    assert all(a["resolution"] == "exact" for a in from_raw)


def test_a_late_event_after_materializing_is_counted(
    post: Callable[..., httpx.Response],
    make_client: Callable[..., TestClient],
    db: psycopg.Connection,
    database_url: str,
) -> None:
    d = midnight(10)
    c = d + DAY
    post(fixed_events(d))
    materialize([voice_sessions, rollups_daily, member_stats], daily_partitions,
                d - 2 * DAY, c + DAY, database_url)  # fmt: skip
    client = make_client(cache_ttl_seconds=0)
    key = create_key(db, scope="read", guild_ids=[GUILD])[1]
    post([msg(c + 20 * HOUR, "9")])  # arrives after day C was computed

    dashboard = ok(get_stats(client, key, "dashboard", span=(c, c + DAY)))
    assert dashboard["totalMessages"] == 8
    nine = ok(get_stats(client, key, "members/9", span=(c, c + DAY)))
    assert (nine["totalMessages"], nine["activity"]["totalMessages"]) == (4, 4)


def test_raw_events_are_read_only_where_retention_cannot_have_deleted_them() -> None:
    # Retention removes whole UTC days before midnight 30 days back; that day is kept whole.
    now = datetime(2024, 5, 31, 15, 20, tzinfo=UTC)
    assert raw_retention_horizon(now, 30) == datetime(2024, 5, 1, tzinfo=UTC)
