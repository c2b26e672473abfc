"""contract §1 field rules through POST /v1/events: every rejection names its event, field and rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import psycopg
import pytest

from tests.testkit.api import DAY_MS, GUILD, now_ms

SNOWFLAKE_RULE = "{} must be a snowflake (a string of 1 to 20 digits) or null"
TYPE_RULE = "type must be a known event type or an UPPER_SNAKE name of at most 64 characters"
TIMESTAMP_RULE = (
    "timestamp must be epoch milliseconds (an integer) or an ISO-8601 string with an offset"
)
SHARD_RULE = "shardId must be an integer from 0 to 2147483647, or null"
GUILD_RULE = "guildId must be a snowflake: a string of 1 to 20 digits"

REJECTIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"id": 7}, "id", "id must be a string"),
    ({"id": ""}, "id", "id must be 1 to 64 characters (got 0)"),
    ({"id": "x" * 65}, "id", "id must be 1 to 64 characters (got 65)"),
    ({"id": "a\x00b"}, "id", "id must not contain NUL characters"),
    ({"type": ...}, "type", "type is required"),
    ({"type": None}, "type", "type is required"),
    ({"type": 3}, "type", "type must be a string"),
    ({"type": "message_create"}, "type", TYPE_RULE),
    ({"type": "MESSAGE__CREATE"}, "type", TYPE_RULE),
    ({"type": "_MESSAGE"}, "type", TYPE_RULE),
    ({"type": "A" * 65}, "type", TYPE_RULE),
    ({"guildId": ...}, "guildId", "guildId is required"),
    ({"guildId": 111}, "guildId", GUILD_RULE),
    ({"guildId": ""}, "guildId", GUILD_RULE),
    ({"guildId": "1" * 21}, "guildId", GUILD_RULE),
    ({"guildId": "12a"}, "guildId", GUILD_RULE),
    ({"guildId": "١٢٣"}, "guildId", GUILD_RULE),
    ({"guildId": "123\n"}, "guildId", GUILD_RULE),
    ({"userId": "abc"}, "userId", SNOWFLAKE_RULE.format("userId")),
    ({"userId": 42}, "userId", SNOWFLAKE_RULE.format("userId")),
    ({"channelId": "-1"}, "channelId", SNOWFLAKE_RULE.format("channelId")),
    ({"messageId": "1" * 21}, "messageId", SNOWFLAKE_RULE.format("messageId")),
    ({"roleId": ""}, "roleId", SNOWFLAKE_RULE.format("roleId")),
    ({"shardId": -1}, "shardId", SHARD_RULE),
    ({"shardId": 1.0}, "shardId", SHARD_RULE),
    ({"shardId": True}, "shardId", SHARD_RULE),
    ({"shardId": "1"}, "shardId", SHARD_RULE),
    ({"shardId": 2**31}, "shardId", SHARD_RULE),
    ({"timestamp": ...}, "timestamp", "timestamp is required"),
    ({"timestamp": None}, "timestamp", "timestamp is required"),
    ({"timestamp": 1.7e12}, "timestamp", TIMESTAMP_RULE),
    ({"timestamp": True}, "timestamp", TIMESTAMP_RULE),
    ({"timestamp": "yesterday"}, "timestamp", TIMESTAMP_RULE),
    ({"timestamp": "1700000000000"}, "timestamp", TIMESTAMP_RULE),
    (
        {"timestamp": "2024-01-01T10:00:00"},
        "timestamp",
        "timestamp must include a UTC offset, e.g. Z or +02:00",
    ),
    ({"data": [1, 2]}, "data", "data must be a JSON object or null"),
    ({"data": "text"}, "data", "data must be a JSON object or null"),
    ({"data": {"s": "a\x00"}}, "data", "data must not contain NUL characters (\\u0000)"),
    ({"data": {"s": "x" * 16_377}}, "data", "data must be at most 16384 bytes as JSON (got 16385)"),
]


@pytest.mark.parametrize(("fields", "field", "message"), REJECTIONS)
def test_rejection_names_field_and_rule(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
    fields: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = post([event(id="ok"), event(**fields)])
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": 1,
        "errors": [{"index": 1, "field": field, "message": message}],
    }
    assert db.execute("SELECT event_id FROM events").fetchall() == [("ok",)]


def test_non_object_event_is_rejected(post: Callable[..., httpx.Response]) -> None:
    response = post([5, None, "MESSAGE_CREATE"])
    assert response.json()["rejected"] == 3
    assert response.json()["errors"] == [
        {"index": i, "field": "event", "message": "event must be a JSON object"} for i in range(3)
    ]


def test_every_broken_rule_of_one_event_is_listed_in_field_order(
    post: Callable[..., httpx.Response],
) -> None:
    response = post([{"type": "bad", "userId": "x", "data": 1}])
    assert response.json() == {
        "accepted": 0,
        "duplicates": 0,
        "rejected": 1,
        "errors": [
            {"index": 0, "field": "type", "message": TYPE_RULE},
            {"index": 0, "field": "guildId", "message": "guildId is required"},
            {"index": 0, "field": "userId", "message": SNOWFLAKE_RULE.format("userId")},
            {"index": 0, "field": "timestamp", "message": "timestamp is required"},
            {"index": 0, "field": "data", "message": "data must be a JSON object or null"},
        ],
    }


def test_limits_are_inclusive_at_their_edge(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    batch = [
        event(id="i" * 64),
        event(id="data", data={"s": "x" * 16_376}),
        event(id="shard", shardId=2**31 - 1),
        event(id="guild", guildId="00" + GUILD),
        event(id="custom", type="THREAD_CREATE"),
        event(id="escaped-nul-text", data={"s": "\\u0000"}),
    ]
    assert post(batch).json()["accepted"] == 6
    assert db.execute("SELECT count(*) FROM events").fetchone() == (6,)


def test_future_and_too_old_timestamps_are_rejected(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    now = now_ms()
    batch = [
        event(id="soon", timestamp=now + 240_000),
        event(id="late", timestamp=now - 30 * DAY_MS + 120_000),
        event(id="future", timestamp=now + 360_000),
        event(id="old", timestamp=now - 30 * DAY_MS - 60_000),
        event(id="epoch", timestamp=0),
    ]
    body = post(batch).json()
    assert (body["accepted"], body["rejected"]) == (2, 3)
    assert body["errors"] == [
        {
            "index": 2,
            "field": "timestamp",
            "message": "timestamp must not be more than 300 seconds in the future",
        },
        {
            "index": 3,
            "field": "timestamp",
            "message": "timestamp must not be older than the raw-event retention of 30 days",
        },
        {
            "index": 4,
            "field": "timestamp",
            "message": "timestamp must not be older than the raw-event retention of 30 days",
        },
    ]
    assert db.execute("SELECT event_id FROM events ORDER BY event_id").fetchall() == [
        ("late",),
        ("soon",),
    ]


def test_retention_follows_settings(
    make_client: Callable[..., Any],
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
) -> None:
    short = make_client(raw_retention_days=2)
    response = post([event(timestamp=now_ms() - 3 * DAY_MS)], via=short)
    assert response.json()["errors"] == [
        {
            "index": 0,
            "field": "timestamp",
            "message": "timestamp must not be older than the raw-event retention of 2 days",
        }
    ]


def test_timestamps_are_stored_to_the_millisecond_in_utc(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    kolkata = timezone(timedelta(hours=5, minutes=30))
    pacific = timezone(timedelta(hours=-8))
    epoch_ms = int(base.timestamp() * 1000) + 7
    batch = [
        event(id="epoch", timestamp=epoch_ms),
        event(id="zulu", timestamp=base.strftime("%Y-%m-%dT%H:%M:%S") + ".123999Z"),
        event(id="kolkata", timestamp=base.astimezone(kolkata).isoformat()),
        event(
            id="pacific", timestamp=base.astimezone(pacific).strftime("%Y-%m-%dT%H:%M:%S.5-08:00")
        ),
        event(id="nanos", timestamp=base.strftime("%Y-%m-%dT%H:%M:%S") + ".987654321+00:00"),
    ]
    assert post(batch).json()["accepted"] == 5
    stored = dict(db.execute("SELECT event_id, ts FROM events").fetchall())
    assert stored == {
        "epoch": base + timedelta(milliseconds=7),
        "zulu": base + timedelta(milliseconds=123),
        "kolkata": base,
        "pacific": base + timedelta(milliseconds=500),
        "nanos": base + timedelta(milliseconds=987),
    }


def test_stored_row_is_the_normalized_event(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    stamp = now_ms() - 1_000
    sent = event(
        id="full",
        type="MESSAGE_REACTION_ADD",
        guildId="00" + GUILD,
        userId="0042",
        channelId="0",
        messageId="000",
        roleId="7",
        shardId=3,
        timestamp=stamp,
        data={"messageAuthorId": "99", "emoji": "🔥", "nested": {"b": [1, 2], "a": None}},
    )
    assert post([sent]).json()["accepted"] == 1
    row = db.execute(
        "SELECT ts, guild_id, dedup_key, event_id, type, user_id, channel_id, message_id, role_id,"
        " shard_id, data, received_at IS NOT NULL FROM events"
    ).fetchone()
    assert row == (
        datetime.fromtimestamp(stamp / 1000, UTC).replace(microsecond=stamp % 1000 * 1000),
        GUILD,
        "full",
        "full",
        "MESSAGE_REACTION_ADD",
        "42",
        "0",
        "0",
        "7",
        3,
        {"messageAuthorId": "99", "emoji": "🔥", "nested": {"a": None, "b": [1, 2]}},
        True,
    )
