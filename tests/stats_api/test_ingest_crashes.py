"""The API killed mid-batch at each named point of ingest: a retry after the restart loses
nothing, stores nothing twice, and acknowledges only what is stored."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg
import pytest
from stats_testkit import midnight, msg

from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD, Api

POINTS = ["ingest:after_copy", "ingest:before_commit", "ingest:after_commit"]
BATCH = [{**msg(midnight(1), str(100 + i % 7)), "id": f"crash-{i}"} for i in range(100)]


def send(api: Api, key: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{api.url}/v1/events",
        json=BATCH,
        headers={"Authorization": f"Bearer {key}", **headers},
        timeout=10,
    )


@pytest.mark.parametrize("idempotency_key", [None, "crash-batch"])
@pytest.mark.parametrize("point", POINTS)
def test_a_crash_at_each_point_then_a_retry_stores_the_batch_once(
    start_api: Callable[..., Api], point: str, idempotency_key: str | None
) -> None:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    doomed = start_api(auth="on", STATS_FAULT=point)
    with psycopg.connect(doomed.database_url, autocommit=True) as conn:
        key = create_key(conn, scope="ingest", guild_ids=[GUILD])[1]
    with pytest.raises(httpx.TransportError):
        send(doomed, key, headers)

    committed = point == "ingest:after_commit"
    with psycopg.connect(doomed.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (100 if committed else 0,)

    restarted = start_api(auth="on")
    retry = send(restarted, key, headers)
    assert retry.status_code == 202
    if committed and idempotency_key:
        # The first answer, which the crash kept from the bot.
        assert retry.json() == {"accepted": 100, "duplicates": 0, "rejected": 0, "errors": []}
        assert retry.headers["idempotent-replayed"] == "true"
    elif committed:
        assert retry.json() == {"accepted": 0, "duplicates": 100, "rejected": 0, "errors": []}
    else:
        assert retry.json() == {"accepted": 100, "duplicates": 0, "rejected": 0, "errors": []}
    with psycopg.connect(restarted.database_url) as conn:
        counts = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM events WHERE event_id LIKE 'crash-%'"
        ).fetchone()
        assert counts == (100, 100)
        answers = conn.execute("SELECT count(*) FROM ingest_idempotency").fetchone()
        assert answers == (1 if idempotency_key else 0,)
