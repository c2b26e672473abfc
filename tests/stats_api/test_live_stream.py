"""GET .../stats/live: Server-Sent Events after committed batches, served by a real server.

Each test has a guild of its own: the app's Redis database is shared with concurrent test runs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from stats_testkit import join, msg, random_guild, react, voice, z

from stats_api.live.feed import WATCHING_KEY, stream_key
from stats_platform.storage.api_keys import create_key
from tests.testkit.api import UNUSED_REDIS_URL, Api
from tests.testkit.sse import EventReader

STREAM_ID = re.compile(r"\d+-\d+")
# A safety net for a hung server, never a measure: every read below expects an event.
READ_TIMEOUT = httpx.Timeout(5.0, read=60.0)


class Live:
    """A served API, the test's guild, its keys, and helpers to send and to follow."""

    def __init__(self, api: Api, guild: str) -> None:
        self.api, self.guild = api, guild
        with psycopg.connect(api.database_url, autocommit=True) as conn:
            self.ingest = create_key(conn, scope="ingest", guild_ids=[guild])[1]
            self.read = create_key(conn, scope="read", guild_ids=[guild])[1]

    def send(self, *events: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.api.url}/v1/events",
            content=orjson.dumps(list(events)),
            headers={"Authorization": f"Bearer {self.ingest}", "Content-Type": "application/json"},
        )
        assert response.status_code == 202, response.text
        return response.json()  # type: ignore[no-any-return]

    @contextmanager
    def follow(self, last_event_id: str | None = None) -> Iterator[EventReader]:
        headers = {"X-API-Key": self.read}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        url = f"{self.api.url}/v1/guilds/{self.guild}/stats/live"
        with httpx.stream("GET", url, headers=headers, timeout=READ_TIMEOUT) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            yield EventReader(response)

    def dashboard_today(self) -> dict[str, Any]:
        response = httpx.get(
            f"{self.api.url}/v1/guilds/{self.guild}/stats/dashboard",
            params={"period": "today"},
            headers={"Authorization": f"Bearer {self.read}"},
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def live(start_api: Callable[..., Api], redis_url: str) -> Iterator[Live]:
    guild = random_guild()
    yield Live(start_api(auth="on"), guild)
    client = redis.Redis.from_url(redis_url)
    client.delete(stream_key(guild))
    client.zrem(WATCHING_KEY, guild)
    client.close()


def stream_id(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("-"))


def earlier_today(step: int = 0) -> datetime:
    """Halfway between 00:00 UTC and now, plus `step` milliseconds: today, and in the past."""
    now = datetime.now(UTC) - timedelta(seconds=2)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + (now - midnight) / 2 + timedelta(milliseconds=step)


def cards(**values: int) -> dict[str, int]:
    base = dict.fromkeys(
        ["totalMessages", "totalVoiceMinutes", "totalReactions", "uniqueActiveUsers",
         "newMembers", "leftMembers"], 0,
    )  # fmt: skip
    return base | values


def test_a_committed_batch_pushes_todays_totals_and_live_voice(live: Live) -> None:
    live.send(msg(earlier_today(), "1", live.guild), msg(earlier_today(1), "1", live.guild))
    with live.follow() as stream:
        hint = stream.block()
        assert (hint.retry, hint.comments) == (5000, [f"live totals of guild {live.guild}"])
        first = stream.event()
        # Nobody watched when the first batch came: the page starts from the current state.
        assert first.event == "totals"
        assert first.id is not None and STREAM_ID.fullmatch(first.id)
        assert first.json()["totals"] == cards(totalMessages=2, uniqueActiveUsers=1)

        in_voice = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
        result = live.send(
            *(msg(earlier_today(10 + i), "2", live.guild) for i in range(3)),
            react(earlier_today(20), "2", author="1", guild=live.guild),
            join(earlier_today(30), "3", live.guild),
            voice(in_voice, "8", "800", live.guild),
        )
        assert result["accepted"] == 6
        pushed = stream.event()

    assert pushed.event == "totals"
    assert pushed.id is not None and STREAM_ID.fullmatch(pushed.id)
    assert stream_id(pushed.id) > stream_id(first.id)
    body = pushed.json()
    dashboard = live.dashboard_today()
    assert body["guildId"] == live.guild
    assert body["day"]["from"] == dashboard["periodStart"]
    assert body["totals"] == cards(
        totalMessages=5, totalReactions=1, uniqueActiveUsers=4, newMembers=1
    )
    assert body["totals"] == {k: dashboard[k] for k in body["totals"]}
    assert body["voice"]["channels"] == [
        {"channelId": "800", "members": [{"userId": "8", "since": z(in_voice)}]}
    ]
    assert body["voice"]["dataAsOf"] is not None


def test_rejected_and_duplicate_batches_push_nothing(live: Live, redis_url: str) -> None:
    first = msg(earlier_today(), "1", live.guild)
    live.send(first)
    with live.follow() as stream:
        assert stream.event().json()["totals"]["totalMessages"] == 1
        bad = {**msg(earlier_today(1), "1", live.guild), "timestamp": "yesterday"}
        assert live.send(bad)["rejected"] == 1
        assert live.send(first)["duplicates"] == 1
        assert live.send(msg(earlier_today(2), "1", live.guild))["accepted"] == 1
        # The pushes come in order: the next event is the accepted batch's, with its count.
        assert stream.event().json()["totals"]["totalMessages"] == 2
    client = redis.Redis.from_url(redis_url)
    # The state the stream opened with, and the accepted batch's.
    assert client.xlen(stream_key(live.guild)) == 2
    client.close()


def test_reconnecting_with_last_event_id_replays_only_newer_events(live: Live) -> None:
    live.send(msg(earlier_today(), "1", live.guild))
    with live.follow() as stream:
        assert stream.event().json()["totals"]["totalMessages"] == 1
        live.send(msg(earlier_today(1), "1", live.guild))
        a = stream.event()
        live.send(msg(earlier_today(2), "1", live.guild))
        b = stream.event()
    assert [a.json()["totals"]["totalMessages"], b.json()["totals"]["totalMessages"]] == [2, 3]
    # Sent while the page is away: its guild is still watched, so the state is kept for it.
    live.send(msg(earlier_today(3), "1", live.guild))

    assert a.id is not None
    with live.follow(last_event_id=a.id) as stream:
        replayed = [stream.event(), stream.event()]
    assert replayed[0].id == b.id
    assert [e.json()["totals"]["totalMessages"] for e in replayed] == [3, 4]
    assert replayed[1].id is not None and stream_id(replayed[1].id) > stream_id(b.id or "")


def test_a_closed_stream_ends_its_generator(live: Live) -> None:
    live.send(msg(earlier_today(), "1", live.guild))
    with live.follow() as stream:
        stream.event()
        assert open_streams(live.api) == 1
        # It waits on Redis alone: the pool, sampled after the scrape before, lends nothing.
        assert scraped(live.api, "stats_live_streams_open") == 1
        assert scraped(live.api, 'stats_db_pool_connections_in_use{pool="stats"}') == 0
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while open_streams(live.api) != 0:
        assert datetime.now(UTC) < deadline, "the stream's generator is still running"
        time.sleep(0.2)


def open_streams(api: Api) -> float:
    return scraped(api, "stats_live_streams_open")


def scraped(api: Api, name: str) -> float:
    text = httpx.get(f"{api.url}/metrics").text
    line = next(x for x in text.splitlines() if x.startswith(f"{name} "))
    return float(line.split()[1])


def test_without_redis_the_stream_answers_503(
    make_client: Callable[..., TestClient], db: psycopg.Connection
) -> None:
    guild = random_guild()
    key = create_key(db, scope="read", guild_ids=[guild])[1]
    response = make_client(redis_url=UNUSED_REDIS_URL).get(
        f"/v1/guilds/{guild}/stats/live", headers={"X-API-Key": key}
    )
    assert (response.status_code, response.headers["retry-after"]) == (503, "30")
    assert "poll" in response.json()["detail"]


def test_an_unknown_guild_is_404_before_any_stream(
    client: TestClient, db: psycopg.Connection
) -> None:
    guild = random_guild()
    key = create_key(db, scope="read", guild_ids=[guild])[1]
    response = client.get(f"/v1/guilds/{guild}/stats/live", headers={"X-API-Key": key})
    assert response.status_code == 404
