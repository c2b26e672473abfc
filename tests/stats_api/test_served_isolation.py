"""A served API under a flood of costly reads still takes the bot's batches."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import httpx
import psycopg
from stats_testkit import HOUR, midnight, msg

from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD, Api

READERS = 16
BATCHES = 20
ZONES = ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York", "Australia/Sydney"]
# The most expensive questions a key can ask: the whole history, a month by the hour, every member.
COSTLY = [
    ("dashboard", {"from": "2015-01-01T00:00:00Z"}),
    ("activity", {"period": "month", "granularity": "hour"}),
    ("members", {"sortBy": "lastSeen", "pageSize": "100"}),
    ("leaderboard", {"period": "month", "category": "overall", "limit": "100"}),
]


def history() -> list[dict]:
    """3,000 messages of 300 members over the last 25 days."""
    start = midnight(25)
    return [
        {**msg(start + i * timedelta(minutes=12), str(1000 + i % 300)), "id": f"h{i}"}
        for i in range(3000)
    ]


def test_ingest_answers_202_while_sixteen_readers_flood(
    start_api: Callable[..., Api],
) -> None:
    # Two read connections waited on for one second at most: the readers queue and some get
    # 503, while ingest and key lookups use their own pool.
    api = start_api(auth="on", STATS_DB_POOL_SIZE="2", STATS_DB_POOL_TIMEOUT_SECONDS="1")
    with psycopg.connect(api.database_url, autocommit=True) as conn:
        ingest = create_key(conn, scope="ingest", guild_ids=[GUILD])[1]
        read = create_key(conn, scope="read", guild_ids=[GUILD])[1]
    bot = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {ingest}"}, timeout=10)
    assert bot.post("/v1/events", json=history()).json()["accepted"] == 3000

    done = threading.Event()
    reads: Counter[int] = Counter()
    lock = threading.Lock()

    def reader(n: int) -> None:
        headers = {"Authorization": f"Bearer {read}"}
        with httpx.Client(base_url=api.url, headers=headers, timeout=30) as client:
            i = n
            while not done.is_set():
                path, params = COSTLY[i % len(COSTLY)]
                answer = client.get(
                    f"/v1/guilds/{GUILD}/stats/{path}",
                    params={**params, "tz": ZONES[i % len(ZONES)]},
                )
                with lock:
                    reads[answer.status_code] += 1
                i += 1

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(READERS)]
    for thread in threads:
        thread.start()
    answers = []
    try:
        for b in range(BATCHES):
            # 10 s per request is a deadlock guard, not a latency claim.
            batch = [{**msg(midnight(1) + b * HOUR, "7"), "id": f"live-{b}-{i}"} for i in range(50)]
            answers.append(bot.post("/v1/events", json=batch))
    finally:
        done.set()
        for thread in threads:
            thread.join()
        bot.close()
    assert [a.status_code for a in answers] == [202] * BATCHES
    assert sum(a.json()["accepted"] for a in answers) == BATCHES * 50
    assert set(reads) <= {200, 503}
    assert reads[200] > 0
    with psycopg.connect(api.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (3000 + BATCHES * 50,)
