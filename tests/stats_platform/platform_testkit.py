"""Events stored the way ingestion stores them, with arrival times the tests choose, and runs.

Ingestion (stats_api.ingest.store) stamps `received_at` with its transaction's `now()`, so a late
arrival cannot be staged through it. `store_events` does the same two writes (the event, then
the newest arrival per guild and window at the three grains) with the `received_at` given.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
import psycopg

from stats_platform.defs.members.assets import member_stats
from stats_platform.defs.rollups.assets import rollups_5min, rollups_daily, rollups_hourly
from stats_platform.defs.voice.assets import voice_sessions
from stats_platform.domain.blocks import BLOCK_PERIODS
from stats_platform.domain.grains import GRAIN_NAMES
from stats_platform.domain.instants import EPOCH
from stats_platform.domain.voice import DEFAULT_CAP
from stats_platform.partitions import daily_partitions, five_minute_partitions, hourly_partitions
from stats_platform.pipeline import rollups
from stats_platform.resources import PipelineSettings, PostgresResource
from stats_platform.storage import blocks, warehouse

GUILD = "100"
REDIS_URL = os.environ.get("STATS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
MIN_MS = 60_000
HOUR_MS = 60 * MIN_MS
END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)

ROLLUPS = {"5min": rollups_5min, "hourly": rollups_hourly, "daily": rollups_daily}
PARTITIONS = {
    "5min": five_minute_partitions,
    "hourly": hourly_partitions,
    "daily": daily_partitions,
}
# What the daily job materializes, in dependency order.
DAILY_ASSETS = [voice_sessions, rollups_daily, member_stats]

_ids = itertools.count(1)

INSERT_EVENT = """
INSERT INTO events (ts, received_at, guild_id, dedup_key, event_id, type, user_id, channel_id, data)
VALUES (%(ts)s, %(received_at)s, %(guild_id)s, %(dedup_key)s, %(event_id)s, %(type)s,
        %(user_id)s, %(channel_id)s, %(data)s::jsonb)
ON CONFLICT (guild_id, ts, dedup_key) DO NOTHING
RETURNING 1
"""
# insert_events.sql's window_arrivals upsert, with the row's received_at in place of now().
UPSERT_ARRIVALS = """
INSERT INTO window_arrivals AS a (
    guild_id, period_type, period_start, last_received_at, last_voice_received_at)
SELECT %(guild_id)s, w.period_type, w.period_start, %(received_at)s,
       CASE WHEN %(type)s = 'VOICE_STATE_UPDATE' THEN %(received_at)s::timestamptz END
FROM (VALUES
    ('5min', date_bin('5 minutes', %(ts)s::timestamptz, timestamptz '1970-01-01 00:00:00+00')),
    ('hourly', date_trunc('hour', %(ts)s::timestamptz, 'UTC')),
    ('daily', date_trunc('day', %(ts)s::timestamptz, 'UTC'))
) AS w (period_type, period_start)
ON CONFLICT (guild_id, period_type, period_start) DO UPDATE SET
    last_received_at = GREATEST(a.last_received_at, EXCLUDED.last_received_at),
    last_voice_received_at = GREATEST(a.last_voice_received_at, EXCLUDED.last_voice_received_at)
"""


@dataclass(frozen=True)
class Event:
    type: str
    ts: datetime
    user_id: str | None = None
    channel_id: str | None = None
    data: dict | None = None
    guild_id: str = GUILD
    # None: one second after ts, long before any computation a test runs.
    received_at: datetime | None = None
    event_id: str | None = None


def message(ts: datetime, user: str | None, **kw) -> Event:
    return Event("MESSAGE_CREATE", ts, user, channel_id="500", **kw)


def voice(ts: datetime, user: str, channel: str | None, **kw) -> Event:
    return Event("VOICE_STATE_UPDATE", ts, user, channel_id=channel, **kw)


def reaction(ts: datetime, user: str | None, author: str | None = None, **kw) -> Event:
    data = {"emoji": "x"} if author is None else {"emoji": "x", "messageAuthorId": author}
    return Event("MESSAGE_REACTION_ADD", ts, user, channel_id="500", data=data, **kw)


def store_events(conn: psycopg.Connection, events: Iterable[Event]) -> int:
    """Stores events in the order given (seq is arrival order); returns how many were new."""
    stored = 0
    with conn.transaction():
        for event in events:
            row = {
                "ts": event.ts,
                "received_at": event.received_at or event.ts + timedelta(seconds=1),
                "guild_id": event.guild_id,
                "dedup_key": event.event_id or f"test-{next(_ids)}",
                "event_id": event.event_id,
                "type": event.type,
                "user_id": event.user_id,
                "channel_id": event.channel_id,
                "data": None if event.data is None else json.dumps(event.data),
            }
            # Ingestion creates the day's partition when it is missing (retention drops old ones).
            day = event.ts.astimezone(UTC).date()
            conn.execute("SELECT stats_ensure_event_partitions(%s, %s)", (day, day))
            if conn.execute(INSERT_EVENT, row).fetchone():
                conn.execute(UPSERT_ARRIVALS, row)
                stored += 1
    return stored


def pipeline_settings(**overrides: int) -> PipelineSettings:
    """No settle lag and no batch wait: every window a test computes closed long ago."""
    return PipelineSettings(**{"settle_seconds": 0, "batch_delay_seconds": 0, **overrides})


def run_resources(database_url: str, **pipeline: int) -> dict[str, object]:
    return {
        "postgres": PostgresResource(url=database_url),
        "pipeline": pipeline_settings(**pipeline),
    }


def key(grain: str, start: datetime) -> str:
    return PARTITIONS[grain].get_partition_key_for_timestamp(start.timestamp())


def range_tags(grain: str, first: datetime, last: datetime) -> dict[str, str]:
    """Tags of one run over the windows starting from `first` to `last` (both included)."""
    return {RANGE_START: key(grain, first), RANGE_END: key(grain, last)}


def materialize(
    assets: Sequence[dg.AssetsDefinition],
    resources: dict[str, object],
    *,
    grain: str,
    start: datetime,
    last: datetime | None = None,
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """One run over the window starting at `start`, or over the range up to `last`'s window."""
    if last is None:
        partition = {"partition_key": key(grain, start)}
    else:
        partition = {"tags": range_tags(grain, start, last)}
    return dg.materialize(
        assets, resources=resources, instance=instance, raise_on_error=raise_on_error, **partition
    )


