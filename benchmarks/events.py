"""The benchmarks' events: the simulator's traffic model, sized to a count, loaded by binary COPY.

Every family draws its events from `stats_platform.tools.simulate` (heavy-tailed guilds and
members, conversations with reactions, edits and deletes, voice as sessions), so a benchmark
measures the traffic the simulator sends. The model has no "n events" knob: its traffic grows
with the members of its guilds, so a probe world of 100 members per guild over the same window
gives the events per member, and the real world is scaled to about `n` from it. Bulk loads skip
the API: the rows go to `events` by COPY (FORMAT BINARY), as the ingest endpoint would store
them.
"""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import polars as pl
import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.postgres import types as pg_types
from psycopg.pq import Format

from stats_platform.tools.simulate import ModelConfig, TrafficModel, generate

DAY = timedelta(days=1)
DAY_MS = 86_400_000
GUILDS = 50
PROBE_MEMBERS = 100
EVENT_COLUMNS = (
    "ts", "guild_id", "dedup_key", "event_id", "type", "user_id",
    "channel_id", "message_id", "role_id", "shard_id", "data",
)  # fmt: skip
COLUMN_TYPES = {
    "ts": "timestamptz",
    "received_at": "timestamptz",
    "shard_id": "int4",
    "data": "jsonb",
}
COPY_ROWS = 500_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def simulate(
    n: int, start_ms: int, end_ms: int, *, seed: int, guilds: int = GUILDS
) -> list[dict[str, Any]]:
    """About `n` events of [start_ms, end_ms) from a simulated world of `guilds` guilds, oldest first."""
    probe = ModelConfig(
        seed=seed, start_ms=start_ms, end_ms=end_ms, guilds=guilds, members_per_guild=PROBE_MEMBERS
    )
    members = max(1, round(n * PROBE_MEMBERS / sum(1 for _ in TrafficModel(probe).events())))
    # The events are millions of small dicts: a cyclic GC pass over them is pure waste.
    gc.disable()
    try:
        events = generate(replace(probe, members_per_guild=members))
        # A bigger world is not exactly the probe scaled up (its guilds are drawn anew): one
        # correction brings the count within a few per cent of n.
        if abs(len(events) - n) > 0.03 * n:
            members = max(1, round(members * n / max(1, len(events))))
            events = generate(replace(probe, members_per_guild=members))
        return events
    finally:
        gc.enable()


def recent(n: int, *, seed: int, hours: float = 3.0) -> list[dict[str, Any]]:
    """About `n` events of the last `hours` up to a minute ago: every one passes ingest validation."""
    end_ms = datetime.now(UTC).timestamp() * 1000 - 60_000
    return simulate(n, int(end_ms - hours * 3_600_000), int(end_ms), seed=seed)


def to_row(event: dict[str, Any]) -> tuple[Any, ...]:
    """An event as the endpoint stores it, in EVENT_COLUMNS order (data as JSON text)."""
    data = event.get("data")
    return (
        EPOCH + timedelta(milliseconds=event["timestamp"]),
        event["guildId"],
        event["id"],
        event["id"],
        event["type"],
        event.get("userId"),
        event.get("channelId"),
        event.get("messageId"),
        event.get("roleId"),
        event.get("shardId"),
        None if data is None else orjson.dumps(data).decode(),
    )


def day_events(n: int, day: datetime, *, seed: int, guilds: int = GUILDS) -> pl.DataFrame:
    """About `n` events of [day, day + 1 day) in `guilds` guilds as rows of the events table, in
    ts order."""
    start_ms = int(day.timestamp() * 1000)
    events = simulate(n, start_ms, start_ms + DAY_MS, seed=seed, guilds=guilds)
    rows = [to_row(e) for e in events]
    del events
    schema: dict[str, Any] = {c: pl.String for c in EVENT_COLUMNS} | {
        "ts": pl.Datetime("ms", "UTC"),
        "shard_id": pl.Int32,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


class JsonbTextDumper(Dumper):
    """JSON already encoded, as jsonb's binary form (a version byte, then the text)."""

    format = Format.BINARY
    oid = pg_types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def copy_rows(
    conn: psycopg.Connection, columns: list[str], rows: Any, *, table: str = "events"
) -> None:
    """Appends row tuples to a table by binary COPY, in one transaction."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.transaction(), conn.cursor() as cur:
        binary_copy(cur, statement, columns, rows)


def binary_copy(
    cur: psycopg.Cursor, statement: sql.Composable, columns: list[str], rows: Any
) -> None:
    # Registered on the cursor only: by oid it would change no other code's COPY, but it stays ours.
    cur.adapters.register_dumper(None, JsonbTextDumper)
    with cur.copy(statement) as copy:
        copy.set_types([COLUMN_TYPES.get(c, "text") for c in columns])
        for row in rows:
            copy.write_row(row)


def copy_frame(conn: psycopg.Connection, frame: pl.DataFrame) -> None:
    """A frame of events rows by binary COPY, in slices of one transaction each."""
    for offset in range(0, frame.height, COPY_ROWS):
        copy_rows(conn, frame.columns, frame.slice(offset, COPY_ROWS).iter_rows())


def load_days(
    url: str, first_day: datetime, days: int, per_day: int, *, seed: int
) -> dict[str, float]:
    """Loads `days` copies of one simulated day of about `per_day` events; counts and seconds.

    The same day shifted by 24 hours each time: lifetime totals need the same people every day.
    """
    started = datetime.now(UTC)
    base = day_events(per_day, first_day, seed=seed)
    generated = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        for i in range(days):
            copy_frame(conn, shifted(base, i))
        loaded = datetime.now(UTC)
        conn.execute("ANALYZE events")
        conn.commit()
    return {
        "events": days * base.height,
        "generate_s": (generated - started).total_seconds(),
        "copy_s": (loaded - generated).total_seconds(),
        "analyze_s": (datetime.now(UTC) - loaded).total_seconds(),
    }


def shifted(day: pl.DataFrame, days: int) -> pl.DataFrame:
    """A day's rows `days` later, their ids prefixed with the shift so every copy is new."""
    ids = pl.concat_str(pl.lit(f"d{days:02d}"), pl.col("dedup_key"))
    return day.with_columns(
        pl.col("ts") + days * DAY, ids.alias("dedup_key"), ids.alias("event_id")
    )


def utc_midnight(at: datetime | None = None) -> datetime:
    at = at or datetime.now(UTC)
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
