"""Identical answers in flight are computed once: the others wait for its body, holding no connection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import psycopg
import pytest
import redis
from fastapi import Response
from pydantic import BaseModel
from stats_testkit import DAY, fixed_events, midnight

from stats_api.api.responder import Snapshot, StatsResponder
from stats_api.in_flight import InFlight
from stats_api.redis_gate import RedisGate
from stats_platform.settings import Settings
from stats_platform.storage.database import open_pool
from tests.testkit.api import GUILD

WAIT_S = 10


class Messages(BaseModel):
    totalMessages: int


class CountedFlights(InFlight):
    """The real registry, telling the test how many requests joined a computation under way."""

    def __init__(self) -> None:
        super().__init__()
        self.followers = threading.Semaphore(0)

    def join(self, key: str) -> Future[bytes] | None:
        running = super().join(key)
        if running is not None:
            self.followers.release()
        return running


@pytest.fixture
def stored(post: Callable[..., httpx.Response]) -> None:
    post(fixed_events(midnight(10)))


@pytest.fixture
def flights() -> CountedFlights:
    return CountedFlights()


@pytest.fixture
def responders(
    stored: None, settings: Settings, flights: CountedFlights
) -> Iterator[Callable[[], StatsResponder]]:
    """Responders of one process: two reader connections between them, one registry of flights."""
    pool = open_pool(settings.database_url, max_size=2, timeout=WAIT_S, name="test-shared")
    pool.open(wait=True)
    gate = RedisGate.from_url(settings.redis_url)
    cold = settings.model_copy(update={"cache_ttl_seconds": 0})
    try:
        yield lambda: StatsResponder(GUILD, pool, gate, cold, flights)
    finally:
        pool.close()


def day_c_messages(computed: list[str], gate: threading.Event | None = None) -> Callable:
    """The answer of day C (7 messages by fixed_events), noting each computation in `computed`."""

    def compute(snap: Snapshot) -> Messages:
        computed.append(threading.current_thread().name)
        if gate is not None:
            assert gate.wait(WAIT_S)
        day = midnight(9)
        totals = snap.activity([(day, day + DAY)], members=False).totals
        return Messages(totalMessages=totals["total_messages"][0])

    return compute


def answer(responder: StatsResponder, compute: Callable) -> Response:
    return responder.respond("day-c", {"day": "C"}, compute)


def test_requests_that_ask_while_an_answer_is_computed_share_it(
    responders: Callable[[], StatsResponder], flights: CountedFlights
) -> None:
    computed: list[str] = []
    gate = threading.Event()
    with ThreadPoolExecutor(3) as threads:
        first = threads.submit(answer, responders(), day_c_messages(computed, gate))
        # Two more while the first computes: with two connections in the pool and the first
        # holding one, the third request gets in only if the second waits without one.
        others = [threads.submit(answer, responders(), day_c_messages(computed)) for _ in range(2)]
        for _ in others:
            assert flights.followers.acquire(timeout=WAIT_S)
        gate.set()
        responses = [first.result(WAIT_S), *(o.result(WAIT_S) for o in others)]
    assert len(computed) == 1
    assert [r.headers["X-Stats-Cache"] for r in responses] == ["off", "shared", "shared"]
    assert {bytes(r.body) for r in responses} == {b'{"totalMessages":7}'}


def test_a_failed_computation_leaves_its_followers_to_compute_their_own(
    responders: Callable[[], StatsResponder], flights: CountedFlights
) -> None:
    computed: list[str] = []
    gate = threading.Event()

    def fails(snap: Snapshot) -> Messages:
        computed.append("failed")
        assert gate.wait(WAIT_S)
        raise RuntimeError("the leader's client left")

    with ThreadPoolExecutor(2) as threads:
        first = threads.submit(answer, responders(), fails)
        second = threads.submit(answer, responders(), day_c_messages(computed))
        assert flights.followers.acquire(timeout=WAIT_S)
        gate.set()
        with pytest.raises(RuntimeError, match="client left"):
            first.result(WAIT_S)
        response = second.result(WAIT_S)
    assert len(computed) == 2 and computed[0] == "failed"
    assert (response.headers["X-Stats-Cache"], bytes(response.body)) == (
        "off",
        b'{"totalMessages":7}',
    )


def test_answers_asked_one_after_another_are_each_computed(
    responders: Callable[[], StatsResponder],
) -> None:
    computed: list[str] = []
    first = answer(responders(), day_c_messages(computed))
    second = answer(responders(), day_c_messages(computed))
    assert len(computed) == 2
    assert [r.headers["X-Stats-Cache"] for r in (first, second)] == ["off", "off"]
    assert bytes(first.body) == bytes(second.body) == b'{"totalMessages":7}'


def test_an_answer_is_cached_before_the_requests_waiting_for_it_are_released(
    stored: None, settings: Settings
) -> None:
    """So an identical request that comes after finds it under way or cached, never neither."""
    cached_at_release: list[bytes | None] = []
    store = redis.Redis.from_url(settings.redis_url)

    class Releasing(InFlight):
        def finish(self, key: str, body: bytes | None) -> None:
            cached_at_release.append(store.get(key))  # type: ignore[arg-type]
            super().finish(key, body)

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        gate = RedisGate.from_url(settings.redis_url)
        responder = StatsResponder(GUILD, conn, gate, settings, Releasing())
        first = answer(responder, day_c_messages([]))
        again = answer(StatsResponder(GUILD, conn, gate, settings, Releasing()), day_c_messages([]))
    assert cached_at_release == [b'{"totalMessages":7}']
    assert (first.headers["X-Stats-Cache"], again.headers["X-Stats-Cache"]) == ("miss", "hit")