def rows(conn: psycopg.Connection, query: str, params: Sequence[object] = ()) -> list[tuple]:
    return conn.execute(query, params).fetchall()


def snapshot(conn: psycopg.Connection, grain: str, start: datetime) -> dict | None:
    """One metrics_snapshots row of GUILD as a dict, None when the window has no row."""
    cur = conn.execute(
        "SELECT total_events, total_messages, total_reactions, voice_ms, unique_active_users,"
        " joins, leaves, data FROM metrics_snapshots"
        " WHERE guild_id = %s AND period_type = %s AND period_start = %s",
        (GUILD, grain, start),
    )
    found = cur.fetchone()
    if found is None:
        return None
    return dict(zip([c.name for c in cur.description], found, strict=True))


def stage_member_rows(conn: psycopg.Connection) -> None:
    """`member_rows`, a temporary table of the rows of every grain's member blocks, one per
    (guild, grain, window, member), for tests to query with SQL."""
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS member_rows (guild_id text, period_type text,"
        " period_start timestamptz, user_id text, events int, messages int, reactions_given int,"
        " reactions_received int, voice_ms bigint, joins int, leaves int,"
        " first_join_at timestamptz, last_message_at timestamptz, last_voice_at timestamptz,"
        " last_seen timestamptz)"
    )
    conn.execute("DELETE FROM member_rows")
    for grain in GRAIN_NAMES:
        frame = blocks.read_blocks(conn, period_type=grain, start=EPOCH, end=END_OF_TIME)
        warehouse.copy_in(conn, "member_rows", frame.with_columns(period_type=pl.lit(grain)))


def member_voice(conn: psycopg.Connection, grain: str) -> dict[tuple[datetime, str], int]:
    """voice_ms of every member row of the grain with voice, keyed (period_start, user)."""
    stage_member_rows(conn)
    return {
        (start, user): ms
        for start, user, ms in rows(
            conn,
            "SELECT period_start, user_id, voice_ms FROM member_rows"
            " WHERE period_type = %s AND voice_ms > 0 ORDER BY period_start, user_id",
            (grain,),
        )
    }


def snapshot_voice(conn: psycopg.Connection, grain: str) -> dict[datetime, int]:
    return dict(
        rows(
            conn,
            "SELECT period_start, voice_ms FROM metrics_snapshots"
            " WHERE period_type = %s AND voice_ms > 0 ORDER BY period_start",
            (grain,),
        )
    )


# Everything the pipeline writes, without the columns that record when it was written.
TABLE_DUMPS = {
    "metrics_snapshots": "SELECT guild_id, period_type, period_start, period_end, total_events,"
    " total_messages, total_reactions, voice_ms, unique_active_users, joins, leaves, data::text"
    " FROM metrics_snapshots ORDER BY 1, 2, 3",
    "member_stats": "SELECT guild_id, user_id, total_messages, total_voice_ms,"
    " total_reactions_given, total_reactions_received, last_message_at, last_voice_at,"
    " last_seen, joined_at FROM member_stats ORDER BY 1, 2",
    "computed_windows": "SELECT period_type, period_start, period_end FROM computed_windows"
    " ORDER BY 1, 2",
    "voice_sessions": "SELECT * FROM voice_sessions ORDER BY 1, 2, 3",
    "voice_checkpoints": "SELECT * FROM voice_checkpoints ORDER BY 1, 2, 3",
    "voice_checkpoint_marks": "SELECT at FROM voice_checkpoint_marks ORDER BY 1",
}


def dump_tables(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    dumped = {table: rows(conn, query) for table, query in TABLE_DUMPS.items()}
    dumped["member_blocks"] = [
        (period_type, *row)
        for period_type in BLOCK_PERIODS
        for row in blocks.read_blocks(conn, period_type=period_type, start=EPOCH, end=END_OF_TIME)
        .sort("guild_id", "period_start", "user_id")
        .iter_rows()
    ]
    return dumped


def compute_everything(
    conn: psycopg.Connection, *, start: datetime, end: datetime, covered_until: datetime
) -> None:
    """What the jobs do over the days [start, end), by the library calls their assets make:
    voice sessions, every grain's rollups, then member_stats."""
    rollups.rebuild_voice_sessions(
        conn, start=start, end=end, covered_until=covered_until, cap=DEFAULT_CAP
    )
    for grain in GRAIN_NAMES:
        window = {"grain": grain, "start": start, "end": end, "covered_until": covered_until}
        rollups.write_rollups(
            conn, rollups.compute_rollups(conn, **window, cap=DEFAULT_CAP), **window
        )
    rollups.rebuild_member_stats(conn, start=start, end=end, as_of=covered_until, cap=DEFAULT_CAP)
