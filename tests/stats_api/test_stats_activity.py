"""GET .../stats/activity: buckets aligned to tz, no gaps, the first counted from periodStart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from stats_testkit import DAY, HOUR, MIN, fixed_events, get_stats, midnight, msg, ok, z

from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD

ZERO = {"totalMessages": 0, "totalVoiceMinutes": 0, "totalReactions": 0,
        "uniqueActiveUsers": 0, "joins": 0, "leaves": 0}  # fmt: skip
MS = timedelta(milliseconds=1)


@pytest.fixture
def read_key(db: psycopg.Connection) -> str:
    return create_key(db, scope="read", guild_ids=[GUILD])[1]


def point(at: datetime, **counts: int) -> dict:
    return {"timestamp": z(at), **ZERO, **counts}


def series(client: TestClient, key: str, span: tuple[datetime, datetime], **params: str) -> list:
    body = ok(get_stats(client, key, "activity", span=span, **params))
    assert (body["periodStart"], body["periodEnd"]) == (z(span[0]), z(span[1]))
    return body["dataPoints"]  # type: ignore[no-any-return]


def test_days_in_utc_with_an_empty_day_as_zeros(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    d = midnight(10)
    post(fixed_events(d))
    assert series(client, read_key, (d - DAY, d + 2 * DAY), granularity="day") == [
        point(d - DAY),
        point(d, totalMessages=8, totalReactions=2, uniqueActiveUsers=1),
        point(d + DAY, totalMessages=7, totalVoiceMinutes=41, totalReactions=3,
              uniqueActiveUsers=3, joins=1, leaves=1),
    ]  # fmt: skip


def test_hours_of_one_day(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    d = midnight(10)
    c = d + DAY
    post(fixed_events(d))
    expected = [point(c + h * HOUR) for h in range(24)]
    expected[9] = point(c + 9 * HOUR, joins=1, uniqueActiveUsers=1)
    expected[10] = point(c + 10 * HOUR, totalVoiceMinutes=30, uniqueActiveUsers=1)  # 30m40s
    expected[12] = point(c + 12 * HOUR, totalMessages=3, uniqueActiveUsers=1)
    expected[13] = point(c + 13 * HOUR, totalMessages=3, uniqueActiveUsers=1)
    expected[14] = point(c + 14 * HOUR, totalMessages=1, uniqueActiveUsers=1)
    expected[15] = point(c + 15 * HOUR, totalReactions=3, uniqueActiveUsers=2)  # "2" and "9"
    # "10" leaves at 23:00, "9" is in voice from 23:49:30 (10m30s before midnight).
    expected[23] = point(c + 23 * HOUR, totalVoiceMinutes=10, uniqueActiveUsers=2, leaves=1)
    assert series(client, read_key, (c, c + DAY), granularity="hour") == expected


def test_days_in_kolkata_start_at_18_30_utc(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    d = midnight(10)
    post(fixed_events(d))
    # Local midnights: d-1 18:30Z, d 18:30Z, d+1 18:30Z; the first bucket counts from d 00:00Z.
    local = timedelta(hours=18, minutes=30)
    assert series(client, read_key, (d, d + 2 * DAY), granularity="day", tz="Asia/Kolkata") == [
        point(d - DAY + local, totalMessages=8, totalReactions=2, uniqueActiveUsers=1),
        # C until 18:30Z: the join, voice of "2", 7 messages, 3 reactions.
        point(d + local, totalMessages=7, totalVoiceMinutes=30, totalReactions=3,
              uniqueActiveUsers=3, joins=1),
        # "10" leaves at 23:00Z; "9"'s voice 23:49:30 to the period's end at d+2 00:00Z.
        point(d + DAY + local, totalVoiceMinutes=10, uniqueActiveUsers=2, leaves=1),
    ]  # fmt: skip


def test_hours_in_kathmandu_start_at_quarter_past_utc(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    d = midnight(5)
    post([msg(d + 10 * MIN, "1"), msg(d + 15 * MIN, "2"), msg(d + 75 * MIN - MS, "3"),
          msg(d + 135 * MIN, "4"), msg(d + 3 * HOUR - MS, "4"), msg(d + 3 * HOUR, "5")])  # fmt: skip
    # +05:45: local hours start at :15 UTC. Buckets [00:00, 00:15), [00:15, 01:15),
    # [01:15, 02:15) empty, [02:15, 03:00); the message at 03:00 is past the period.
    assert series(client, read_key, (d, d + 3 * HOUR), granularity="hour", tz="Asia/Kathmandu") == [
        point(d - 45 * MIN, totalMessages=1, uniqueActiveUsers=1),
        point(d + 15 * MIN, totalMessages=2, uniqueActiveUsers=2),
        point(d + 75 * MIN),
        point(d + 135 * MIN, totalMessages=2, uniqueActiveUsers=1),
    ]


@pytest.mark.parametrize(
    ("tz", "offset", "counts"),
    [
        # Sunday 20:00Z and 23:59:59.999Z are still last week in UTC...
        ("UTC", timedelta(0), (3, 1)),
        # ...and already Monday in Kolkata, whose week starts at Sunday 18:30Z.
        ("Asia/Kolkata", timedelta(hours=5, minutes=30), (1, 3)),
    ],
)
def test_weeks_start_on_monday_in_tz(
    post: Callable[..., httpx.Response],
    client: TestClient,
    read_key: str,
    tz: str,
    offset: timedelta,
    counts: tuple[int, int],
) -> None:
    first = midnight(20)
    monday = first - first.weekday() * DAY
    post([msg(monday + 2 * DAY, "4"), msg(monday + 6 * DAY + 20 * HOUR, "1"),
          msg(monday + 7 * DAY - MS, "2"), msg(monday + 7 * DAY, "3")])  # fmt: skip
    span = (monday + 2 * DAY, monday + 9 * DAY + 12 * HOUR)  # Wednesday to next Wednesday noon
    points = series(client, read_key, span, granularity="week", tz=tz)
    assert [p["timestamp"] for p in points] == [z(monday - offset), z(monday + 7 * DAY - offset)]
    assert tuple(p["totalMessages"] for p in points) == counts
