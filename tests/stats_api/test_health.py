"""Liveness and readiness: the database and its schema decide readiness, Redis is only reported."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.testkit.api import UNUSED_REDIS_URL


def test_healthz_answers_while_the_process_lives(client: TestClient) -> None:
    assert (client.get("/healthz").status_code, client.get("/healthz").json()) == (
        200,
        {"status": "ok"},
    )


def test_ready_when_database_is_migrated_and_redis_answers(client: TestClient) -> None:
    response = client.get("/readyz")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ready", "database": "ok", "migrations": "current", "redis": "ok"},
    )


def test_still_ready_without_redis(make_client: Callable[..., TestClient]) -> None:
    response = make_client(redis_url=UNUSED_REDIS_URL).get("/readyz")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ready", "database": "ok", "migrations": "current", "redis": "unavailable"},
    )


def test_not_ready_before_migrations(
    make_client: Callable[..., TestClient], fresh_database_url: str
) -> None:
    response = make_client(database_url=fresh_database_url).get("/readyz")
    assert (response.status_code, response.json()) == (
        503,
        {"status": "unavailable", "database": "ok", "migrations": "outdated", "redis": "ok"},
    )


def test_not_ready_without_database(make_client: Callable[..., TestClient]) -> None:
    down = make_client(database_url="postgresql://postgres@127.0.0.1:5999/none")
    response = down.get("/readyz")
    assert (response.status_code, response.json()) == (
        503,
        {
            "status": "unavailable",
            "database": "unavailable",
            "migrations": "unknown",
            "redis": "ok",
        },
    )
    assert down.get("/healthz").status_code == 200
