"""Whole-request answers of POST /v1/events: nothing of a refused request reaches the table."""

from __future__ import annotations

import gzip
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient

from stats_platform.storage.api_keys import create_key, revoke_key
from tests.testkit.api import FOREIGN_GUILD, GUILD, UNUSED_REDIS_URL

MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}


def stored(db: psycopg.Connection) -> int:
    row = db.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def raw_post(client: TestClient, key: str, content: Any, **headers: str) -> httpx.Response:
    return client.post(
        "/v1/events", content=content, headers={**JSON, "Authorization": f"Bearer {key}", **headers}
    )


def test_array_and_events_object_are_both_accepted(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    assert post([event(id="a")]).status_code == 202
    assert post({"events": [event(id="b")], "sentBy": "bot"}).status_code == 202
    assert post([]).json() == {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": []}
    assert stored(db) == 2


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"[{", "body is not valid JSON: "),
        (b"", "body is not valid JSON: "),
        (b"\xff[]", "body is not valid JSON: "),
        (b'{"event": []}', 'body must be a JSON array of events or an object {"events": [...]}'),
        (b'{"events": {}}', 'body must be a JSON array of events or an object {"events": [...]}'),
        (b'"MESSAGE_CREATE"', 'body must be a JSON array of events or an object {"events": [...]}'),
    ],
)
def test_malformed_body_is_400(
    client: TestClient, ingest_key: str, db: psycopg.Connection, content: bytes, detail: str
) -> None:
    response = raw_post(client, ingest_key, content)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)
    assert stored(db) == 0


def test_gzip_body_is_inflated(
    client: TestClient,
    ingest_key: str,
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    body = gzip.compress(orjson.dumps([event(id="g1"), event(id="g2")]))
    response = raw_post(client, ingest_key, body, **{"Content-Encoding": "gzip"})
    assert response.json()["accepted"] == 2
    assert stored(db) == 2


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"not gzip at all", "body is not valid gzip: "),
        (gzip.compress(b"[]" * 1000)[:20], "gzip body is truncated"),
    ],
)
def test_broken_gzip_is_400(
    client: TestClient, ingest_key: str, content: bytes, detail: str
) -> None:
    response = raw_post(client, ingest_key, content, **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_more_than_5000_events_is_413(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    response = post([event()] * 5001)
    assert (response.status_code, response.json()) == (
        413,
        {"detail": "batch has 5001 events; the limit is 5000"},
    )
    assert post([event()] * 5000).status_code == 202
    assert stored(db) == 1


def test_body_over_5_mib_is_413_and_5_mib_is_fine(
    client: TestClient, ingest_key: str, db: psycopg.Connection
) -> None:
    at_limit = b"[" + b" " * (5 * MIB - 2) + b"]"
    assert raw_post(client, ingest_key, at_limit).status_code == 202
    response = raw_post(client, ingest_key, at_limit + b" ")
    assert (response.status_code, response.json()) == (
        413,
        {"detail": "body is larger than 5242880 bytes"},
    )


def test_body_without_length_is_cut_off_at_the_limit(client: TestClient, ingest_key: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"["
        for _ in range(6):
            yield b" " * MIB
        yield b"]"

    response = raw_post(client, ingest_key, chunks())
    assert response.status_code == 413


def test_gzip_bomb_is_413_without_inflating_it(client: TestClient, ingest_key: str) -> None:
    bomb = gzip.compress(b"[" + b" " * (40 * MIB) + b"]", compresslevel=9)
    assert len(bomb) < 50_000
    response = raw_post(client, ingest_key, bomb, **{"Content-Encoding": "gzip"})
    assert (response.status_code, response.json()) == (
        413,
        {"detail": "body is larger than 5242880 bytes"},
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": ""},
        {"Content-Encoding": "br"},
    ],
)
def test_wrong_content_type_or_encoding_is_415(
    client: TestClient, ingest_key: str, db: psycopg.Connection, headers: dict[str, str]
) -> None:
    response = raw_post(client, ingest_key, b"[]", **headers)
    assert response.status_code == 415
    assert stored(db) == 0


def test_json_with_charset_parameter_is_accepted(client: TestClient, ingest_key: str) -> None:
    headers = {"Content-Type": "Application/JSON; charset=utf-8"}
    assert raw_post(client, ingest_key, b"[]", **headers).status_code == 202


def test_missing_bad_or_revoked_key_is_401(
    client: TestClient, event: Callable[..., dict[str, Any]], db: psycopg.Connection
) -> None:
    key, plaintext = create_key(db, scope="ingest", guild_ids=[GUILD])
    body = orjson.dumps([event()])
    no_key = client.post("/v1/events", content=body, headers=JSON)
    assert (no_key.status_code, no_key.headers["WWW-Authenticate"]) == (401, "Bearer")
    unread = client.post("/v1/events", content=b"[", headers={"Content-Type": "text/plain"})
    assert unread.status_code == 401
    # The secret with its last hex digit changed (a fixed "0" would be the key itself 1 time in 16).
    wrong_secret = plaintext[:-1] + ("1" if plaintext.endswith("0") else "0")
    for wrong in ("nonsense", wrong_secret, "sp_" + "0" * 12 + "_x", "Basic abc"):
        assert raw_post(client, wrong, body).status_code == 401
    revoke_key(db, key.key_id)
    response = raw_post(client, plaintext, body)
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "invalid or revoked API key"},
    )
    assert stored(db) == 0


