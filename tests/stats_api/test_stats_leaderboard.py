"""GET .../stats/leaderboard: scores within the period, ties by userId, ranks without gaps."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from stats_testkit import DAY, MIN, fixed_events, get_stats, midnight, msg, ok, z

from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD


@pytest.fixture
def read_key(db: psycopg.Connection) -> str:
    return create_key(db, scope="read", guild_ids=[GUILD])[1]


def entry(rank: int, user: str, score: int, messages: int, voice: int, reactions: int) -> dict:
    badge = {1: "gold", 2: "silver", 3: "bronze"}.get(rank)
    return {"rank": rank, "userId": user, "score": score, "totalMessages": messages,
            "totalVoiceMinutes": voice, "totalReactions": reactions, "badge": badge}  # fmt: skip


# Day C of the fixed set: (messages, voice minutes, reactions given) per member.
#   "2": 1, 30 (30m40s), 1    "9": 3, 10 (10m30s), 2    "10": 3, 0, 0
@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("messages", [entry(1, "9", 3, 3, 10, 2), entry(2, "10", 3, 3, 0, 0),
                      entry(3, "2", 1, 1, 30, 1)]),
        ("voice", [entry(1, "2", 30, 1, 30, 1), entry(2, "9", 10, 3, 10, 2)]),
        ("reactions", [entry(1, "9", 2, 3, 10, 2), entry(2, "2", 1, 1, 30, 1)]),
        # overall = messages + voice minutes + reactions given: 32, 15, 3
        ("overall", [entry(1, "2", 32, 1, 30, 1), entry(2, "9", 15, 3, 10, 2),
                     entry(3, "10", 3, 3, 0, 0)]),
    ],
)  # fmt: skip
def test_categories_rank_the_period(
    post: Callable[..., httpx.Response],
    client: TestClient,
    read_key: str,
    category: str,
    expected: list[dict],
) -> None:
    d = midnight(10)
    post(fixed_events(d))
    body = ok(
        get_stats(client, read_key, "leaderboard", span=(d + DAY, d + 2 * DAY), category=category)
    )
    assert (body["periodStart"], body["periodEnd"], body["resolution"]) == (
        z(d + DAY), z(d + 2 * DAY), "exact",
    )  # fmt: skip
    assert body["category"] == category
    assert body["entries"] == expected


def test_ties_go_by_user_id_numerically_and_limit_cuts(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    d = midnight(3)
    # Two messages each for "100", "20", "3", one for "1000": text order would put "100" first.
    users = ["100", "20", "3", "100", "20", "3", "1000"]
    post([msg(d + i * MIN, user) for i, user in enumerate(users)])
    body = ok(get_stats(client, read_key, "leaderboard", span=(d, d + DAY), limit=3))
    assert [(e["rank"], e["userId"], e["score"], e["badge"]) for e in body["entries"]] == [
        (1, "3", 2, "gold"),
        (2, "20", 2, "silver"),
        (3, "100", 2, "bronze"),
    ]
    body = ok(get_stats(client, read_key, "leaderboard", span=(d, d + DAY), limit=10))
    assert [(e["rank"], e["userId"], e["badge"]) for e in body["entries"]][3:] == [
        (4, "1000", None)
    ]


def test_a_period_without_activity_has_no_entries(
    post: Callable[..., httpx.Response], client: TestClient, read_key: str
) -> None:
    d = midnight(10)
    post(fixed_events(d))
    body = ok(get_stats(client, read_key, "leaderboard", span=(d + 5 * DAY, d + 6 * DAY)))
    assert body["entries"] == [] and body["dataAsOf"] is None
