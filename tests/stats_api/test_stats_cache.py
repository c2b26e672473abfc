"""Cached answers: served until the guild gets new events, and never needed for a right answer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from stats_testkit import DAY, HOUR, fixed_events, get_stats, midnight, msg, ok

from stats_platform.settings import Settings
from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD, UNUSED_REDIS_URL

ENDPOINTS = [
    ("dashboard", {}),
    ("members", {"sortBy": "voice"}),
    ("members/9", {}),
    ("leaderboard", {"category": "overall"}),
    ("activity", {"granularity": "hour", "tz": "Asia/Kathmandu"}),
]


@pytest.fixture
def read_key(db: psycopg.Connection) -> str:
    return create_key(db, scope="read", guild_ids=[GUILD])[1]


def test_a_cached_answer_changes_after_a_new_event(
    post: Callable[..., httpx.Response],
    client: TestClient,
    read_key: str,
    redis_url: str,
    settings: Settings,
    db: psycopg.Connection,
) -> None:
    d = midnight(10)
    span = (d + DAY, d + 2 * DAY)
    post(fixed_events(d))
    first = get_stats(client, read_key, "dashboard", span=span)
    again = get_stats(client, read_key, "dashboard", span=span)
    assert (first.headers["X-Stats-Cache"], again.headers["X-Stats-Cache"]) == ("miss", "hit")
    assert again.content == first.content and again.json()["totalMessages"] == 7

    # Keyed by the guild's newest arrival: the one entry of this answer lives for the TTL.
    newest = db.execute(
        "SELECT max(last_received_at) FROM window_arrivals"
        " WHERE guild_id = %s AND period_type = 'daily'",
        (GUILD,),
    ).fetchone()[0]  # type: ignore[index]
    stamp = (newest - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    with redis.Redis.from_url(redis_url) as app_redis:
        keys = app_redis.keys(f"stats:cache:{GUILD}:{stamp}:dashboard:*")
        ttls = [app_redis.ttl(key) for key in keys]
    assert len(ttls) == 1 and 0 < ttls[0] <= settings.cache_ttl_seconds

    post([msg(d + DAY + HOUR, "2")])
    after = get_stats(client, read_key, "dashboard", span=span)
    assert after.headers["X-Stats-Cache"] == "miss"
    assert after.json()["totalMessages"] == 8
    assert after.json()["dataAsOf"] > first.json()["dataAsOf"]


def test_parameters_are_part_of_the_key(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    d = midnight(10)
    post(fixed_events(d))
    utc = ok(get_stats(client, read_key, "activity", span=(d, d + 2 * DAY)))
    kolkata = ok(get_stats(client, read_key, "activity", span=(d, d + 2 * DAY), tz="Asia/Kolkata"))
    assert len(utc["dataPoints"]) == 2 and len(kolkata["dataPoints"]) == 3


def test_same_answers_without_redis_and_one_warning(
    post: Callable[..., httpx.Response],
    client: TestClient,
    make_client: Callable[..., TestClient],
    read_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = midnight(10)
    post(fixed_events(d))
    down = make_client(redis_url=UNUSED_REDIS_URL)
    caplog.set_level(logging.WARNING)
    for path, params in ENDPOINTS:
        span = None if path == "members" else (d + DAY, d + 2 * DAY)
        with_redis = get_stats(client, read_key, path, span=span, **params)
        without = get_stats(down, read_key, path, span=span, **params)
        assert without.status_code == 200, without.text
        assert _timeless(without.json()) == _timeless(with_redis.json()), path
        assert without.headers["X-Stats-Cache"] == "miss"
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1


def test_a_zero_ttl_turns_the_cache_off(
    post: Callable[..., httpx.Response],
    make_client: Callable[..., TestClient],
    read_key: str,
) -> None:
    d = midnight(10)
    post(fixed_events(d))
    uncached = make_client(cache_ttl_seconds=0)
    answers = [get_stats(uncached, read_key, "dashboard", span=(d, d + DAY)) for _ in range(2)]
    assert [a.headers["X-Stats-Cache"] for a in answers] == ["off", "off"]


def _timeless(body: dict) -> dict:
    """The members list spans everything kept, up to the moment it is computed."""
    return {k: v for k, v in body.items() if k != "periodEnd" or "members" not in body}
