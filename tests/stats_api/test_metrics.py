"""GET /metrics: what the API counts, and what it reads of the pipeline at scrape time.

Counters are process-wide and other tests move them too, so each test compares a scrape before
with a scrape after what it does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from stats_testkit import clear_rollups, ev, get_stats, midnight, msg, voice

from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD, PROJECT_ROOT, free_port, wait_ready

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient | httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str) -> dict[tuple, float]:
    """The samples of `name` that changed, by their labels."""
    keys = {k for k in (*before, *after) if k[0] == name}
    return {
        k[1]: after.get(k, 0.0) - before.get(k, 0.0)
        for k in keys
        if after.get(k, 0.0) != before.get(k, 0.0)
    }


@pytest.fixture
def rollups(db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    clear_rollups(db)
    yield db
    clear_rollups(db)


def test_every_metric_is_exposed(
    client: TestClient, post: Callable, event: Callable, rollups: psycopg.Connection
) -> None:
    assert post([event(), event(userId="43")]).json()["accepted"] == 2
    rollups.execute("ANALYZE events")
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    start = end - timedelta(minutes=5)
    rollups.execute(
        "INSERT INTO computed_windows (period_type, period_start, period_end, covered_until)"
        " VALUES ('5min', %s, %s, %s)",
        (start, end, end + timedelta(seconds=30)),
    )
    rollups.execute(
        "INSERT INTO window_arrivals (guild_id, period_type, period_start, last_received_at)"
        " VALUES (%s, '5min', %s, %s)"
        " ON CONFLICT (guild_id, period_type, period_start)"
        " DO UPDATE SET last_received_at = EXCLUDED.last_received_at",
        (GUILD, start, end + timedelta(minutes=1)),
    )
    samples = scrape(client)
    names = {name for name, _ in samples}
    assert {
        "stats_http_requests_total",
        "stats_http_request_duration_seconds_bucket",
        "stats_ingest_events_total",
        "stats_db_pool_connections_in_use",
        "stats_db_pool_connections",
        "stats_db_pool_requests_waiting",
        "stats_live_streams_open",
        "stats_redis_up",
        "stats_database_up",
        "stats_pipeline_window_lag_seconds",
        "stats_pipeline_windows_awaiting_recompute",
        "stats_raw_events",
    } <= names
    assert value(samples, "stats_redis_up") == 1
    assert value(samples, "stats_database_up") == 1
    assert value(samples, "stats_pipeline_window_lag_seconds", grain="5min") >= 600
    assert ("stats_pipeline_window_lag_seconds", (("grain", "hourly"),)) not in samples
    awaiting = {
        g: value(samples, "stats_pipeline_windows_awaiting_recompute", grain=g)
        for g in ("5min", "hourly", "daily")
    }
    assert awaiting == {"5min": 1, "hourly": 0, "daily": 0}
    today = midnight(0).date().isoformat()
    assert value(samples, "stats_raw_events", day=today) == 2
    for pool in ("stats", "ingest"):
        assert value(samples, "stats_db_pool_requests_waiting", pool=pool) == 0
        assert value(samples, "stats_db_pool_connections", pool=pool) >= 1


def test_ingest_counters_move_by_exactly_what_the_batch_did(
    client: TestClient, post: Callable, event: Callable
) -> None:
    at = datetime.now(UTC) - timedelta(minutes=2)
    first = [msg(at, "1"), msg(at + timedelta(seconds=1), "2"), voice(at, "3", "800")]
    assert post(first).json()["accepted"] == 3

    before = scrape(client)
    batch = [
        first[0],  # stored before: a duplicate
        msg(at + timedelta(seconds=2), "1"),
        msg(at + timedelta(seconds=2), "1"),  # repeats the one before it
        ev("THREAD_CREATE", at, "4"),
        {**msg(at, "5"), "timestamp": "noon"},
        {"type": "VOICE_STATE_UPDATE", "guildId": GUILD},
        "not an event",
    ]
    answer = post(batch).json()
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 2, 3)
    after = scrape(client)

    assert moved(before, after, "stats_ingest_events_total") == {
        (("outcome", "accepted"), ("type", "MESSAGE_CREATE")): 1,
        (("outcome", "accepted"), ("type", "OTHER")): 1,
        (("outcome", "duplicate"), ("type", "MESSAGE_CREATE")): 2,
        (("outcome", "rejected"), ("type", "MESSAGE_CREATE")): 1,
        (("outcome", "rejected"), ("type", "VOICE_STATE_UPDATE")): 1,
        (("outcome", "rejected"), ("type", "INVALID")): 1,
    }


def test_requests_are_counted_by_route_template_and_status(
    client: TestClient, post: Callable, event: Callable, db: psycopg.Connection
) -> None:
    post([event()])
    key = create_key(db, scope="read", guild_ids=[GUILD])[1]
    before = scrape(client)
    assert get_stats(client, key, "dashboard").status_code == 200
    assert get_stats(client, key, "dashboard", tz="Mars/Olympus").status_code == 422
    assert client.get("/no/such/page").status_code == 404
    after = scrape(client)

    route = "/v1/guilds/{guildId}/stats/dashboard"
    assert moved(before, after, "stats_http_requests_total") == {
        (("method", "GET"), ("route", route), ("status", "200")): 1,
        (("method", "GET"), ("route", route), ("status", "422")): 1,
        (("method", "GET"), ("route", "unmatched"), ("status", "404")): 1,
        # the first scrape itself
        (("method", "GET"), ("route", "/metrics"), ("status", "200")): 1,
    }
    assert moved(before, after, "stats_http_request_duration_seconds_count") == {
        (("method", "GET"), ("route", route)): 2,
        (("method", "GET"), ("route", "unmatched")): 1,
        (("method", "GET"), ("route", "/metrics")): 1,
    }


def test_workers_in_multiprocess_mode_report_together(
    database_url: str, redis_url: str, tmp_path: Path, db: psycopg.Connection
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "STATS_DATABASE_URL": database_url,
        "STATS_REDIS_URL": redis_url,
        "STATS_AUTH": "off",
    }
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "stats_api.main:create_app",
        "--workers", "2", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/readyz")
        at = datetime.now(UTC) - timedelta(minutes=1)
        with httpx.Client(base_url=url) as http:
            before = scrape(http)
            for i in range(20):
                batch: list[Any] = [msg(at + timedelta(milliseconds=i), "1")]
                response = http.post(
                    "/v1/events",
                    content=orjson.dumps(batch),
                    headers={"Content-Type": "application/json", "Connection": "close"},
                )
                assert response.json()["accepted"] == 1
            after = scrape(http)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert moved(before, after, "stats_ingest_events_total") == {
        (("outcome", "accepted"), ("type", "MESSAGE_CREATE")): 20
    }
