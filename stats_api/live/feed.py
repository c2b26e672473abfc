"""Live push: after a committed batch, a guild's totals go to a Redis stream its pages follow.

`stats:live:stream:{guild}` is a stream (MAXLEN 100, TTL an hour after its last entry) of
entries {newest, digest, data}: `data` is the event's JSON, `newest` the guild's newest arrival
(epoch µs) it counts and `digest` a hash of its day, totals and voice. `stats:live:watching` is
a sorted set of the guilds a stream is open for, scored by when that stops being true (now +
45 s; every open stream pushes it forward at least every 15 s).

Streams rather than pub/sub: an entry keeps its id in Redis, so a page that reconnects with
`Last-Event-ID` gets exactly the entries after it from whichever worker it reaches (XREAD
from that id), and the stream endpoint holds no state of its own.

Publishing runs on one thread per process, off the request: the ingest path only hands over
the guilds whose events a commit stored (`notify`). The thread computes a guild's event once for
all the batches that arrived while it was busy or resting (rounds start at least
PUBLISH_INTERVAL_SECONDS apart): totals are cumulative and voice is the full
live state, so the newest state says everything the skipped ones did. It computes only guilds
someone watches, from a copy of the watching set read at most once a second (so a batch costs
Redis nothing when no page is open); a guild skipped while that copy was older than a page that
opened since is published at the next read. publish_totals.lua never adds a state the stream
already ends with, nor one older than its last entry, so two workers publishing one guild keep
its stream in order, and a stream that opens publishes the current state itself and starts
from the stream's newest entry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio

from stats_api.redis_gate import RedisGate
from stats_platform.logs import get_logger
from stats_platform.storage.scripts import script

log = get_logger("stats.live")

STREAM_MAXLEN = 100
STREAM_TTL_SECONDS = 3600
WATCH_TTL_SECONDS = 45
WATCHING_KEY = "stats:live:watching"
# How old the publisher's copy of the watching set may be.
WATCHING_REFRESH_SECONDS = 1.0
# At most one publishing round this often: a watched guild's numbers move at most once a
# second, and under a flood of batches the feed's thread computes each watched guild once a
# second instead of round after round on the cores ingest needs (docs/benchmarks.md, Ingest:
# metrics and live push, the `watched` rows). The first batch after a quiet second is published
# at once.
PUBLISH_INTERVAL_SECONDS = 1.0
# An open stream wakes at least this often to refresh its watch key; heartbeats are FastAPI's
# SSE keepalive (a `: ping` comment after 15 s without an event).
BLOCK_MS = 15_000


@dataclass(frozen=True)
class LiveState:
    """One guild's live event: its JSON, and what publish_totals.lua orders states by."""

    newest_us: int
    digest: str
    data: bytes


Build = Callable[[str], LiveState]


def stream_key(guild_id: str) -> str:
    return f"stats:live:stream:{guild_id}"


def async_client(url: str) -> redis.asyncio.Redis:
    """The streams' own client: a blocking XREAD must outlast the gate's short socket timeout."""
    return redis.asyncio.Redis.from_url(
        url, socket_timeout=BLOCK_MS / 1000 + 5, socket_connect_timeout=1
    )


class LiveFeed:
    def __init__(
        self, redis: RedisGate, streams: redis.asyncio.Redis, build: Build, *, enabled: bool
    ) -> None:
        self._redis = redis
        self._streams = streams
        self.build = build
        self.enabled = enabled
        self._publish = redis.client.register_script(script(__file__, "publish_totals.lua"))
        self._pending: set[str] = set()
        self._skipped: set[str] = set()
        self._watching: set[str] = set()
        self._watching_read = -WATCHING_REFRESH_SECONDS
        self._wake = threading.Condition()
        self._resting = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)

    def start(self) -> None:
        if self.enabled:
            self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def notify(self, guilds: Iterable[str]) -> None:
        """Ingestion's hook, after commit: these guilds have new events. A resting thread is
        not woken (it takes them when its rest ends), so a flood of batches costs the feed's
        thread one wake-up a second, not one per batch."""
        if self.enabled:
            with self._wake:
                self._pending.update(guilds)
                if not self._resting:
                    self._wake.notify()

    def publish(self, guild_id: str) -> tuple[str, bytes] | None:
        """Adds the guild's current state unless the stream has it; the stream's newest entry
        (id, data) afterwards, or None without Redis."""
        state = self.build(guild_id)
        newest = self._redis.run(
            lambda client: self._publish(
                keys=[stream_key(guild_id)],
                args=[state.newest_us, state.digest, state.data, STREAM_MAXLEN, STREAM_TTL_SECONDS],
                client=client,
            )
        )
        return None if newest is None else (newest[0].decode(), newest[1])

    def watch(self, guild_id: str) -> bool | None:
        """Marks the guild watched; whether it already was, or None without Redis."""

        def mark(client):  # type: ignore[no-untyped-def]
            now = time.time()
            pipe = client.pipeline(transaction=False)
            pipe.zscore(WATCHING_KEY, guild_id)
            pipe.zadd(WATCHING_KEY, {guild_id: now + WATCH_TTL_SECONDS})
            score, _ = pipe.execute()
            return score is not None and score > now

        return self._redis.run(mark)

    async def entries_after(self, guild_id: str, cursor: str) -> list[tuple[str, bytes]]:
        """The guild's entries after `cursor`, waiting up to BLOCK_MS for one; raises RedisError."""
        found: Any = await self._streams.xread(
            {stream_key(guild_id): cursor}, block=BLOCK_MS, count=STREAM_MAXLEN
        )
        await self._streams.zadd(WATCHING_KEY, {guild_id: time.time() + WATCH_TTL_SECONDS})
        return [
            (entry_id.decode(), fields[b"data"])
            for _, entries in found or []
            for entry_id, fields in entries
        ]

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    if not self._wake.wait(WATCHING_REFRESH_SECONDS if self._skipped else None):
                        break
                if self._stopping:
                    return
                guilds, self._pending = self._pending, set()
            started = time.monotonic()
            for guild in sorted(self._watched(guilds)):
                try:
                    self.publish(guild)
                except Exception:
                    log.exception("live totals not published", guild_id=guild)
            self._rest_until(started + PUBLISH_INTERVAL_SECONDS)

    def _rest_until(self, deadline: float) -> None:
        """Batches that arrive meanwhile wait in `_pending`; only stop() ends the rest early."""
        with self._wake:
            self._resting = True
            while not self._stopping and (left := deadline - time.monotonic()) > 0:
                self._wake.wait(left)
            self._resting = False

    def _watched(self, guilds: set[str]) -> set[str]:
        """The guilds to publish: those watched, and skipped ones that are watched now."""
        if time.monotonic() - self._watching_read < WATCHING_REFRESH_SECONDS:
            self._skipped |= guilds - self._watching
            return guilds & self._watching

        def read(client):  # type: ignore[no-untyped-def]
            now = time.time()
            pipe = client.pipeline(transaction=False)
            pipe.zremrangebyscore(WATCHING_KEY, "-inf", now)
            pipe.zrangebyscore(WATCHING_KEY, now, "+inf")
            return pipe.execute()[1]

        found = self._redis.run(read)
        self._watching = {g.decode() for g in found or []}
        self._watching_read = time.monotonic()
        due, self._skipped = (guilds | self._skipped) & self._watching, set()
        return due
