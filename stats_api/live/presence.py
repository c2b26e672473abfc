"""Who is in which voice channel now: a Redis hash kept by ingestion, rebuilt from PostgreSQL.

`stats:voice:live:{guild}` maps user_id -> JSON {"channelId", "since", "ts"} (epoch ms; `ts` is
the event that set the entry). Ingestion applies each committed batch's VOICE_STATE_UPDATE events
in (ts, seq) order: the same channel keeps `since` (until the session cap, as in contract §2), another
channel sets since = ts, a null channel leaves a tombstone (channelId null) so that an older event
of a concurrent batch cannot bring the member back; an event older than the entry's `ts` is
ignored. Entries opened more than the cap ago are not live.

`stats:voice:live-state:{guild}` is the marker hash {state, token, asof, filled}; its name is
outside the `stats:voice:live:*` entries that retention cleans. Ingestion touches the live hash
only while the marker exists. A read trusts the hash when the marker is `built`, its `asof` (the
newest arrival applied, epoch µs) is at least the guild's newest voice arrival in PostgreSQL, and
the hash was not lost since it was filled; else it rebuilds: marker `building` first, then a
snapshot of PostgreSQL, then a merge that keeps any newer entry ingestion wrote meanwhile. A hook
that failed while Redis was away thus shows as a stale `asof`, and the next read rebuilds. With
Redis down every read answers from PostgreSQL.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import polars as pl
import psycopg
from psycopg import sql

from stats_api.redis_gate import RedisGate
from stats_platform.domain.events import EventType
from stats_platform.domain.instants import epoch_ms_of, epoch_us_of, from_epoch_ms
from stats_platform.storage import warehouse
from stats_platform.storage.scripts import script, sql_script
from stats_platform.transforms.common import duration_ms

# A rebuild that takes longer than this is presumed dead; another read starts over.
BUILD_SECONDS = 30
# Rebuilt at least this often, and forgotten when a guild is no longer read.
BUILT_SECONDS = 24 * 3600
# The type as a literal, not a parameter: a prepared statement's generic plan could not use the
# partial index of voice events (sql/0008_voice_events_index.sql).
LAST_VOICE_EVENTS_SQL = sql_script(
    __file__, "select_last_voice_events.sql", voice=sql.Literal(EventType.VOICE_STATE_UPDATE.value)
)
# Entries per script call of a rebuild's fill (a few milliseconds of Redis each; Lua's unpack
# takes up to 7,999 values, and a chunk's HSET has two per entry).
FILL_CHUNK = 2_000


@dataclass(frozen=True)
class Entry:
    channel_id: str | None
    since: int
    ts: int

    @property
    def since_at(self) -> datetime:
        return from_epoch_ms(self.since)


def live_key(guild_id: str) -> str:
    return f"stats:voice:live:{guild_id}"


def marker_key(guild_id: str) -> str:
    return f"stats:voice:live-state:{guild_id}"


class LivePresence:
    def __init__(self, redis: RedisGate, *, cap: timedelta, future: timedelta) -> None:
        self._redis = redis
        self._cap = cap
        self._future = future
        client = redis.client
        self._apply = client.register_script(script(__file__, "apply_presence_changes.lua"))
        self._begin = client.register_script(script(__file__, "begin_presence_rebuild.lua"))
        self._finish = client.register_script(script(__file__, "finish_presence_rebuild.lua"))

    def apply(self, changes: list[list], received_us: int) -> None:
        """Ingestion's hook, after commit: [guild, user, channel, ts_ms] rows in (ts, seq) order."""
        by_guild: dict[str, list] = defaultdict(list)
        for guild, user, channel, ts in changes:
            by_guild[guild] += [user, channel or "", ts]
        cap = duration_ms(self._cap)

        def send(client):  # type: ignore[no-untyped-def]
            pipe = client.pipeline(transaction=False)
            for guild, args in by_guild.items():
                keys = [live_key(guild), marker_key(guild)]
                self._apply(keys=keys, args=[cap, received_us, *args], client=pipe)
            return pipe.execute()

        self._redis.run(send)

    def read(
        self,
        conn: psycopg.Connection,
        guild_id: str,
        *,
        now: datetime,
        newest_voice: datetime | None,
    ) -> list[tuple[str, Entry]]:
        """(user_id, entry) of every member in voice now, from the hash when it is current.

        `newest_voice` is the guild's newest voice arrival in the caller's snapshot.
        """
        asof_us = 0 if newest_voice is None else epoch_us_of(newest_voice)
        keys = [live_key(guild_id), marker_key(guild_id)]
        token = secrets.token_hex(8)
        began = self._redis.run(
            lambda client: self._begin(
                keys=keys, args=[asof_us, token, BUILD_SECONDS], client=client
            )
        )
        if began is not None and began[0] == b"fresh":
            flat = began[1]
            # One JSON document of every entry: json.loads per entry cost most of a big guild's
            # read (7,377 entries: 12 ms against 3 ms). Members who left are skipped here.
            decoded = json.loads(b"[" + b",".join(flat[1::2]) + b"]")
            entries = {
                user.decode(): _entry(raw)
                for user, raw in zip(flat[::2], decoded, strict=True)
                if raw.get("channelId") is not None
            }
            return self._live(entries, now)
        entries = self.from_events(conn, guild_id, now=now)
        if began is not None and began[0] == b"start":
            self._redis.run(lambda client: self._fill(client, keys, token, asof_us, entries))
        return self._live(entries, now)

    def _fill(
        self, client: Any, keys: list[str], token: str, asof_us: int, entries: dict[str, Entry]
    ) -> None:
        """The rebuilt entries into the hash, in chunks of one script call each (one round trip):
        Redis runs one script at a time, so other clients wait for a chunk, not for the hash."""
        rows = [[user, _entry_json(e), e.ts] for user, e in entries.items()]
        chunks = [rows[i : i + FILL_CHUNK] for i in range(0, len(rows), FILL_CHUNK)] or [[]]
        pipe = client.pipeline(transaction=False)
        for i, chunk in enumerate(chunks):
            last = "1" if i == len(chunks) - 1 else "0"
            args: list[bytes | str | int] = [
                token,
                asof_us,
                BUILT_SECONDS,
                orjson.dumps(chunk),
                last,
            ]
            self._finish(keys=keys, args=args, client=pipe)
        pipe.execute()

    def from_events(
        self, conn: psycopg.Connection, guild_id: str, *, now: datetime
    ) -> dict[str, Entry]:
        """Every member with a voice event within the cap: the channel they are in, or None.

        Bots may stamp events up to the future tolerance ahead; those are counted like ingestion
        counts them, so both sources show the state after every stored event.
        """
        until = now + self._future + timedelta(milliseconds=1)
        sessions = warehouse.load_voice_sessions(
            conn, start=now, end=until, cap=self._cap, guild_ids=[guild_id]
        )
        open_now = {
            user: (channel, since)
            for user, channel, since in sessions.filter(pl.col("ended_at").is_null())
            .select("user_id", "channel_id", pl.col("started_at").dt.epoch("ms"))
            .collect()
            .rows()
        }
        entries = {}
        for user, ts in conn.execute(
            LAST_VOICE_EVENTS_SQL,
            (guild_id, now - self._cap, until),
        ).fetchall():
            channel, since = open_now.get(user, (None, ts))
            entries[user] = Entry(channel, since, ts) if channel else Entry(None, ts, ts)
        return entries

    def _live(self, entries: dict[str, Entry], now: datetime) -> list[tuple[str, Entry]]:
        horizon = epoch_ms_of(now) - duration_ms(self._cap)
        return [
            (user, e)
            for user, e in entries.items()
            if e.channel_id is not None and e.since > horizon
        ]


def _entry_json(e: Entry) -> str:
    """The hash's value of an entry, the JSON ingestion's script writes."""
    return f'{{"channelId":{orjson.dumps(e.channel_id).decode()},"since":{e.since},"ts":{e.ts}}}'


def _entry(raw: dict) -> Entry:
    return Entry(raw.get("channelId"), int(raw["since"]), int(raw.get("ts", raw["since"])))
