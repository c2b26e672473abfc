"""The same rollups computed by SQL GROUP BY inside PostgreSQL, timed, and compared with Polars.

Voice is included: `SESSIONS` rebuilds sessions with window functions (runs of one channel per
(guild, user) in (ts, seq) order, a recursive split of runs that outlast the cap, the next
event closing a session as leave, move or cap), replaying from the first voice event kept with
nothing open, as the pipeline does on a database without checkpoints. Every statement
materializes into a temp table, so the timings are computation inside PostgreSQL with no
transfer to the client.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl
import psycopg

from stats_platform.storage import warehouse
from stats_platform.transforms.activity import MEMBER_ACTIVITY_COLUMNS, SNAPSHOT_COLUMNS

_EPOCH = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
_RANGE = "ts >= %(start)s AND ts < %(end)s AND received_at < %(as_of)s"

SESSIONS = """
CREATE TEMP TABLE bench_sessions AS
WITH RECURSIVE ev AS (
    SELECT guild_id, user_id, channel_id, ts, seq,
           channel_id IS NOT NULL
             AND channel_id IS DISTINCT FROM lag(channel_id) OVER w AS new_run
    FROM events
    WHERE type = 'VOICE_STATE_UPDATE' AND user_id IS NOT NULL
      AND ts < %(end)s AND received_at < %(as_of)s
    WINDOW w AS (PARTITION BY guild_id, user_id ORDER BY ts, seq)
), runs AS (
    SELECT *, sum(new_run::int) OVER (PARTITION BY guild_id, user_id ORDER BY ts, seq
                                      ROWS UNBOUNDED PRECEDING) AS run_no
    FROM ev
), bounds AS (
    SELECT *, min(ts) OVER r AS run_start, max(ts) OVER r AS run_end
    FROM runs
    WINDOW r AS (PARTITION BY guild_id, user_id, run_no, channel_id IS NULL)
), long_rows AS MATERIALIZED (
    SELECT guild_id, user_id, run_no, ts FROM bounds
    WHERE channel_id IS NOT NULL AND run_end >= run_start + %(cap)s
), splits (guild_id, user_id, run_no, started_at) AS (
    SELECT guild_id, user_id, run_no, min(ts) FROM long_rows GROUP BY 1, 2, 3
    UNION ALL
    SELECT s.guild_id, s.user_id, s.run_no, n.ts
    FROM splits s CROSS JOIN LATERAL (
        SELECT min(l.ts) AS ts FROM long_rows l
        WHERE (l.guild_id, l.user_id, l.run_no) = (s.guild_id, s.user_id, s.run_no)
          AND l.ts >= s.started_at + %(cap)s) n
    WHERE n.ts IS NOT NULL
), started AS (
    SELECT b.*,
           CASE WHEN b.channel_id IS NULL THEN NULL
                WHEN b.run_end >= b.run_start + %(cap)s THEN (
                    SELECT max(s.started_at) FROM splits s
                    WHERE (s.guild_id, s.user_id, s.run_no) = (b.guild_id, b.user_id, b.run_no)
                      AND s.started_at <= b.ts)
                ELSE b.run_start END AS started_at
    FROM bounds b
), nexts AS (
    SELECT *, lead(true) OVER w AS has_next, lead(ts) OVER w AS next_ts,
           lead(channel_id) OVER w AS next_channel, lead(started_at) OVER w AS next_started
    FROM started
    WINDOW w AS (PARTITION BY guild_id, user_id ORDER BY ts, seq)
), closed AS (
    SELECT guild_id, user_id, channel_id, started_at,
           CASE WHEN has_next IS NULL THEN NULL
                WHEN next_channel = channel_id OR next_ts > started_at + %(cap)s
                    THEN started_at + %(cap)s
                ELSE next_ts END AS ended_at,
           CASE WHEN has_next IS NULL THEN NULL
                WHEN next_channel = channel_id OR next_ts > started_at + %(cap)s THEN 'cap'
                WHEN next_channel IS NULL THEN 'leave'
                ELSE 'move' END AS end_reason
    FROM nexts
    WHERE channel_id IS NOT NULL
      AND NOT coalesce(has_next AND next_channel = channel_id AND next_started = started_at,
                       false)
)
SELECT * FROM closed WHERE ended_at IS NULL OR ended_at > started_at
"""

VOICE_WINDOWS = f"""
CREATE TEMP TABLE bench_voice_windows AS
WITH spans AS (
    SELECT guild_id, user_id, greatest(started_at, %(start)s) AS begin_at,
           least(coalesce(ended_at, started_at + %(cap)s), %(as_of)s, %(end)s) AS finish_at
    FROM bench_sessions
), pieces AS (
    SELECT guild_id, user_id, w AS period_start,
           least(finish_at, w + %(every)s) AS piece_end, greatest(begin_at, w) AS piece_start
    FROM spans, generate_series(date_bin(%(every)s, begin_at, {_EPOCH}),
                                finish_at - INTERVAL '1 millisecond', %(every)s) AS w
    WHERE finish_at > begin_at
)
SELECT guild_id, user_id, period_start,
       sum(extract(epoch FROM piece_end - piece_start) * 1000)::bigint AS voice_ms,
       max(piece_end) AS last_voice_at
