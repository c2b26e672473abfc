"""A client that gives up on a read takes its query with it."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import psycopg
import pytest
from stats_testkit import fixed_events, midnight

from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD, Api

WAITING_READS_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND wait_event_type = 'Lock' AND query LIKE '%window_arrivals%'"
)
# Deadlock guards, not latency claims: the read's own deadline is a minute.
GUARD_SECONDS = 15


def waiting_reads(conn: psycopg.Connection) -> int:
    row = conn.execute(WAITING_READS_SQL).fetchone()
    assert row is not None
    return int(row[0])


def test_a_read_is_cancelled_when_its_client_disconnects(
    start_api: Callable[..., Api],
) -> None:
    api = start_api(auth="on", STATS_READ_STATEMENT_TIMEOUT_SECONDS="60")
    with psycopg.connect(api.database_url, autocommit=True) as conn:
        ingest = create_key(conn, scope="ingest", guild_ids=[GUILD])[1]
        read = create_key(conn, scope="read", guild_ids=[GUILD])[1]
    sent = httpx.post(
        f"{api.url}/v1/events",
        json=fixed_events(midnight(10)),
        headers={"Authorization": f"Bearer {ingest}"},
    )
    assert sent.status_code == 202
    with (
        psycopg.connect(api.database_url) as blocker,
        psycopg.connect(api.database_url, autocommit=True) as watcher,
    ):
        # The read waits on this lock until cancelled (or for its one-minute deadline).
        blocker.execute("LOCK TABLE window_arrivals IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(
                f"{api.url}/v1/guilds/{GUILD}/stats/dashboard",
                headers={"Authorization": f"Bearer {read}"},
                timeout=httpx.Timeout(10, read=1.5),
            )
        deadline = time.monotonic() + GUARD_SECONDS
        while waiting_reads(watcher) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert waiting_reads(watcher) == 0
        blocker.rollback()
    answer = httpx.get(
        f"{api.url}/v1/guilds/{GUILD}/stats/dashboard",
        headers={"Authorization": f"Bearer {read}"},
        timeout=10,
    )
    assert answer.status_code == 200
