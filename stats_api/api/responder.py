"""How every stats route answers: one read-only snapshot per request, 404 for unknown guilds, cache.

A request's queries run in one REPEATABLE READ, READ ONLY transaction, so the numbers of one
answer (a period and its previous period, a page and its total) come from the same data, and
as the `stats_reader` role, whose row-level policies show only the requested guild's rows.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any

import polars as pl
import psycopg
from fastapi import Depends, HTTPException, Request, Response
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

from stats_api.answer_cache import AnswerCache, cache_key
from stats_api.api.deps import PoolDep, ReadGuildDep, RedisDep, SettingsDep
from stats_api.api.params import PeriodQuery
from stats_api.engine.activity import Activity, activity
from stats_api.engine.lifetime import LifetimeAndPeriods, lifetime_and_periods
from stats_api.in_flight import InFlight, SharedComputationFailed
from stats_api.live.presence import LivePresence
from stats_api.periods import TimeRange
from stats_api.redis_gate import RedisGate
from stats_platform.domain.grains import DAILY
from stats_platform.domain.instants import epoch_us_of, iso_z, iso_z_ms
from stats_platform.settings import Settings, raw_retention_horizon
from stats_platform.storage.tenant import as_guild_reader

# Ingestion records each arrival in its window of every grain: the daily rows alone give the newest.
NEWEST_ARRIVAL_SQL = (
    "SELECT max(last_received_at) FROM window_arrivals WHERE guild_id = %s AND period_type = %s"
)
NEWEST_VOICE_ARRIVAL_SQL = (
    "SELECT max(last_voice_received_at) FROM window_arrivals"
    " WHERE guild_id = %s AND period_type = %s"
)
GUILD_KNOWN_SQL = """
SELECT EXISTS (SELECT 1 FROM events WHERE guild_id = %(g)s)
    OR EXISTS (SELECT 1 FROM member_stats WHERE guild_id = %(g)s)
    OR EXISTS (SELECT 1 FROM metrics_snapshots WHERE guild_id = %(g)s)
"""
# The first event kept; where rollups reach past the raw retention, the first window kept.
FIRST_DATA_SQL = """
SELECT least((SELECT min(ts) FROM events WHERE guild_id = %(g)s),
             (SELECT min(period_start) FROM metrics_snapshots
              WHERE guild_id = %(g)s AND period_start < %(horizon)s))
"""
# How often a running read looks whether its client is still there.
DISCONNECT_POLL_SECONDS = 0.25
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no key, or a bad or revoked one"},
    403: {"description": "the key is not a read key"},
    404: {"description": "unknown guild, or one this key may not read"},
    422: {"description": "a bad parameter; `detail[].loc` names it"},
    429: {
        "description": "over the key's rate, or too many bad keys from this address; see Retry-After"
    },
    503: {
        "description": "database unreachable, or the answer passed its deadline; see Retry-After"
    },
}


@dataclass(frozen=True)
class Snapshot:
    """One request's view of a guild: everything read through it is from the same snapshot."""

    conn: psycopg.Connection
    guild_id: str
    now: datetime
    cap: timedelta
    raw_horizon: datetime
    newest: datetime | None

    def activity(
        self, buckets: list[tuple[datetime, datetime]], *, members: bool = True
    ) -> Activity:
        """The buckets' totals, and their members unless `members=False` (see engine.activity)."""
        return activity(
            self.conn,
            guild_id=self.guild_id,
            buckets=buckets,
            now=self.now,
            cap=self.cap,
            raw_horizon=self.raw_horizon,
            members=members,
        )

    def lifetime(self) -> pl.DataFrame:
        return self.lifetime_and_periods([]).lifetime

    def lifetime_and_periods(self, periods: list[tuple[datetime, datetime]]) -> LifetimeAndPeriods:
        """Lifetime rows, and the member rows of `periods`, from one activity read."""
        return lifetime_and_periods(
            self.conn,
            guild_id=self.guild_id,
            now=self.now,
            cap=self.cap,
            raw_horizon=self.raw_horizon,
            periods=periods,
        )

    @cached_property
    def newest_voice_arrival(self) -> datetime | None:
        """The guild's newest voice arrival in this snapshot (read once: voice/live keys its
        cache entry by it and names it as its dataAsOf)."""
        return _scalar(self.conn, NEWEST_VOICE_ARRIVAL_SQL, (self.guild_id, DAILY.name))

    def time_range(self, query: PeriodQuery) -> tuple[TimeRange, TimeRange | None]:
        """The time range the query asks for, and the previous one (None for `all`)."""
        first = None
        if query.wants_first_data:
            params = {"g": self.guild_id, "horizon": self.raw_horizon}
            first = _scalar(self.conn, FIRST_DATA_SQL, params)
        return query.resolve(now=self.now, first_data=first)


