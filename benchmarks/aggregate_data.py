"""Data for the aggregate benchmark: a fresh database, and seeded days of events loaded with COPY.

Everything but voice comes from `benchmarks.events_gen` (heavy-tailed guilds and members, the
bot's type mix, reactions with `data.messageAuthorId`). Its voice updates are drawn one by one,
independently, so most of its "sessions" never see a leave and run to the end of the day (84 %
open at midnight, median 12 h): that would make voice, not events, the size of every 5-minute
rollup. `voice_sessions` replaces them with as many updates shaped as sessions: a join, mutes
in the same channel, sometimes a move, and a leave after a log-normal time (median 40 min);
a few never leave and run to the cap. Each user's sessions follow one another, and who is in
voice keeps the generator's heavy tail (sessions go to the users of randomly drawn events).
"""

from __future__ import annotations

import contextlib
import gc
import io
import math
import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import polars as pl
import psycopg

from benchmarks.events_gen import generate
from stats_platform.storage.database import create_database_if_missing, drop_database, with_database
from stats_platform.storage.migrations import migrate

SERVER_URL = os.environ.get(
    "STATS_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DAY = timedelta(days=1)
EVENT_COLUMNS = [
    "ts",
    "guild_id",
    "dedup_key",
    "event_id",
    "type",
    "user_id",
    "channel_id",
    "message_id",
    "role_id",
    "shard_id",
    "data",
]
COPY_ROWS = 500_000


@contextlib.contextmanager
def fresh_database(label: str) -> Iterator[str]:
    """A new migrated database for this process, dropped on the way out (errors included)."""
    url = with_database(SERVER_URL, f"stats_bench_agg_{os.getpid()}_{label}")
    drop_database(url)
    try:
        create_database_if_missing(url)
        migrate(url)
        yield url
    finally:
        drop_database(url)


def day_events(n: int, day: datetime, *, seed: int) -> pl.DataFrame:
    """`n` generated events with timestamps in [day, day + 1 day), as rows of the events table."""
    now_ms = int((day + DAY).timestamp() * 1000) + 60_000 - 1
    # The generator builds millions of small dicts: a cyclic GC pass over them is pure waste.
    gc.disable()
    try:
        events = voice_sessions(
            generate(n, seed=seed, now_ms=now_ms, span_hours=24), day, seed=seed
        )
        frame = pl.DataFrame(
            {
                "ts": [e["timestamp"] for e in events],
                "guild_id": [e["guildId"] for e in events],
                "dedup_key": [e["id"] for e in events],
                "type": [e["type"] for e in events],
                "user_id": [e.get("userId") for e in events],
                "channel_id": [e.get("channelId") for e in events],
                "message_id": [e.get("messageId") for e in events],
                "role_id": [e.get("roleId") for e in events],
                "shard_id": [e.get("shardId") for e in events],
                "data": [
                    None if e.get("data") is None else orjson.dumps(e["data"]).decode()
                    for e in events
                ],
            },
            schema_overrides={"ts": pl.Int64, "shard_id": pl.Int32},
        )
        del events
    finally:
        gc.enable()
    return (
        frame.sort("ts", maintain_order=True)
        .with_columns(pl.col("ts").cast(pl.Datetime("ms", "UTC")), event_id=pl.col("dedup_key"))
        .select(EVENT_COLUMNS)
    )


VOICE = "VOICE_STATE_UPDATE"
MEDIAN_SESSION_S = 40 * 60
NEVER_LEAVES = 0.03
MOVES = 0.2


def voice_sessions(events: list[dict[str, Any]], day: datetime, *, seed: int) -> list[dict]:
    """The events with their voice updates replaced by as many updates shaped as sessions."""
    rng = random.Random(seed ^ 0x70CE)
    rest = [e for e in events if e["type"] != VOICE]
    wanted = len(events) - len(rest)
    channels: dict[str, list[str]] = {}
    for e in events:
        if e["type"] == VOICE and e.get("channelId"):
            channels.setdefault(e["guildId"], []).append(e["channelId"])
    channels = {g: sorted(set(c)) for g, c in channels.items()}
    people = [e for e in rest if e["guildId"] in channels]
    if not wanted or not people:
        return rest
    day_ms = int(day.timestamp() * 1000)
    # A session has a join, a leave, one mute on average and a move one time in five.
    sessions: dict[tuple[str, str, int], int] = {}
    for _ in range(max(1, round(wanted / (3 - NEVER_LEAVES + MOVES)))):
        e = rng.choice(people)
        key = (e["guildId"], e["userId"], e["shardId"])
        sessions[key] = sessions.get(key, 0) + 1
    voice: list[dict[str, Any]] = []
    for (guild, user, shard), count in sessions.items():
        starts = sorted(rng.randrange(86_400_000) for _ in range(count))
        for start, after in zip(starts, [*starts[1:], 86_400_000], strict=True):
            drawn = int(rng.lognormvariate(math.log(MEDIAN_SESSION_S), 1.0) * 1000)
            length = max(1, min(drawn, after - start - 1))
            who = {"guildId": guild, "userId": user, "shardId": shard}
            voice.extend(
                {**who, **e} for e in _session(rng, channels[guild], day_ms + start, length)
            )
    for i, e in enumerate(voice):
        e["id"] = f"v{seed & 0xFFFF:04x}{i:012x}"
    return rest + [e for e in voice if e["timestamp"] < day_ms + 86_400_000]


def _session(rng: random.Random, channels: list[str], start: int, length: int) -> list[dict]:
    channel = rng.choice(channels)
    moved_at = start + rng.randrange(length) if len(channels) > 1 and rng.random() < MOVES else None
    mutes = sorted(start + rng.randrange(length) for _ in range(_geometric(rng)))
    steps = [(start, channel, False)]
    for at in sorted([*mutes, *([moved_at] if moved_at else [])]):
        if at == moved_at:
            channel = rng.choice([c for c in channels if c != channel])
        steps.append((at, channel, at != moved_at))
    if rng.random() >= NEVER_LEAVES:
        steps.append((start + length, None, False))
    return [
        {
            "type": VOICE,
            "timestamp": at,
            "channelId": ch,
            "data": {"selfMute": mute, "selfDeaf": False},
        }
        for at, ch, mute in steps
    ]


def _geometric(rng: random.Random) -> int:
    """0, 1, 2, ... with P(k) = 2^-(k+1): one mute per session on average."""
    count = 0
    while rng.random() < 0.5:
        count += 1
    return count


def copy_events(conn: psycopg.Connection, frame: pl.DataFrame) -> None:
    """Appends rows to `events` with COPY, in slices so the CSV buffer stays small."""
    statement = f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN (FORMAT csv)"
    for offset in range(0, frame.height, COPY_ROWS):
        buffer = io.BytesIO()
        frame.slice(offset, COPY_ROWS).write_csv(
            buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.3f+00:00"
        )
        with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
            copy.write(buffer.getvalue())


def load_days(
    url: str, first_day: datetime, days: int, per_day: int, *, seed: int
) -> dict[str, float]:
    """Generates and loads `days` days of `per_day` events each; returns counts and seconds spent.

    Every day is the same seeded day shifted by 24 hours: the generator draws its guilds and
    members from the seed, and lifetime totals need the same people on every day.
    """
    generate_s = copy_s = 0.0
    with psycopg.connect(url) as conn:
        for i in range(days):
            started = time.perf_counter()
            frame = day_events(per_day, first_day + i * DAY, seed=seed)
            loaded = time.perf_counter()
            copy_events(conn, frame)
            generate_s += loaded - started
            copy_s += time.perf_counter() - loaded
        started = time.perf_counter()
        conn.execute("ANALYZE events")
        conn.commit()
        analyze_s = time.perf_counter() - started
    return {
        "events": days * per_day,
        "generate_s": generate_s,
        "copy_s": copy_s,
        "analyze_s": analyze_s,
    }


def utc_midnight(at: datetime | None = None) -> datetime:
    at = at or datetime.now(UTC)
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
