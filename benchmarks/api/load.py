"""Latency of the stats endpoints over HTTP, and of the same answers computed from raw events.

A cell is one (endpoint, guild, concurrency, mode): `concurrency` workers send the same request
back to back until `target` requests are out, or the cell's time budget is spent (never fewer than
`least`). Only good answers count in the latencies; failures are kept apart, with their cause.
Latency is the client's wall time per request (httpx, one asyncio client in the benchmark
process, which shares the 2 cores with the server and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import redis.asyncio as aioredis

from benchmarks.api import raw as api_raw
from stats_api.live.presence import live_key, marker_key

# A raw-SQL answer slower than this is not run 16 at a time: one round would take minutes.
RAW_CONCURRENT_LIMIT_S = 2.0


@dataclass(frozen=True)
class Guild:
    size: str  # big, median, small (of the 50-guild world), huge
    guild_id: str
    events: int
    top_user: str


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str  # under /v1/guilds/{guild}/stats/; {user} is the guild's most active member
    params: dict[str, Any]


ENDPOINTS = [
    Endpoint("dashboard week", "dashboard", {"period": "week"}),
    Endpoint("dashboard month", "dashboard", {"period": "month"}),
    Endpoint("members p1 messages", "members", {"page": 1, "sortBy": "messages"}),
    Endpoint("member detail week", "members/{user}", {"period": "week"}),
    Endpoint(
        "leaderboard month overall", "leaderboard", {"period": "month", "category": "overall"}
    ),
    Endpoint("activity month day", "activity", {"period": "month", "granularity": "day"}),
    Endpoint("activity week hour", "activity", {"period": "week", "granularity": "hour"}),
    Endpoint("voice live", "voice/live", {}),
]


@dataclass
class Cell:
    endpoint: str
    guild: str
    concurrency: int
    mode: str  # cold, warm, raw SQL
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    shared: int = 0
    """Cold answers another request of the same server computed while this one waited for it."""

    def percentile(self, p: int) -> float | None:
        """Milliseconds; p99 needs 100 samples and p95 20 to mean anything, else None."""
        if len(self.latencies) < {50: 1, 95: 20, 99: 100}[p]:
            return None
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


def url_of(base: str, guild: Guild, endpoint: Endpoint) -> str:
    path = endpoint.path.format(user=guild.top_user)
    return f"{base}/v1/guilds/{guild.guild_id}/stats/{path}"


async def _drive(
    send: Callable[[], Awaitable[str | None]],
    cell: Cell,
    *,
    target: int,
    least: int,
    budget_s: float,
) -> None:
    issued = 0
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal issued
        while issued < target and (issued < least or time.perf_counter() - started < budget_s):
            issued += 1
            t0 = time.perf_counter()
            problem = await send()
            if problem:
                cell.errors.append(problem)
            else:
                cell.latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(cell.concurrency)))
    cell.seconds = time.perf_counter() - started


async def http_cell(
    base: str,
    guild: Guild,
    endpoint: Endpoint,
    *,
    concurrency: int,
    mode: str,
    target: int,
    least: int,
    budget_s: float,
    redis_url: str,
) -> Cell:
    """Cold: the server runs with the answer cache off, and voice/live's Redis hash is dropped
    before each request (untimed), so it is rebuilt from the events. Warm: cache on, primed."""
    cell = Cell(endpoint.name, guild.size, concurrency, mode)
    url = url_of(base, guild, endpoint)
    expected = {"cold": "off", "warm": "hit"}[mode]
    live = endpoint.path == "voice/live"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with (
        httpx.AsyncClient(limits=limits, timeout=120) as client,
        aioredis.from_url(redis_url) as rds,
    ):
        await client.get(url, params=endpoint.params)  # primes the cache, pool and imports

        async def send() -> str | None:
            if live and mode == "cold":
                await rds.delete(live_key(guild.guild_id), marker_key(guild.guild_id))
            answer = await client.get(url, params=endpoint.params)
            if answer.status_code != 200:
                return f"HTTP {answer.status_code}: {answer.text[:200]}"
            cache = answer.headers.get("x-stats-cache")
            if mode == "cold" and cache == "shared":
                cell.shared += 1
            elif not live and cache != expected:
                return f"X-Stats-Cache {cache}, expected {expected}"
            return None

        await _drive(send, cell, target=target, least=least, budget_s=budget_s)
    return cell


def raw_window(endpoint: Endpoint, now: datetime) -> tuple[datetime, datetime]:
    days = {"week": 7, "month": 30}.get(endpoint.params.get("period", ""), 0)
    return now - timedelta(days=days), now


def raw_answer(
    conn: psycopg.Connection, guild: Guild, endpoint: Endpoint, start: datetime, end: datetime
) -> dict:
    """The endpoint's answer from raw events for [start, end); `end` is the now of lifetime
    rows and live voice."""
    now = end
    kind = endpoint.path.split("/")[0] if endpoint.path != "members/{user}" else "member"
    g = guild.guild_id
    if kind == "dashboard":
        return api_raw.dashboard(conn, g, start, end)
    if kind == "members":
        return api_raw.members(conn, g, now)
    if kind == "member":
        return api_raw.member(conn, g, guild.top_user, start, end)
    if kind == "leaderboard":
        return api_raw.leaderboard(conn, g, start, end)
    if kind == "activity":
        return api_raw.activity(conn, g, start, end, endpoint.params["granularity"])
    return api_raw.voice_live(conn, g, now)


def raw_cell(
    url: str,
    guild: Guild,
    endpoint: Endpoint,
    *,
    concurrency: int,
    target: int,
    least: int,
    budget_s: float,
) -> Cell:
    """The naive answers, timed like the HTTP cells: `concurrency` threads, one connection each."""
    cell = Cell(endpoint.name, guild.size, concurrency, "raw SQL")
    local = threading.local()
    connections: list[psycopg.Connection] = []
    lock = threading.Lock()

    def once() -> str | None:
        if not hasattr(local, "conn"):
            local.conn = api_raw.connect(url)
            with lock:
                connections.append(local.conn)
        raw_answer(local.conn, guild, endpoint, *raw_window(endpoint, _now()))
        return None

    with ThreadPoolExecutor(concurrency) as pool:
        loop = asyncio.new_event_loop()
        try:

            async def send() -> str | None:
                return await loop.run_in_executor(pool, once)

            loop.run_until_complete(
                _drive(send, cell, target=target, least=least, budget_s=budget_s)
            )
        finally:
            loop.close()
    for conn in connections:
        conn.close()
    return cell


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
