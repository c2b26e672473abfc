"""The same rollups computed by SQL GROUP BY inside PostgreSQL, timed, and compared with Polars.

Voice is included: `sessions.sql` rebuilds sessions with window functions (runs of one channel per
(guild, user) in (ts, seq) order, a recursive split of runs that outlast the cap, the next
event closing a session as leave, move or cap), replaying from the first voice event kept with
nothing open, as the pipeline does on a database without checkpoints. Every statement
materializes into a temp table, so the timings are computation inside PostgreSQL with no
transfer to the client.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import polars as pl
import psycopg
from psycopg import sql

from stats_platform.storage import warehouse
from stats_platform.storage.scripts import script
from stats_platform.transforms.activity import MEMBER_ACTIVITY_COLUMNS, SNAPSHOT_COLUMNS

# (name shown, temp table written, file of its SELECT); each reads the tables before it.
GRAIN_STEPS = [
    ("voice per window", "bench_voice_windows", "voice_windows.sql"),
    ("counts by type", "bench_type_counts", "type_counts.sql"),
    ("distinct active users", "bench_active_users", "active_users.sql"),
    ("per-member counts", "bench_members", "members.sql"),
    ("snapshot rows", "bench_snapshots", "snapshots.sql"),
]


def _timed(conn: psycopg.Connection, table: str, filename: str, params: dict) -> float:
    """Seconds of one SELECT materialized into a temp table: computation, no transfer."""
    name = sql.Identifier(table)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
    statement = sql.SQL("CREATE TEMP TABLE {} AS\n{}").format(
        name, sql.SQL(script(__file__, filename))
    )  # type: ignore[arg-type]
    started = time.perf_counter()
    conn.execute(statement, params)
    return time.perf_counter() - started


def prepare(conn: psycopg.Connection, *, work_mem: str, jit: str) -> None:
    """UTC for date_bin and generate_series; work_mem so the big GROUP BYs can hash in memory.

    jit: the sessionizer's correlated split lookups inflate its cost estimate far past
    jit_above_cost, and compiling it then takes seconds longer than running it.
    """
    conn.autocommit = True
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SELECT set_config('work_mem', %s, false)", (work_mem,))
    conn.execute("SELECT set_config('jit', %s, false)", (jit,))


def sessions(conn: psycopg.Connection, *, end: datetime, as_of: datetime, cap: timedelta) -> float:
    params = {"guild": None, "end": end, "as_of": as_of, "cap": cap}
    return _timed(conn, "bench_sessions", "sessions.sql", params)


def grain(
    conn: psycopg.Connection,
    *,
    start: datetime,
    end: datetime,
    every: timedelta,
    as_of: datetime,
    cap: timedelta,
) -> dict[str, float]:
    """Seconds of each statement of one grain; bench_sessions must exist."""
    params = {"start": start, "end": end, "every": every, "as_of": as_of, "cap": cap}
    return {name: _timed(conn, table, filename, params) for name, table, filename in GRAIN_STEPS}


def _fetch(conn: psycopg.Connection, table: str, columns: list[str], schema: dict) -> pl.DataFrame:
    stamps = [c for c, t in schema.items() if isinstance(t, pl.Datetime)]
    select = ", ".join(
        f"(extract(epoch FROM {c}) * 1000)::bigint" if c in stamps else c for c in columns
    )
    raw_schema = {c: (pl.Int64 if c in stamps else schema[c]) for c in columns}
    frame = warehouse.copy_out(
        conn, f"SELECT {select} FROM {table}", [], raw_schema
    )  # names from the schemas
    return frame.with_columns(pl.col(c).cast(schema[c]) for c in stamps)


def fetch_results(
    conn: psycopg.Connection, members: pl.DataFrame, snapshots: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """bench_members and bench_snapshots as frames with the schemas of the Polars results."""
    return (
        _fetch(conn, "bench_members", MEMBER_ACTIVITY_COLUMNS, dict(members.schema)),
        _fetch(conn, "bench_snapshots", SNAPSHOT_COLUMNS, dict(snapshots.schema)),
    )


def fetch_sessions(conn: psycopg.Connection, schema: dict) -> pl.DataFrame:
    return _fetch(conn, "bench_sessions", list(schema), schema)


def mismatched_rows(left: pl.DataFrame, right: pl.DataFrame) -> int:
    """Rows in one frame and not the other (as multisets of whole rows): 0 means equal."""
    keyed = [
        f.group_by(f.columns).len() for f in (left, right.select(left.columns).cast(left.schema))
    ]
    only = keyed[0].join(keyed[1], on=left.columns, how="full", nulls_equal=True, suffix="_r")
    return (
        only.filter(pl.col("len").fill_null(0) != pl.col("len_r").fill_null(0))
        .select((pl.col("len").fill_null(0) - pl.col("len_r").fill_null(0)).abs().sum())
        .item()
    )
