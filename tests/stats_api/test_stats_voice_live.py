"""GET .../stats/voice/live: kept in Redis by ingestion, rebuilt from PostgreSQL when lost.

Each test has a guild of its own: the app's Redis database is shared with concurrent test runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from stats_testkit import MIN, get_stats, ok, random_guild, voice, z

from stats_api.live import presence
from stats_api.live.presence import Entry, LivePresence, live_key, marker_key
from stats_api.redis_gate import RedisGate
from stats_platform.pipeline import retention
from stats_platform.storage.api_keys import create_key
from tests.testkit.api import UNUSED_REDIS_URL


@pytest.fixture
def guild() -> str:
    return random_guild()


@pytest.fixture
def keys(db: psycopg.Connection, guild: str) -> tuple[str, str]:
    """(ingest key, read key) of the test's guild."""
    ingest = create_key(db, scope="ingest", guild_ids=[guild])[1]
    return ingest, create_key(db, scope="read", guild_ids=[guild])[1]


@pytest.fixture
def app_redis(redis_url: str, guild: str) -> Iterator[redis.Redis]:
    """The app's Redis, as the test sees it; the guild's keys are removed afterwards."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.delete(live_key(guild), marker_key(guild))
    client.close()


@pytest.fixture
def send(
    post: Callable[..., httpx.Response], keys: tuple[str, str]
) -> Callable[..., httpx.Response]:
    def go(*events: dict[str, Any], via: TestClient | None = None) -> httpx.Response:
        response = post(list(events), via=via, headers={"Authorization": f"Bearer {keys[0]}"})
        assert response.status_code == 202, response.text
        assert response.json()["rejected"] == 0, response.text
        return response

    return go


def live(client: TestClient, keys: tuple[str, str], guild: str) -> dict[str, list[tuple]]:
    """channelId -> [(userId, since)], in the answer's order."""
    body = ok(get_stats(client, keys[1], "voice/live", guild=guild))
    assert body["dataAsOf"] is not None
    return {
        c["channelId"]: [(m["userId"], m["since"]) for m in c["members"]] for c in body["channels"]
    }


def recent() -> datetime:
    """A whole second in the recent past, so the steps below stay before now."""
    return datetime.now(UTC).replace(microsecond=0) - 30 * MIN


def test_join_move_and_leave_show_in_order(
    client: TestClient, send: Callable, keys: tuple[str, str], guild: str, app_redis: redis.Redis
) -> None:
    t = recent()
    send(voice(t, "5", "800", guild), voice(t + MIN, "6", "800", guild))
    assert live(client, keys, guild) == {"800": [("5", z(t)), ("6", z(t + MIN))]}
    assert app_redis.hget(marker_key(guild), "state") == b"built"

    # Ingestion keeps the hash from here: a mute in the same channel keeps since, a move resets it.
    send(voice(t + 2 * MIN, "5", "800", guild))
    send(voice(t + 5 * MIN, "5", "801", guild))
    stored = json.loads(app_redis.hget(live_key(guild), "5") or b"{}")
    assert stored == {"channelId": "801", "since": int((t + 5 * MIN).timestamp() * 1000),
                      "ts": int((t + 5 * MIN).timestamp() * 1000)}  # fmt: skip
    assert live(client, keys, guild) == {"800": [("6", z(t + MIN))], "801": [("5", z(t + 5 * MIN))]}

    send(voice(t + 6 * MIN, "6", None, guild))
    assert live(client, keys, guild) == {"801": [("5", z(t + 5 * MIN))]}


def test_an_event_older_than_the_entry_changes_nothing(
    client: TestClient, send: Callable, keys: tuple[str, str], guild: str, app_redis: redis.Redis
) -> None:
    t = recent()
    send(voice(t, "5", "800", guild), voice(t + 5 * MIN, "5", "801", guild))
    assert live(client, keys, guild) == {"801": [("5", z(t + 5 * MIN))]}

    # Arrives late: in the replay it comes before the move, so the move still decides.
    send(voice(t + 2 * MIN, "5", "900", guild))
    assert live(client, keys, guild) == {"801": [("5", z(t + 5 * MIN))]}
    app_redis.delete(live_key(guild), marker_key(guild))
    assert live(client, keys, guild) == {"801": [("5", z(t + 5 * MIN))]}


