"""The database misbehaving under the API: dead idle connections, statements past their deadline."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from stats_testkit import fixed_events, get_stats, midnight, msg

from stats_platform.storage.api_keys import create_key

TERMINATE_OTHERS_SQL = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def fill(pool: ConnectionPool, size: int) -> None:
    """Leaves `size` idle connections in the pool."""
    held = [pool.getconn() for _ in range(size)]
    for conn in held:
        pool.putconn(conn)
    assert pool.get_stats()["pool_available"] == size


def test_dead_idle_connections_cost_no_request(
    make_client: Callable[..., TestClient],
    post: Callable[..., httpx.Response],
    db: psycopg.Connection,
) -> None:
    # psycopg_pool's own check backs off 1 s, 2 s, 4 s ... per dead connection: with ten of
    # them a request waited past a 2 s pool timeout and was a 503.
    client = make_client(db_pool_size=10, db_ingest_pool_size=4, db_pool_timeout_seconds=2)
    assert post(fixed_events(midnight(10)), via=client).status_code == 202
    key = create_key(db, scope="read", all_guilds=True)[1]
    state = client.app.state  # type: ignore[attr-defined]
    fill(state.pool, 10)
    fill(state.ingest_pool, 4)
    row = db.execute(TERMINATE_OTHERS_SQL).fetchone()
    assert row is not None and row[0] >= 14
    for i in range(3):
        assert get_stats(client, key, "dashboard", period="month").status_code == 200
        sent = post([{**msg(midnight(1), "7"), "id": f"after-{i}"}], via=client)
        assert (sent.status_code, sent.json()["accepted"]) == (202, 1)
    assert client.get("/readyz").status_code == 200


def test_a_read_past_its_deadline_is_503_naming_it(
    make_client: Callable[..., TestClient],
    post: Callable[..., httpx.Response],
    db: psycopg.Connection,
    database_url: str,
) -> None:
    client = make_client(read_statement_timeout_seconds=0.5)
    assert post(fixed_events(midnight(10)), via=client).status_code == 202
    key = create_key(db, scope="read", all_guilds=True)[1]
    # A lock wait counts toward statement_timeout: the read cannot finish, whatever the machine.
    with psycopg.connect(database_url) as blocker:
        blocker.execute("LOCK TABLE window_arrivals IN ACCESS EXCLUSIVE MODE")
        answer = get_stats(client, key, "dashboard", period="week")
        assert post([], via=client).status_code == 202
        blocker.rollback()
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json() == {
        "detail": "the answer took longer than its deadline of 0.5 s; ask for a shorter period"
        " or a coarser granularity, or retry later"
    }
    assert get_stats(client, key, "dashboard", period="week").status_code == 200
