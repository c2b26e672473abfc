"""Idempotency-Key on POST /v1/events: a retry gets the first answer back, never a recount."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient

from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD


def stored(db: psycopg.Connection) -> int:
    row = db.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def test_a_retry_gets_the_first_answer_not_a_recount(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    batch = [event(id="a"), event(id="a"), event(id="b", guildId="x")]
    first = post(batch, headers={"Idempotency-Key": "batch-1"})
    again = post(batch, headers={"Idempotency-Key": "batch-1"})
    expected = {
        "accepted": 1, "duplicates": 1, "rejected": 1,
        "errors": [{"index": 2, "field": "guildId",
                    "message": "guildId must be a snowflake: a string of 1 to 20 digits"}],
    }  # fmt: skip
    assert (first.status_code, first.json()) == (202, expected)
    assert (again.status_code, again.json()) == (202, expected)
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    # Without the key the same body is recounted: the events are duplicates now.
    assert post(batch).json()["duplicates"] == 2
    assert stored(db) == 1


def test_the_same_body_gzipped_is_the_same_request(
    post: Callable[..., httpx.Response],
    client: TestClient,
    ingest_key: str,
    event: Callable[..., dict[str, Any]],
) -> None:
    batch = [event(id="a")]
    assert post(batch, headers={"Idempotency-Key": "k"}).json()["accepted"] == 1
    again = client.post(
        "/v1/events",
        content=gzip.compress(orjson.dumps(batch)),
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Authorization": f"Bearer {ingest_key}",
            "Idempotency-Key": "k",
        },
    )
    assert again.json()["accepted"] == 1


def test_another_body_with_the_same_key_is_422_naming_the_header(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    assert post([event(id="a")], headers={"Idempotency-Key": "k"}).status_code == 202
    other = post([event(id="b")], headers={"Idempotency-Key": "k"})
    assert other.status_code == 422
    assert other.json() == {
        "detail": [
            {
                "loc": ["header", "Idempotency-Key"],
                "msg": "Idempotency-Key 'k' was first used with a different body;"
                " send a new key with a new batch",
                "type": "value_error",
            }
        ]
    }
    assert stored(db) == 1


@pytest.mark.parametrize(
    ("key", "msg"),
    [
        ("", "String should have at least 1 character"),
        ("k" * 256, "String should have at most 255 characters"),
        ("a key", "String should match pattern '^[\\x21-\\x7e]+$'"),
    ],
)
def test_a_malformed_key_is_422(
    post: Callable[..., httpx.Response], event: Callable[..., dict[str, Any]], key: str, msg: str
) -> None:
    answer = post([event(id="a")], headers={"Idempotency-Key": key})
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert (error["loc"], error["msg"]) == (["header", "Idempotency-Key"], msg)


def test_keys_are_per_api_key(
    client: TestClient,
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    other_bot = create_key(db, scope="ingest", guild_ids=[GUILD])[1]
    assert post([event(id="a")], headers={"Idempotency-Key": "k"}).json()["accepted"] == 1
    mine = post(
        [event(id="b")], headers={"Idempotency-Key": "k", "Authorization": f"Bearer {other_bot}"}
    )
    assert (mine.status_code, mine.json()["accepted"]) == (202, 1)


def test_a_key_older_than_24_hours_is_forgotten(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    assert post([event(id="a")], headers={"Idempotency-Key": "k"}).json()["accepted"] == 1
    db.execute("UPDATE ingest_idempotency SET created_at = now() - interval '24 hours 1 second'")
    fresh = post([event(id="b")], headers={"Idempotency-Key": "k"})
    assert (fresh.status_code, fresh.json()["accepted"]) == (202, 1)
    assert db.execute("SELECT count(*) FROM ingest_idempotency").fetchone() == (1,)


def test_racing_retries_store_once_and_agree(
    post: Callable[..., httpx.Response],
    make_client: Callable[..., TestClient],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    batch = [event(id=f"e{i}") for i in range(200)]
    clients = [make_client() for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda i: post(batch, via=clients[i % 4], headers={"Idempotency-Key": "race"}),
                range(8),
            )
        )
    assert {a.status_code for a in answers} == {202}
    assert [a.json() for a in answers] == [
        {"accepted": 200, "duplicates": 0, "rejected": 0, "errors": []}
    ] * 8
    assert stored(db) == 200


def test_the_answer_commits_with_the_events(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    assert post([event(id="a")], headers={"Idempotency-Key": "k"}).status_code == 202
    row = db.execute(
        "SELECT idempotency_key, answer FROM ingest_idempotency WHERE key_id <> ''"
    ).fetchone()
    assert row == ("k", {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []})