def test_a_lost_hash_is_rebuilt_from_the_events(
    client: TestClient,
    make_client: Callable[..., TestClient],
    send: Callable,
    keys: tuple[str, str],
    guild: str,
    app_redis: redis.Redis,
) -> None:
    t = recent()
    send(voice(t, "5", "800", guild), voice(t, "7", "800", guild))
    assert live(client, keys, guild) == {"800": [("5", z(t)), ("7", z(t))]}
    send(voice(t + 3 * MIN, "7", "802", guild), voice(t + 4 * MIN, "5", None, guild))

    app_redis.delete(live_key(guild))  # the marker survives: the read must notice the loss
    assert live(client, keys, guild) == {"802": [("7", z(t + 3 * MIN))]}
    assert app_redis.hget(marker_key(guild), "state") == b"built"
    app_redis.delete(live_key(guild), marker_key(guild))
    # No new event since: the cached answer is served, and the hash is rebuilt by the next
    # read that computes (here, one without the answer cache).
    assert live(client, keys, guild) == {"802": [("7", z(t + 3 * MIN))]}
    assert not app_redis.exists(live_key(guild))
    uncached = make_client(cache_ttl_seconds=0)
    assert live(uncached, keys, guild) == {"802": [("7", z(t + 3 * MIN))]}
    assert json.loads(app_redis.hget(live_key(guild), "5") or b"{}")["channelId"] is None


def test_events_missed_while_the_hook_could_not_write_are_picked_up(
    client: TestClient,
    make_client: Callable[..., TestClient],
    send: Callable,
    keys: tuple[str, str],
    guild: str,
    app_redis: redis.Redis,
) -> None:
    t = recent()
    send(voice(t, "5", "800", guild))
    assert live(client, keys, guild) == {"800": [("5", z(t))]}
    # Stored while Redis was away: the hash never saw it, so the marker's asof fell behind.
    send(voice(t + MIN, "5", "801", guild), via=make_client(redis_url=UNUSED_REDIS_URL))
    assert json.loads(app_redis.hget(live_key(guild), "5") or b"{}")["channelId"] == "800"
    assert live(client, keys, guild) == {"801": [("5", z(t + MIN))]}


