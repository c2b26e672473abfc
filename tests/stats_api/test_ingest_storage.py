"""What a 202 leaves in PostgreSQL: the valid events once each, and their arrival windows."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from fastapi.testclient import TestClient

from tests.testkit.api import DAY_MS, GUILD, OTHER_GUILD, now_ms


def stored_ids(db: psycopg.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT dedup_key FROM events ORDER BY dedup_key")]


def test_valid_events_of_a_partly_bad_batch_are_stored(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    batch = [
        event(id="a"),
        event(id="b", guildId="x"),
        event(id="c"),
        event(id="d", timestamp=None),
    ]
    assert post({"events": batch}).json() == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": 2,
        "errors": [
            {
                "index": 1,
                "field": "guildId",
                "message": "guildId must be a snowflake: a string of 1 to 20 digits",
            },
            {"index": 3, "field": "timestamp", "message": "timestamp is required"},
        ],
    }
    assert stored_ids(db) == ["a", "c"]


def test_resending_an_event_with_id_stores_it_once(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    sent = event(id="evt-1")
    assert post([sent]).json()["accepted"] == 1
    again = post([sent, event(id="evt-2")]).json()
    assert (again["accepted"], again["duplicates"]) == (1, 1)
    assert stored_ids(db) == ["evt-1", "evt-2"]


def test_id_and_timestamp_identify_an_event_within_its_guild(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    stamp = now_ms() - 10_000
    batch = [
        event(id="x", timestamp=stamp),
        event(id="x", timestamp=stamp + 1),
        event(id="x", timestamp=stamp, guildId=OTHER_GUILD),
        event(id="x", timestamp=stamp, type="MESSAGE_DELETE"),
    ]
    body = post(batch).json()
    assert (body["accepted"], body["duplicates"]) == (3, 1)
    assert db.execute("SELECT count(*) FROM events").fetchone() == (3,)


def test_exact_resend_without_id_is_stored_once(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    sent = event(data={"b": 2, "a": 1})
    reordered = event(data={"a": 1, "b": 2})
    changed = event(data={"a": 1, "b": 3})
    assert post([sent]).json()["accepted"] == 1
    assert post([reordered, changed]).json() == {
        "accepted": 1,
        "duplicates": 1,
        "rejected": 0,
        "errors": [],
    }
    assert db.execute("SELECT count(*) FROM events").fetchone() == (2,)


def test_derived_key_is_the_sha256_of_the_canonical_event(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    stamp = now_ms() - 5_000
    post([event(userId="0042", shardId=1, timestamp=stamp, data={"z": [1], "a": "é"})])
    canonical = f'["MESSAGE_CREATE","{GUILD}","42",null,null,null,1,{stamp},{{"a":"é","z":[1]}}]'
    expected = "~" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
    assert db.execute("SELECT dedup_key, event_id FROM events").fetchall() == [(expected, None)]


def test_arrival_order_within_a_batch_is_the_order_sent(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    stamp = now_ms() - 30_000
    voice = {"type": "VOICE_STATE_UPDATE", "timestamp": stamp}
    batch = [
        event(id="zz-join", channelId="5", **voice),
        event(id="aa-leave", channelId=None, **voice),
        event(id="mm-join", channelId="6", **voice),
        event(id="aa-leave", timestamp=stamp),
        event(userId="7", timestamp=stamp),
    ]
    assert post(batch).json()["accepted"] == 4
    in_seq_order = db.execute("SELECT event_id FROM events ORDER BY seq").fetchall()
    assert in_seq_order == [("zz-join",), ("aa-leave",), ("mm-join",), (None,)]


def test_duplicates_within_one_batch_count_as_duplicates(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    body = post([event(id="d"), event(id="d"), event(), event()]).json()
    assert (body["accepted"], body["duplicates"]) == (2, 2)
    assert db.execute("SELECT count(*) FROM events").fetchone() == (2,)


def test_concurrent_resends_store_each_event_once(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    stamp = now_ms() - 60_000
    batch = [event(id=f"c{i}", timestamp=stamp + i) for i in range(50)]
    batch += [event(userId=str(i), timestamp=stamp + i) for i in range(50)]
    start = threading.Barrier(8)
    answers: list[dict[str, Any]] = []

    def send(reverse: bool) -> None:
        start.wait()
        answers.append(post(batch[::-1] if reverse else batch).json())

    threads = [threading.Thread(target=send, args=(i % 2 == 1,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(a["accepted"] for a in answers) == 100
    assert sum(a["duplicates"] for a in answers) == 700
    assert db.execute("SELECT count(*) FROM events").fetchone() == (100,)


def test_arrival_windows_are_recorded_for_inserted_events(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    at_10 = int((hour + timedelta(minutes=10, seconds=30)).timestamp() * 1000)
    at_16 = int((hour + timedelta(minutes=16)).timestamp() * 1000)
    batch = [
        event(id="m", timestamp=at_10),
        event(id="v", type="VOICE_STATE_UPDATE", channelId="5", timestamp=at_16),
        event(id="o", guildId=OTHER_GUILD, timestamp=at_16),
    ]
    assert post(batch).json()["accepted"] == 3
    received = db.execute("SELECT DISTINCT received_at FROM events").fetchall()
    assert len(received) == 1
    r = received[0][0]
    day = hour.replace(hour=0)
    five = timedelta(minutes=5)
    assert arrivals(db) == [
        (GUILD, "5min", hour + 2 * five, r, None),
        (GUILD, "5min", hour + 3 * five, r, r),
        (GUILD, "daily", day, r, r),
        (GUILD, "hourly", hour, r, r),
        (OTHER_GUILD, "5min", hour + 3 * five, r, None),
        (OTHER_GUILD, "daily", day, r, None),
        (OTHER_GUILD, "hourly", hour, r, None),
    ]


def test_duplicates_leave_arrival_windows_alone_and_new_events_advance_them(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    post([event(id="first")])
    before = arrivals(db)
    post([event(id="first")])
    assert arrivals(db) == before
    post([event(id="second")])
    latest = db.execute("SELECT received_at FROM events WHERE event_id = 'second'").fetchone()
    assert latest is not None
    assert [row[3] for row in arrivals(db)] == [latest[0]] * 3
    assert [row[4] for row in arrivals(db)] == [None] * 3


def test_missing_daily_partition_is_created(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    stamp = now_ms() - 5 * DAY_MS
    day = datetime.fromtimestamp(stamp / 1000, UTC)
    partition = f"events_p{day:%Y%m%d}"
    db.execute(f"DROP TABLE IF EXISTS {partition}")
    assert post([event(id="old", timestamp=stamp)]).json()["accepted"] == 1
    assert db.execute("SELECT to_regclass(%s)::text", (partition,)).fetchone() == (partition,)
    assert db.execute("SELECT tableoid::regclass::text FROM events").fetchone() == (partition,)


def test_partition_dropped_behind_the_store_is_recreated(
    post: Callable[..., httpx.Response],
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    stamp = now_ms() - 4 * DAY_MS
    partition = f"events_p{datetime.fromtimestamp(stamp / 1000, UTC):%Y%m%d}"
    assert post([event(id="before", timestamp=stamp)]).json()["accepted"] == 1
    db.execute(f"DROP TABLE {partition}")
    assert post([event(id="after", timestamp=stamp)]).json()["accepted"] == 1
    assert stored_ids(db) == ["after"]


def arrivals(db: psycopg.Connection) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT guild_id, period_type, period_start, last_received_at, last_voice_received_at"
        " FROM window_arrivals ORDER BY guild_id, period_type, period_start"
    ).fetchall()


def test_integers_beyond_64_bits_in_data_are_kept_exactly(
    client: TestClient,
    ingest_key: str,
    event: Callable[..., dict[str, Any]],
    db: psycopg.Connection,
) -> None:
    # orjson reads them as floats: 18446744073709551616 was stored as 1.8446744073709552e19.
    data = {
        "above": 18446744073709551616,
        "below": -9223372036854775809,
        "huge": 123456789012345678901234567890,
        "u64": 18446744073709551615,
        "text": "123456789012345678901234567890",
        "float": 0.123456789012345678901234,
    }
    body = json.dumps([event(id="big", data=data)])
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ingest_key}"}
    assert client.post("/v1/events", content=body, headers=headers).json()["accepted"] == 1
    again = client.post("/v1/events", content=body, headers=headers)
    assert again.json()["duplicates"] == 1
    row = db.execute(
        "SELECT data->>'above', data->>'below', data->>'huge', data->>'u64', data->>'text',"
        " jsonb_typeof(data->'huge') FROM events WHERE event_id = 'big'"
    ).fetchone()
    assert row == (
        "18446744073709551616",
        "-9223372036854775809",
        "123456789012345678901234567890",
        "18446744073709551615",
        "123456789012345678901234567890",
        "number",
    )