FROM pieces GROUP BY 1, 2, 3
"""

TYPE_COUNTS = f"""
CREATE TEMP TABLE bench_type_counts AS
SELECT guild_id, date_bin(%(every)s, ts, {_EPOCH}) AS period_start, type, count(*) AS n
FROM events WHERE {_RANGE}
GROUP BY 1, 2, 3
"""

ACTIVE_USERS = f"""
CREATE TEMP TABLE bench_active_users AS
SELECT guild_id, period_start, count(DISTINCT user_id) AS unique_active_users
FROM (SELECT guild_id, date_bin(%(every)s, ts, {_EPOCH}) AS period_start, user_id
      FROM events WHERE {_RANGE} AND user_id IS NOT NULL
      UNION ALL
      SELECT guild_id, period_start, user_id FROM bench_voice_windows WHERE voice_ms > 0) u
GROUP BY 1, 2
"""

MEMBERS = f"""
CREATE TEMP TABLE bench_members AS
WITH parts AS (
    SELECT guild_id, date_bin(%(every)s, ts, {_EPOCH}) AS period_start, user_id,
           count(*) AS events,
           count(*) FILTER (WHERE type = 'MESSAGE_CREATE') AS messages,
           count(*) FILTER (WHERE type = 'MESSAGE_REACTION_ADD') AS reactions_given,
           0 AS reactions_received, 0 AS voice_ms,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_ADD') AS joins,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_REMOVE') AS leaves,
           min(ts) FILTER (WHERE type = 'GUILD_MEMBER_ADD') AS first_join_at,
           max(ts) FILTER (WHERE type = 'MESSAGE_CREATE') AS last_message_at,
           NULL::timestamptz AS last_voice_at,
           max(ts) AS last_seen
    FROM events WHERE {_RANGE} AND user_id IS NOT NULL
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT guild_id, date_bin(%(every)s, ts, {_EPOCH}), (data ->> 'messageAuthorId') COLLATE "C",
           0, 0, 0, count(*), 0, 0, 0, NULL, NULL, NULL, NULL
    FROM events
    WHERE {_RANGE} AND type = 'MESSAGE_REACTION_ADD' AND data ->> 'messageAuthorId' IS NOT NULL
      AND (user_id IS NULL OR (data ->> 'messageAuthorId') COLLATE "C" <> user_id)
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT guild_id, period_start, user_id, 0, 0, 0, 0, voice_ms, 0, 0, NULL, NULL,
           last_voice_at, last_voice_at
    FROM bench_voice_windows
)
SELECT guild_id, period_start, user_id,
       sum(events)::bigint AS events, sum(messages)::bigint AS messages,
       sum(reactions_given)::bigint AS reactions_given,
       sum(reactions_received)::bigint AS reactions_received, sum(voice_ms)::bigint AS voice_ms,
       sum(joins)::bigint AS joins, sum(leaves)::bigint AS leaves,
       min(first_join_at) AS first_join_at, max(last_message_at) AS last_message_at,
       max(last_voice_at) AS last_voice_at, max(last_seen) AS last_seen