def test_a_session_older_than_the_cap_is_not_live(
    client: TestClient, send: Callable, keys: tuple[str, str], guild: str, app_redis: redis.Redis
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    send(voice(now - timedelta(hours=25), "5", "800", guild), voice(now - MIN, "6", "800", guild))
    assert live(client, keys, guild) == {"800": [("6", z(now - MIN))]}
    # Through the hook as well: the entry is written, but not shown.
    send(voice(now - timedelta(hours=24, minutes=1), "8", "800", guild))
    assert app_redis.hexists(live_key(guild), "8")
    assert live(client, keys, guild) == {"800": [("6", z(now - MIN))]}


def test_the_cached_answer_ends_when_its_longest_session_reaches_the_cap(
    make_client: Callable[..., TestClient],
    send: Callable,
    keys: tuple[str, str],
    guild: str,
    app_redis: redis.Redis,
) -> None:
    client = make_client(cache_ttl_seconds=3600)
    now = datetime.now(UTC).replace(microsecond=0)
    opened = now - timedelta(hours=23, minutes=50)  # live for 10 more minutes
    send(voice(opened, "5", "800", guild), voice(now - MIN, "6", "800", guild))
    first = get_stats(client, keys[1], "voice/live", guild=guild)
    again = get_stats(client, keys[1], "voice/live", guild=guild)
    assert (first.headers["X-Stats-Cache"], again.headers["X-Stats-Cache"]) == ("miss", "hit")
    assert again.content == first.content

    # Keyed by the newest voice arrival; gone at opened + 24 h, not after the hour's TTL.
    (key,) = app_redis.keys(f"stats:cache:{guild}:*:voice/live:*")
    assert app_redis.pexpiretime(key) == int((opened + timedelta(hours=24)).timestamp() * 1000)
    send(voice(now, "7", "801", guild))
    assert get_stats(client, keys[1], "voice/live", guild=guild).headers["X-Stats-Cache"] == "miss"
    assert live(client, keys, guild) == {
        "800": [("5", z(opened)), ("6", z(now - MIN))],
        "801": [("7", z(now))],
    }
    app_redis.delete(*app_redis.keys(f"stats:cache:{guild}:*"))


def test_without_redis_the_answer_comes_from_postgresql(
    make_client: Callable[..., TestClient], send: Callable, keys: tuple[str, str], guild: str
) -> None:
    down = make_client(redis_url=UNUSED_REDIS_URL)
    t = recent()
    send(voice(t, "5", "800", guild), voice(t + MIN, "5", "801", guild), via=down)
    send(voice(t + 2 * MIN, "10", "801", guild), voice(t + 2 * MIN, "9", "801", guild), via=down)
    # Same since: ties by userId numerically, "9" before "10".
    assert live(down, keys, guild) == {
        "801": [("5", z(t + MIN)), ("9", z(t + 2 * MIN)), ("10", z(t + 2 * MIN))]
    }


def test_retention_cleaning_leaves_the_marker_and_live_members_alone(
    client: TestClient, send: Callable, keys: tuple[str, str], guild: str, app_redis: redis.Redis
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    send(voice(now - timedelta(hours=25), "5", "800", guild), voice(now - MIN, "6", "800", guild))
    send(
        voice(now - timedelta(hours=25), "7", "801", guild), voice(now - 2 * MIN, "7", None, guild)
    )
    assert live(client, keys, guild) == {"800": [("6", z(now - MIN))]}
    send(voice(now - timedelta(hours=24, minutes=1), "8", "800", guild))  # written by the hook

    # The pipeline's op scans stats:voice:live:* as hashes of entries with a numeric `since`.
    retention.clean_stale_voice_presence(app_redis, cap=timedelta(hours=24))
    assert not app_redis.hexists(live_key(guild), "8")
    assert app_redis.hget(marker_key(guild), "state") == b"built"
    assert live(client, keys, guild) == {"800": [("6", z(now - MIN))]}


def test_a_rebuild_in_chunks_keeps_what_ingestion_wrote_meanwhile_and_ends_built(
    redis_url: str, guild: str, app_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(presence, "FILL_CHUNK", 2)  # five entries: three script calls
    live = LivePresence(RedisGate.from_url(redis_url), cap=timedelta(hours=24), future=MIN)
    keys = [live_key(guild), marker_key(guild)]
    assert live._begin(keys=keys, args=[0, "tok", 30]) == [b"start"]
    # While the rebuild reads PostgreSQL, ingestion applies a move of user 5 (ts 2,000).
    live.apply([[guild, "5", "801", 2_000]], received_us=1)
    entries = {
        "5": Entry("800", 1_000, 1_000),  # older than ingestion's: kept out
        "6": Entry("800", 1_500, 2_000),
        "7": Entry(None, 1_800, 1_800),
        "8": Entry("802", 1_900, 1_900),
        "9": Entry("802", 1_950, 1_950),
    }
    live._fill(app_redis, keys, "tok", 5, entries)

    stored = {u.decode(): json.loads(v) for u, v in app_redis.hgetall(live_key(guild)).items()}
    assert stored == {
        "5": {"channelId": "801", "since": 2_000, "ts": 2_000},
        "6": {"channelId": "800", "since": 1_500, "ts": 2_000},
        "7": {"channelId": None, "since": 1_800, "ts": 1_800},
        "8": {"channelId": "802", "since": 1_900, "ts": 1_900},
        "9": {"channelId": "802", "since": 1_950, "ts": 1_950},
    }
    assert app_redis.hmget(marker_key(guild), "state", "asof") == [b"built", b"5"]


def test_a_rebuild_of_another_token_writes_nothing(
    redis_url: str, guild: str, app_redis: redis.Redis
) -> None:
    live = LivePresence(RedisGate.from_url(redis_url), cap=timedelta(hours=24), future=MIN)
    keys = [live_key(guild), marker_key(guild)]
    live._begin(keys=keys, args=[0, "newer", 30])
    live._fill(app_redis, keys, "older", 5, {"5": Entry("800", 1_000, 1_000)})
    assert not app_redis.exists(live_key(guild))
    assert app_redis.hget(marker_key(guild), "state") == b"building"
