"""GET .../stats/dashboard: totals, changes against the previous period, top members."""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from stats_testkit import DAY, MIN, fixed_events, get_stats, midnight, msg, ok, react, voice, z

from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD


@pytest.fixture
def read_key(db: psycopg.Connection) -> str:
    return create_key(db, scope="read", guild_ids=[GUILD])[1]


def arrival(db: psycopg.Connection) -> str:
    """The arrival time of the (single) batch stored, as dataAsOf gives it (rounded to the ms)."""
    row = db.execute("SELECT max(received_at) FROM events").fetchone()
    assert row is not None
    return z(row[0] + timedelta(microseconds=500))


def test_custom_window_totals_changes_and_top_members(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str, db: psycopg.Connection
) -> None:
    d = midnight(10)
    post(fixed_events(d))
    body = ok(get_stats(client, read_key, "dashboard", span=(d + DAY, d + 2 * DAY)))

    assert body == {
        "periodStart": z(d + DAY),
        "periodEnd": z(d + 2 * DAY),
        "dataAsOf": arrival(db),
        "resolution": "exact",
        "totalMessages": 7,  # 3 by "9", 3 by "10", 1 by "2"
        "totalVoiceMinutes": 41,  # floor((30m40s + 10m30s) / 60s); the floors would sum to 40
        "totalReactions": 3,
        "uniqueActiveUsers": 3,  # 2, 9, 10
        "newMembers": 1,
        "leftMembers": 1,
        "messagesChange": -13,  # 8 -> 7: -12.5, half away from zero
        "voiceMinutesChange": None,  # no voice the day before
        "reactionsChange": 50,  # 2 -> 3
        "activeUsersChange": 200,  # 1 -> 3
        "topMembers": [  # 3 messages each: "9" before "10" (numeric order)
            {"userId": "9", "totalMessages": 3, "totalVoiceMinutes": 10},
            {"userId": "10", "totalMessages": 3, "totalVoiceMinutes": 0},
            {"userId": "2", "totalMessages": 1, "totalVoiceMinutes": 30},
        ],
    }


def test_previous_window_has_the_same_length(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    # [d+12h, d+1d+12h) against [d, d+12h): the messages at d+11h count before, at d+12h now.
    d = midnight(6)
    post([msg(d + timedelta(hours=11), "1"), msg(d + timedelta(hours=12), "1"),
          msg(d + timedelta(hours=12), "2"), msg(d + DAY + timedelta(hours=12), "3")])  # fmt: skip
    body = ok(get_stats(client, read_key, "dashboard", span=(d + DAY / 2, d + DAY * 1.5)))
    assert (body["totalMessages"], body["messagesChange"]) == (2, 100)
    assert (body["uniqueActiveUsers"], body["activeUsersChange"]) == (2, 100)


def test_week_compares_with_the_seven_days_before(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    now = datetime.now(UTC)
    post([msg(now - 3 * DAY, "1"), msg(now - 3 * DAY, "2"), msg(now - 2 * DAY, "3"),
          msg(now - 10 * DAY, "1"), react(now - 10 * DAY, "1", author="2"),
          msg(now - 15 * DAY, "4")])  # fmt: skip
    before = datetime.now(UTC)
    body = ok(get_stats(client, read_key, "dashboard", period="week"))
    end = datetime.fromisoformat(body["periodEnd"])
    assert before - timedelta(seconds=1) <= end <= datetime.now(UTC)
    assert datetime.fromisoformat(body["periodStart"]) == end - 7 * DAY
    # 1 -> 3 messages and active users; reactions 1 -> 0 is -100.
    assert body["totalMessages"] == 3 and body["messagesChange"] == 200
    assert body["activeUsersChange"] == 200 and body["reactionsChange"] == -100
    assert body["voiceMinutesChange"] is None


def test_all_has_no_previous_period(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    d = midnight(10)
    post(fixed_events(d))
    body = ok(get_stats(client, read_key, "dashboard", period="all"))
    assert body["periodStart"] == z(d - 2 * DAY + timedelta(hours=8))  # the first event kept
    assert body["totalMessages"] == 15 and body["totalVoiceMinutes"] == 92  # 30m50s+30m40s+30m30s
    changes = ("messagesChange", "voiceMinutesChange", "reactionsChange", "activeUsersChange")
    assert [body[c] for c in changes] == [None, None, None, None]


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "Asia/Kathmandu"])
def test_today_starts_at_midnight_in_tz(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str, tz: str
) -> None:
    zone = ZoneInfo(tz)
    start = _local_midnight_clear_of_the_next(zone)
    # The last millisecond of the local yesterday counts for the previous period only.
    post([msg(start - timedelta(milliseconds=1), "1"), msg(start, "2"), msg(start, "3"),
          voice(start - MIN, "4", "700"), voice(start + MIN, "4", None)])  # fmt: skip
    body = ok(get_stats(client, read_key, "dashboard", period="today", tz=tz))
    assert body["periodStart"] == z(start)
    # Voice 23:59-00:01 local: a minute today, a minute the day before.
    totals = (body["totalMessages"], body["totalVoiceMinutes"], body["uniqueActiveUsers"])
    assert totals == (2, 1, 3)
    assert (body["messagesChange"], body["voiceMinutesChange"]) == (100, 0)
    assert body["activeUsersChange"] == 50  # {1, 4} -> {2, 3, 4}


def _local_midnight_clear_of_the_next(zone: ZoneInfo) -> datetime:
    """Today's 00:00 in `zone` as UTC, once the local day is more than 90 s old (the events
    above are then past) and its end more than a minute away (the test ends the same day)."""
    while True:
        now = datetime.now(UTC)
        local = now.astimezone(zone)
        start = datetime.combine(local.date(), time(0), tzinfo=zone).astimezone(UTC)
        if now - start > 1.5 * MIN and start + DAY - now > MIN:
            return start
        clock.sleep(5)
