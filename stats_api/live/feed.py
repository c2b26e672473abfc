"""Live push: after a committed batch, a guild's totals go to a Redis stream its pages follow.

`stats:live:stream:{guild}` is a stream (MAXLEN 100, TTL an hour after its last entry) of
entries {newest, digest, data}: `data` is the event's JSON, `newest` the guild's newest arrival
(epoch µs) it counts and `digest` a hash of its totals and voice. `stats:live:watch:{guild}`
(TTL 45 s) exists while a stream of the guild is open: every open stream refreshes it at least
every 15 s.

Streams rather than pub/sub: an entry keeps its id in Redis, so a page that reconnects with
`Last-Event-ID` gets exactly the entries after it from whichever worker it reaches (XREAD
from that id), and the stream endpoint holds no state of its own.

Publishing runs on one thread per process, off the request: the ingest path only hands over
the guilds whose events a commit stored (`notify`). The thread computes a guild's event once for
all the batches that arrived while it was busy: totals are cumulative and voice is the full
live state, so the newest state says everything the skipped ones did. It computes only guilds
someone watches: the others' pages are not open, and a page that opens gets the current state
first. publish_totals.lua never adds a state the stream already ends with, nor one older than
its last entry, so two workers publishing one guild keep its stream in order.
"""

from __future__ import annotations

import threading
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


def watch_key(guild_id: str) -> str:
    return f"stats:live:watch:{guild_id}"


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
        self._wake = threading.Condition()
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
        """Ingestion's hook, after commit: these guilds have new events."""
        if self.enabled:
            with self._wake:
                self._pending.update(guilds)
                self._wake.notify()

    def publish(self, guild_id: str) -> str | None:
        """Appends the guild's current state; its entry id, or None when nothing was added."""
        state = self.build(guild_id)
        added = self._redis.run(
            lambda client: self._publish(
                keys=[stream_key(guild_id)],
                args=[state.newest_us, state.digest, state.data, STREAM_MAXLEN, STREAM_TTL_SECONDS],
                client=client,
            )
        )
        return added.decode() if isinstance(added, bytes) else None

    def watch(self, guild_id: str) -> tuple[bool, str] | None:
        """Marks the guild watched: (whether it already was, its stream's last id); None without Redis."""

        def mark(client):  # type: ignore[no-untyped-def]
            pipe = client.pipeline(transaction=False)
            pipe.exists(watch_key(guild_id))
            pipe.set(watch_key(guild_id), 1, ex=WATCH_TTL_SECONDS)
            pipe.xrevrange(stream_key(guild_id), count=1)
            return pipe.execute()

        marked = self._redis.run(mark)
        if marked is None:
            return None
        watched, _, last = marked
        return bool(watched), last[0][0].decode() if last else "0-0"

    async def entries_after(self, guild_id: str, cursor: str) -> list[tuple[str, bytes]]:
        """The guild's entries after `cursor`, waiting up to BLOCK_MS for one; raises RedisError."""
        found: Any = await self._streams.xread(
            {stream_key(guild_id): cursor}, block=BLOCK_MS, count=STREAM_MAXLEN
        )
        await self._streams.set(watch_key(guild_id), 1, ex=WATCH_TTL_SECONDS)
        return [
            (entry_id.decode(), fields[b"data"])
            for _, entries in found or []
            for entry_id, fields in entries
        ]

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                guilds, self._pending = sorted(self._pending), set()
            for guild in self._watched(guilds):
                try:
                    self.publish(guild)
                except Exception:
                    log.exception("live totals not published", guild_id=guild)

    def _watched(self, guilds: list[str]) -> list[str]:
        def check(client):  # type: ignore[no-untyped-def]
            pipe = client.pipeline(transaction=False)
            for guild in guilds:
                pipe.exists(watch_key(guild))
            return pipe.execute()

        found = self._redis.run(check) or []
        return [guild for guild, watched in zip(guilds, found, strict=False) if watched]
