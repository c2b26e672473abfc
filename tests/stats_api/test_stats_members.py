"""GET .../stats/members and members/{userId}: lifetime rows, sorted, filtered and paged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from stats_testkit import DAY, HOUR, MIN, fixed_events, get_stats, join, midnight, msg, ok, z

from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD

SECOND = timedelta(seconds=1)


@pytest.fixture
def read_key(db: psycopg.Connection) -> str:
    return create_key(db, scope="read", guild_ids=[GUILD])[1]


def member_ids(client: TestClient, key: str, **params: object) -> list[str]:
    return [m["userId"] for m in ok(get_stats(client, key, "members", **params))["members"]]


def test_lifetime_rows_of_the_fixed_set(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    d = midnight(10)
    c, e = d + DAY, d - 2 * DAY
    post(fixed_events(d))
    body = ok(get_stats(client, read_key, "members"))
    assert body["pagination"] == {"total": 4, "page": 1, "pageSize": 20, "totalPages": 1}
    assert body["periodStart"] == z(e + 8 * HOUR)  # the first event kept
    assert body["members"] == [
        {"userId": "10", "guildId": GUILD, "totalMessages": 11, "totalVoiceMinutes": 0,
         "totalReactionsGiven": 2, "totalReactionsReceived": 2,  # from "9" on C
         "lastMessageAt": z(c + 13 * HOUR + 2 * MIN), "lastVoiceAt": None,
         "lastSeen": z(c + 23 * HOUR), "joinedAt": None},
        {"userId": "9", "guildId": GUILD, "totalMessages": 3, "totalVoiceMinutes": 30,  # 30m30s
         "totalReactionsGiven": 2, "totalReactionsReceived": 3,  # 2 from "10", 1 from "2"
         "lastMessageAt": z(c + 12 * HOUR + 2 * MIN), "lastVoiceAt": z(c + DAY + 20 * MIN),
         "lastSeen": z(c + DAY + 20 * MIN), "joinedAt": None},
        {"userId": "2", "guildId": GUILD, "totalMessages": 1, "totalVoiceMinutes": 30,  # 30m40s
         "totalReactionsGiven": 1, "totalReactionsReceived": 0,
         "lastMessageAt": z(c + 14 * HOUR), "lastVoiceAt": z(c + 10 * HOUR + 30 * MIN + 40 * SECOND),
         "lastSeen": z(c + 15 * HOUR), "joinedAt": z(c + 9 * HOUR)},
        {"userId": "12", "guildId": GUILD, "totalMessages": 0, "totalVoiceMinutes": 30,  # 30m50s
         "totalReactionsGiven": 0, "totalReactionsReceived": 0, "lastMessageAt": None,
         "lastVoiceAt": z(e + 8 * HOUR + 30 * MIN + 50 * SECOND),
         "lastSeen": z(e + 8 * HOUR + 30 * MIN + 50 * SECOND), "joinedAt": None},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sortBy": "messages"}, ["10", "9", "2", "12"]),
        ({"sortBy": "messages", "sortOrder": "asc"}, ["12", "2", "9", "10"]),
        # 30 minutes each for "2", "9", "12" (30m40s, 30m30s, 30m50s): a tie, by userId.
        ({"sortBy": "voice"}, ["2", "9", "12", "10"]),
        ({"sortBy": "voice", "sortOrder": "asc"}, ["10", "2", "9", "12"]),
        ({"sortBy": "reactions"}, ["9", "10", "2", "12"]),  # 2, 2, 1, 0
        ({"sortBy": "lastSeen"}, ["9", "10", "2", "12"]),
        ({"minMessages": 3}, ["10", "9"]),
        ({"minVoiceMinutes": 30}, ["9", "2", "12"]),
        ({"minVoiceMinutes": 31}, []),
        ({"activeOnly": "true"}, []),  # nobody seen in the last 7 days
    ],
)
def test_sorts_and_filters(
    post: Callable[..., httpx.Response],
    client: TestClient,
    read_key: str,
    params: dict,
    expected: list[str],
) -> None:
    post(fixed_events(midnight(10)))
    assert member_ids(client, read_key, **params) == expected


def test_pages_never_repeat_or_drop_a_member(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    d = midnight(3)
    # Users "1".."12" join; user n then sends n % 3 messages, so most rows tie with others.
    # "12" also writes an hour ago; "13" only joined, 9 days ago.
    post([join(d + n * MIN, str(n)) for n in range(1, 13)]
         + [msg(d + n * MIN + i * SECOND, str(n)) for n in range(1, 13) for i in range(n % 3)]
         + [msg(datetime.now(UTC) - HOUR, "12"), join(d - 6 * DAY, "13")])  # fmt: skip
    # 2 messages: 2, 5, 8, 11; one: 1, 4, 7, 10, 12; none: 3, 6, 9, 13.
    expected = ["2", "5", "8", "11", "1", "4", "7", "10", "12", "3", "6", "9", "13"]
    pages = [
        ok(get_stats(client, read_key, "members", page=page, pageSize=5)) for page in (1, 2, 3, 4)
    ]
    assert [m["userId"] for p in pages for m in p["members"]] == expected
    assert [len(p["members"]) for p in pages] == [5, 5, 3, 0]
    assert pages[3]["pagination"] == {"total": 13, "page": 4, "pageSize": 5, "totalPages": 3}
    # Seen in the last 7 days: all but "13"; the latest first.
    active = member_ids(client, read_key, activeOnly="true", sortBy="lastSeen")
    assert active == [str(n) for n in range(12, 0, -1)]


def test_one_member_with_activity_in_the_period(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    d = midnight(10)
    c = d + DAY
    post(fixed_events(d))
    body = ok(get_stats(client, read_key, "members/009", span=(c, c + DAY)))
    assert (body["userId"], body["totalMessages"], body["totalVoiceMinutes"]) == ("9", 3, 30)
    assert (body["periodStart"], body["periodEnd"]) == (z(c), z(c + DAY))
    assert body["activity"] == {
        "totalMessages": 3,
        "totalVoiceMinutes": 10,  # 23:49:30 to the period's end
        "totalReactionsGiven": 2,
        "totalReactionsReceived": 1,  # from "2"; those of "10" were on day P
        "lastMessageAt": z(c + 12 * HOUR + 2 * MIN),
        "lastVoiceAt": z(c + DAY),
        "lastSeen": z(c + DAY),
    }
    quiet = ok(get_stats(client, read_key, "members/12", span=(c, c + DAY)))
    assert quiet["totalVoiceMinutes"] == 30
    assert quiet["activity"] == {
        "totalMessages": 0, "totalVoiceMinutes": 0, "totalReactionsGiven": 0,
        "totalReactionsReceived": 0, "lastMessageAt": None, "lastVoiceAt": None, "lastSeen": None,
    }  # fmt: skip


def test_unknown_member_is_404(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    post(fixed_events(midnight(10)))
    response = get_stats(client, read_key, "members/77")
    assert response.status_code == 404
    assert response.json() == {"detail": f"member 77 not found in guild {GUILD}"}