def test_x_api_key_header_is_accepted(
    client: TestClient, ingest_key: str, event: Callable[..., dict[str, Any]]
) -> None:
    response = client.post(
        "/v1/events", content=orjson.dumps([event()]), headers={**JSON, "X-API-Key": ingest_key}
    )
    assert response.json()["accepted"] == 1


def test_key_not_allowed_for_a_guild_is_403_naming_it(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    ingest_key: str,
    db: psycopg.Connection,
) -> None:
    key_id = ingest_key.split("_")[1]
    response = post([event(), event(guildId="00" + FOREIGN_GUILD, timestamp="bad")])
    assert (response.status_code, response.json()) == (
        403,
        {"detail": f"API key {key_id} may not send events for guild {FOREIGN_GUILD}"},
    )
    two = post([event(guildId="9"), event(guildId=FOREIGN_GUILD), event(guildId="9")])
    assert two.json() == {
        "detail": f"API key {key_id} may not send events for guilds 9, {FOREIGN_GUILD}"
    }
    assert stored(db) == 0


def test_read_key_cannot_ingest_and_all_guilds_key_can(
    client: TestClient, event: Callable[..., dict[str, Any]], db: psycopg.Connection
) -> None:
    reader, read_plain = create_key(db, scope="read", all_guilds=True)
    _, any_guild = create_key(db, scope="ingest", all_guilds=True)
    body = orjson.dumps([event(guildId=FOREIGN_GUILD)])
    refused = raw_post(client, read_plain, body)
    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": f"API key {reader.key_id} has scope read; this needs scope ingest"},
    )
    assert raw_post(client, any_guild, body).json()["accepted"] == 1


def test_over_the_rate_is_429_with_retry_after(
    make_client: Callable[..., TestClient],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    limited = make_client(rate_limit_per_minute=2)
    limited.get("/readyz")  # opens the pool, so the timed requests below are quick
    # The window is the clock minute; a run that straddles two minutes is repeated with a new key.
    for _ in range(3):
        minute = time.time() // 60
        _, key = create_key(db, scope="ingest", guild_ids=[GUILD])
        codes = [raw_post(limited, key, orjson.dumps([event()])).status_code for _ in range(2)]
        before = math.ceil(60 - time.time() % 60)
        refused = raw_post(limited, key, orjson.dumps([event(id="refused")]))
        after = math.ceil(60 - time.time() % 60)
        if time.time() // 60 == minute:
            break
    assert (codes, refused.status_code) == ([202, 202], 429)
    assert after <= int(refused.headers["Retry-After"]) <= before
    assert "over its rate of 2 requests per minute" in refused.json()["detail"]
    _, other_key = create_key(db, scope="ingest", guild_ids=[GUILD])
    assert raw_post(limited, other_key, orjson.dumps([event(id="other")])).status_code == 202
    assert db.execute("SELECT count(*) FROM events WHERE event_id = 'refused'").fetchone() == (0,)


def test_ingest_works_without_redis(
    make_client: Callable[..., TestClient],
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    no_redis = make_client(redis_url=UNUSED_REDIS_URL, rate_limit_per_minute=1)
    with caplog.at_level(logging.WARNING, logger="stats.redis"):
        codes = [post([event(id=str(i))], via=no_redis).status_code for i in range(3)]
    assert codes == [202, 202, 202]
    assert stored(db) == 3
    warnings = [r for r in caplog.records if r.name == "stats.redis"]
    assert [r.getMessage() for r in warnings] == [
        "Redis unavailable: running without rate limits and caches"
    ]


def test_auth_off_needs_no_key_and_warns_at_startup(
    make_client: Callable[..., TestClient],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="stats.api"):
        open_app = make_client(auth="off")
    response = open_app.post(
        "/v1/events", content=orjson.dumps([event(guildId=FOREIGN_GUILD)]), headers=JSON
    )
    assert response.json()["accepted"] == 1
    assert [r.getMessage() for r in caplog.records if r.name == "stats.api"] == [
        "STATS_AUTH=off: API keys are not checked; anyone can send and read events"
    ]


def test_database_down_is_503(
    make_client: Callable[..., TestClient], event: Callable[..., dict[str, Any]]
) -> None:
    down = make_client(
        database_url="postgresql://postgres@127.0.0.1:5999/none",
        auth="off",
        db_pool_timeout_seconds=0.3,
    )
    response = down.post("/v1/events", content=orjson.dumps([event()]), headers=JSON)
    assert (response.status_code, response.headers["Retry-After"]) == (503, "5")