def meta(asked: TimeRange, data_as_of: datetime | None, resolution: str) -> dict[str, Any]:
    return {
        "periodStart": iso_z(asked.start),
        "periodEnd": iso_z(asked.end),
        "dataAsOf": as_of_z(data_as_of),
        "resolution": resolution,
    }


def as_of_z(at: datetime | None) -> str | None:
    """An arrival time to the millisecond, rounded half up as the raw-event reader rounds
    (`::bigint` of epoch ms), so answers from rollups and from raw events name the same instant."""
    if at is None:
        return None
    ms = (epoch_us_of(at) + 500) // 1000
    return iso_z_ms(ms)


class StatsResponder:
    """Answers one stats request of a guild: its snapshot, its cache entry, its JSON."""

    def __init__(
        self,
        guild_id: str,
        conn: psycopg.Connection | ConnectionPool,
        redis: RedisGate,
        settings: Settings,
        flights: InFlight | None = None,
    ) -> None:
        """`conn`: the connection to read with, or the pool each snapshot takes one from (in the
        thread that reads: a route's dependency would take it in a thread of its own, and that
        and giving it back were two of a request's thread hops). `flights`: the process's
        computations under way, shared by identical requests (None: every request computes)."""
        self.guild_id = guild_id
        self._flights = flights
        self._source = conn
        self._conn: psycopg.Connection | None = None
        """The running snapshot's connection, for cancel()."""
        self._settings = settings
        self._cache = AnswerCache(redis, settings.cache_ttl_seconds)
        # Held while the snapshot's queries run: cancel() reaches no one else's query.
        self._reading = threading.Lock()

    def cancel(self) -> None:
        """Cancels the running read (the client left); a no-op outside the snapshot."""
        with self._reading:
            if self._conn is not None:
                self._conn.cancel_safe(timeout=2)

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A read-only snapshot of a known guild; 404 when no table has anything of it."""
        with self._connection() as conn, self._cancellable(conn):
            yield from self._snapshot(conn)

    def _snapshot(self, conn: psycopg.Connection) -> Iterator[Snapshot]:
        guild = self.guild_id
        # BEGIN carries the isolation (one statement, not BEGIN then SET TRANSACTION), and the
        # transaction's first three queries go in one round trip (pipelined): a small guild's
        # answer is a dozen short queries, so each round trip is a visible part of it.
        conn.isolation_level, conn.read_only = IsolationLevel.REPEATABLE_READ, True
        try:
            with conn.transaction():
                with conn.pipeline():
                    # The last line of defence: from here the database shows this guild's rows only.
                    as_guild_reader(conn, guild)
                    conn.execute(
                        "SELECT set_config('statement_timeout', %s, true)",
                        (f"{round(self._settings.read_statement_timeout_seconds * 1000)}ms",),
                    )
                    newest_query = conn.execute(NEWEST_ARRIVAL_SQL, (guild, DAILY.name))
                newest = (newest_query.fetchone() or (None,))[0]
                if newest is None and not _scalar(conn, GUILD_KNOWN_SQL, {"g": guild}):
                    raise HTTPException(404, f"guild {guild} not found")
                now = _now()
                yield Snapshot(
                    conn=conn,
                    guild_id=guild,
                    now=now,
                    cap=timedelta(hours=self._settings.voice_session_cap_hours),
                    raw_horizon=raw_retention_horizon(now, self._settings.raw_retention_days),
                    newest=newest,
                )
        finally:
            if conn.info.transaction_status == TransactionStatus.IDLE:
                conn.isolation_level, conn.read_only = None, None

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        if isinstance(self._source, psycopg.Connection):
            yield self._source
        else:
            with self._source.connection() as conn:
                yield conn

    @contextmanager
    def _cancellable(self, conn: psycopg.Connection) -> Iterator[None]:
        with self._reading:
            self._conn = conn
        try:
            yield
        finally:
            with self._reading:
                self._conn = None

    def respond(
        self,
        endpoint: str,
        params: dict[str, Any],
        compute: Callable[[Snapshot], BaseModel],
        *,
        follows: Callable[[Snapshot], datetime | None] = lambda snap: snap.newest,
        true_until: Callable[[Snapshot, Any], datetime | None] = lambda snap, answer: None,
    ) -> Response:
        """The cached answer for this guild's newest data and these params, else compute(snapshot).

        `follows`: the arrival the answer changes with (default the guild's newest); `true_until`:
        the instant an answer stops being true without any new event (None: never), which caps
        how long it is kept. A request that finds the same answer being computed by another
        request of this process waits for that one's body (stats_api/in_flight.py).
        """
        with self.snapshot() as snap:
            key = cache_key(self.guild_id, follows(snap), endpoint, params)
            cached = self._cache.get(key)
            if cached is not None:
                return _json(cached, "hit")
            waiting = self._flights.join(key) if self._flights else None
            if waiting is None:
                body = self._lead(key, snap, compute, true_until)
        if waiting is not None:
            # Outside the snapshot: a request waiting for another's answer holds no connection.
            try:
                return _json(waiting.result(), "shared")
            except SharedComputationFailed:
                self._flights = None  # then this request computes its own answer
                return self.respond(
                    endpoint, params, compute, follows=follows, true_until=true_until
                )
        return _json(body, "miss" if self._cache.enabled else "off")

    def _lead(
        self,
        key: str,
        snap: Snapshot,
        compute: Callable[[Snapshot], BaseModel],
        true_until: Callable[[Snapshot, Any], datetime | None],
    ) -> bytes:
        """Computes the answer, caches it, then hands it to the requests that waited for it: in
        that order, so an identical request finds it under way or cached, never neither (a page's
        two quick dashboard reads computed it twice, each with its own `now`)."""
        body = None
        try:
            answer = compute(snap)
            body = answer.model_dump_json(by_alias=True).encode()
            self._cache.put(key, body, true_until=true_until(snap, answer))
            return body
        finally:
            if self._flights:
                self._flights.finish(key, body)


async def get_responder(
    request: Request, guild_id: ReadGuildDep, pool: PoolDep, redis: RedisDep, settings: SettingsDep
) -> AsyncIterator[StatsResponder]:
    """The request's responder, whose read is cancelled if the client disconnects meanwhile."""
    responder = StatsResponder(guild_id, pool, redis, settings, request.app.state.in_flight)
    watcher = asyncio.create_task(_cancel_on_disconnect(request, responder))
    try:
        yield responder
    finally:
        watcher.cancel()


async def _cancel_on_disconnect(request: Request, responder: StatsResponder) -> None:
    while not await request.is_disconnected():
        await asyncio.sleep(DISCONNECT_POLL_SECONDS)
    await asyncio.to_thread(responder.cancel)


async def get_live_presence(request: Request) -> LivePresence:
    return request.app.state.live_presence  # type: ignore[no-any-return]


StatsDep = Annotated[StatsResponder, Depends(get_responder)]
LivePresenceDep = Annotated[LivePresence, Depends(get_live_presence)]


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _scalar(conn: psycopg.Connection, query: str, params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def _json(body: bytes, cache: str) -> Response:
    return Response(body, media_type="application/json", headers={"X-Stats-Cache": cache})