FROM parts GROUP BY 1, 2, 3
"""

SNAPSHOTS = """
CREATE TEMP TABLE bench_snapshots AS
WITH by_type AS (
    SELECT guild_id, period_start, sum(n) AS total_events,
           coalesce(sum(n) FILTER (WHERE type = 'MESSAGE_CREATE'), 0) AS total_messages,
           coalesce(sum(n) FILTER (WHERE type = 'MESSAGE_REACTION_ADD'), 0) AS total_reactions,
           coalesce(sum(n) FILTER (WHERE type = 'GUILD_MEMBER_ADD'), 0) AS joins,
           coalesce(sum(n) FILTER (WHERE type = 'GUILD_MEMBER_REMOVE'), 0) AS leaves,
           '{"by_type":{' || string_agg(format('"%%s":%%s', type, n), ',' ORDER BY type COLLATE "C")
             || '}}' AS data
    FROM bench_type_counts GROUP BY 1, 2
), voice AS (
    SELECT guild_id, period_start, sum(voice_ms) AS voice_ms FROM bench_voice_windows GROUP BY 1, 2
)
SELECT guild_id, period_start, period_start + %(every)s AS period_end,
       coalesce(b.total_events, 0) AS total_events,
       coalesce(b.total_messages, 0) AS total_messages,
       coalesce(b.total_reactions, 0) AS total_reactions,
       coalesce(v.voice_ms, 0) AS voice_ms,
       coalesce(a.unique_active_users, 0) AS unique_active_users,
       coalesce(b.joins, 0) AS joins, coalesce(b.leaves, 0) AS leaves,
       coalesce(b.data, '{"by_type":{}}') AS data
FROM by_type b
FULL JOIN voice v USING (guild_id, period_start)
FULL JOIN bench_active_users a USING (guild_id, period_start)
"""

GRAIN_STEPS = [
    ("voice per window", "bench_voice_windows", VOICE_WINDOWS),
    ("counts by type", "bench_type_counts", TYPE_COUNTS),
    ("distinct active users", "bench_active_users", ACTIVE_USERS),
    ("per-member counts", "bench_members", MEMBERS),
    ("snapshot rows", "bench_snapshots", SNAPSHOTS),
]
TEMP_TABLES = ["bench_sessions", *(table for _, table, _ in GRAIN_STEPS)]


@dataclass
class SqlRun:
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def _timed(conn: psycopg.Connection, table: str, statement: str, params: dict) -> float:
    conn.execute(f"DROP TABLE IF EXISTS {table}")  # type: ignore[arg-type]
    started = time.perf_counter()
    conn.execute(statement, params)  # type: ignore[arg-type]
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
    return _timed(conn, "bench_sessions", SESSIONS, {"end": end, "as_of": as_of, "cap": cap})


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
    return {name: _timed(conn, table, statement, params) for name, table, statement in GRAIN_STEPS}


def _fetch(conn: psycopg.Connection, table: str, columns: list[str], schema: dict) -> pl.DataFrame:
    stamps = [c for c, t in schema.items() if isinstance(t, pl.Datetime)]
    select = ", ".join(
        f"(extract(epoch FROM {c}) * 1000)::bigint" if c in stamps else c for c in columns
    )
    raw_schema = {c: (pl.Int64 if c in stamps else schema[c]) for c in columns}
    frame = warehouse.copy_out(conn, f"SELECT {select} FROM {table}", [], raw_schema)
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
