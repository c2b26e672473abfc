"""The three ways of getting the same events into `events` that the ingest benchmark compares.

Each path starts from a fresh migrated database, times only the loading (inputs are encoded
before the clock starts), and checks afterwards that the table holds exactly what was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import psycopg
from psycopg import sql

from benchmarks.events import EVENT_COLUMNS, binary_copy
from benchmarks.harness import (
    PostgresCpu,
    api_server,
    cpu_seconds,
    fresh_database,
    machine_busy_seconds,
)
from stats_platform.storage.scripts import script

COPY_EVENTS = sql.SQL("COPY events ({}) FROM STDIN (FORMAT BINARY)").format(
    sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS))
)
INSERT_EVENT = script(__file__, "insert_event.sql")
UPSERT_MEMBER_COUNTER = script(__file__, "upsert_member_counter.sql")
SERVER_ENV = {"STATS_REDIS_URL": "redis://127.0.0.1:6379/13"}


@dataclass
class Result:
    path: str
    batch: int
    senders: int
    gzip: bool
    events: int  # events counted: acknowledged as expected (HTTP) or committed
    seconds: float
    client_cpu: float = 0.0
    api_cpu: float | None = None
    pg_cpu: float = 0.0
    busy_cpu: float = 0.0  # the whole machine's busy CPU seconds during the timed part
    latencies: list[float] = field(default_factory=list)
    all_rates: list[float] = field(default_factory=list)  # every round's events/s
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def own_cpu(self) -> float:
        """CPU seconds this path spent: API process, PostgreSQL backends, benchmark process."""
        return self.client_cpu + (self.api_cpu or 0.0) + self.pg_cpu

    @property
    def other_cpu(self) -> float:
        """Busy CPU seconds not spent by this benchmark: other processes, PostgreSQL's background."""
        return max(0.0, self.busy_cpu - self.own_cpu)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def latency_ms(self, q: float) -> float | None:
        if len(self.latencies) < 2:
            return None
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1] * 1000


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def count_events(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
        return row[0] if row else 0


def _check_rows(result: Result, url: str, expected: int) -> None:
    stored = count_events(url)
    if stored != expected:
        result.problems.append(f"events holds {stored} rows, {expected} were sent")


Rows = Sequence[tuple[Any, ...]]


def _load_direct(
    name: str,
    rows: Rows,
    *,
    batch: int,
    writers: int,
    autocommit: bool,
    write: Callable[[psycopg.Connection, Rows, int], None],
) -> Result:
    """`writers` connections, each taking the next `batch` rows and calling `write` on them."""
    todo = iter(range(0, len(rows), batch))
    lock = threading.Lock()

    def writer(conn: psycopg.Connection) -> None:
        while True:
            with lock:
                start = next(todo, None)
            if start is None:
                return
            write(conn, rows[start : start + batch], start)

    with fresh_database(name.split(",")[0].lower()) as url:
        conns = [psycopg.connect(url, autocommit=autocommit) for _ in range(writers)]
        try:
            pg = PostgresCpu(url)
            pg.start()
            busy0, cpu0, t0 = machine_busy_seconds(), time.process_time(), time.perf_counter()
            with ThreadPoolExecutor(writers) as pool:
                for done in [pool.submit(writer, conn) for conn in conns]:
                    done.result()
            result = Result(name, batch, writers, False, len(rows), time.perf_counter() - t0)
            result.client_cpu = time.process_time() - cpu0
            result.busy_cpu = machine_busy_seconds() - busy0
            result.pg_cpu = pg.stop()
        finally:
            for conn in conns:
                conn.close()
        _check_rows(result, url, len(rows))
        return result


def copy_path(rows: Rows, *, batch: int, writers: int = 1) -> Result:
    """psycopg binary COPY into `events`, one transaction per batch: the database's own ceiling."""

    def write(conn: psycopg.Connection, chunk: Rows, _start: int) -> None:
        with conn.cursor() as cur:
            binary_copy(cur, COPY_EVENTS, list(EVENT_COLUMNS), chunk)
        conn.commit()

    return _load_direct("COPY", rows, batch=batch, writers=writers, autocommit=False, write=write)


def seed_path(rows: Rows, *, batch: int, writers: int = 1) -> Result:
    """The seed design: per event one INSERT and one counter upsert for its user, nothing batched.

    `batch` events share a transaction (one request's worth); `batch=1` is autocommit, where
    every statement is its own commit. Concurrent writers' transactions can deadlock on the
    counters (they lock members in no particular order): such a batch is retried, as a client
    would resend a failed request, and counted.
    """
    autocommit = batch == 1
    upserts = [
        None if r[5] is None else (
            r[1], r[5], int(r[4] == "MESSAGE_CREATE"), int(r[4] == "MESSAGE_REACTION_ADD"),
            r[0] if r[4] == "MESSAGE_CREATE" else None, r[0],
        )
        for r in rows
    ]  # fmt: skip
    retries = []

    def write(conn: psycopg.Connection, chunk: Rows, start: int) -> None:
        while True:
            try:
                with contextlib.nullcontext() if autocommit else conn.transaction():
                    for row, upsert in zip(chunk, upserts[start : start + len(chunk)], strict=True):
                        conn.execute(INSERT_EVENT, row)
                        if upsert is not None:
                            conn.execute(UPSERT_MEMBER_COUNTER, upsert)
                return
            except psycopg.errors.DeadlockDetected:
                retries.append(start)

    name = "seed, autocommit" if autocommit else "seed, txn per batch"
    result = _load_direct(
        name, rows, batch=batch, writers=writers, autocommit=autocommit, write=write
    )
    if retries:
        result.notes.append(f"{len(retries)} deadlocked batch(es) retried")
    return result


@dataclass
class HttpLoad:
    """Request bodies encoded before timing, and the number of events in each."""

    bodies: list[bytes]
    counts: list[int]
    gzip: bool


def encode(events: list[dict], batch: int, gz: bool) -> HttpLoad:
    bodies = [orjson.dumps(list(c)) for c in chunks(events, batch)]
    if gz:
        bodies = [gzip.compress(b, compresslevel=6) for b in bodies]
    return HttpLoad(bodies, [len(c) for c in chunks(events, batch)], gz)


async def _send(
    client: httpx.AsyncClient, load: HttpLoad, senders: int, result: Result | None
) -> None:
    headers = {"content-type": "application/json"}
    if load.gzip:
        headers["content-encoding"] = "gzip"
    todo = iter(range(len(load.bodies)))  # shared by the senders: each takes the next batch

    async def sender() -> None:
        for i in todo:
            t0 = time.perf_counter()
            answer = await client.post("/v1/events", content=load.bodies[i], headers=headers)
            elapsed = time.perf_counter() - t0
            accepted = answer.json().get("accepted") if answer.status_code == 202 else None
            if result is None:
                if accepted != load.counts[i]:
                    raise RuntimeError(
                        f"warm-up answered {answer.status_code}: {answer.text[:300]}"
                    )
                continue
            result.latencies.append(elapsed)
            if accepted == load.counts[i]:
                result.events += load.counts[i]
            elif len(result.problems) < 5:
                result.problems.append(f"batch {i}: {answer.status_code} {answer.text[:200]}")

    await asyncio.gather(*(sender() for _ in range(senders)))


async def _drive(
    base_url: str, server_pid: int, db_url: str, load: HttpLoad, warmup: HttpLoad, senders: int
) -> Result:
    batch = max(load.counts)
    result = Result("HTTP", batch, senders, load.gzip, 0, 0.0)
    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        # Warm-up: opens the keep-alive connections and the API's pool before the clock starts.
        await _send(client, warmup, senders, None)
        pg = PostgresCpu(db_url)
        pg.start()
        busy0, api0 = machine_busy_seconds(), cpu_seconds(server_pid)
        cpu0, t0 = time.process_time(), time.perf_counter()
        await _send(client, load, senders, result)
        result.seconds = time.perf_counter() - t0
        result.busy_cpu = machine_busy_seconds() - busy0
        result.client_cpu = time.process_time() - cpu0
        result.api_cpu = cpu_seconds(server_pid) - api0
        result.pg_cpu = pg.stop()
    return result


def http_path(
    load: HttpLoad,
    warmup: HttpLoad,
    *,
    senders: int,
    env: dict[str, str],
    label: str,
    command: list[str] | None = None,
) -> Result:
    """POST /v1/events to uvicorn in a subprocess against a fresh database."""
    with (
        fresh_database(label) as url,
        api_server(url, env=env, name=label, command=command) as server,
    ):
        result = asyncio.run(
            _drive(server.base_url, server.process.pid, url, load, warmup, senders)
        )
        expected = sum(load.counts) + sum(warmup.counts)
        _check_rows(result, url, expected)
        if result.events != sum(load.counts):
            result.problems.append(
                f"{result.events} of {sum(load.counts)} events acknowledged as expected"
            )
        return result
