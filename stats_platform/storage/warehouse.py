"""Frames in and out of PostgreSQL with COPY: the one place the pipeline and the API touch tables.

No Dagster here: the stats API uses the same readers so a number is computed one way only. A
reader takes a `Source`: the pipeline's bulk reads pass an ArrowReader (ADBC, binary COPY into
Arrow), everything else its psycopg connection.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta

import polars as pl
import psycopg
import pyarrow as pa
from psycopg import sql

from stats_platform.domain.events import EventType
from stats_platform.domain.grains import HOURLY
from stats_platform.domain.rollups import MEMBER_MEASURES
from stats_platform.storage.arrow_reader import ArrowReader
from stats_platform.storage.scripts import script
from stats_platform.transforms import voice
from stats_platform.transforms.common import TIMESTAMP

EVENT_SCHEMA = {
    "seq": pl.Int64,
    "ts": pl.Int64,
    "received_at": pl.Int64,
    "guild_id": pl.String,
    "type": pl.String,
    "user_id": pl.String,
    "channel_id": pl.String,
    "message_author_id": pl.String,
}
VOICE_SCHEMA = {
    "guild_id": pl.String,
    "user_id": pl.String,
    "channel_id": pl.String,
    "ts": pl.Int64,
    "seq": pl.Int64,
}
CARRY_IN_SCHEMA = {
    "guild_id": pl.String,
    "user_id": pl.String,
    "channel_id": pl.String,
    "started_at": pl.Int64,
}


def _query(name: str) -> str:
    return script(__file__, f"{name}.sql")


Source = psycopg.Connection | ArrowReader
"""Where a read's rows come from: a psycopg connection (its transaction, its guild reader role)
or an ArrowReader, a connection of its own that sees only what is committed."""


def copy_out(
    source: Source,
    query: str | sql.Composable,
    params: Sequence[object] | dict,
    schema: dict,
) -> pl.DataFrame:
    """A SELECT's rows as a frame of `schema`, by COPY ... TO STDOUT: binary into Arrow through
    an ArrowReader, CSV parsed by Polars in one go through psycopg."""
    if isinstance(source, ArrowReader):
        return _as_schema(source.fetch(query, params), schema)
    return _as_schema(_copy_csv(source, query, params, schema), schema)


SMALL_READ_ROWS = 1000
"""Up to about this many rows a binary row fetch beats COPY's CSV, whose parse costs a fixed
0.6-1 ms to set up; from some thousands of rows on CSV is faster (measured on the raw-tail
SELECT, 2026-12-02: 100 rows 1.0 vs 2.2 ms, 1,000 rows 5.4 vs 5.6 ms, 10,000 rows 40 vs 24 ms)."""


def select_frame(
    conn: psycopg.Connection,
    query: str | sql.Composable,
    params: Sequence[object] | dict,
    schema: dict,
) -> pl.DataFrame:
    """A SELECT known to answer few rows (at most some hundreds), fetched as rows in binary."""
    with conn.cursor(binary=True) as cur:
        rows = cur.execute(query, params).fetchall()  # type: ignore[arg-type]
    return pl.DataFrame(rows, schema=schema, orient="row")


def select_or_copy(
    conn: psycopg.Connection,
    query: str | sql.Composable,
    params: Sequence[object] | dict,
    schema: dict,
) -> pl.DataFrame:
    """A SELECT that is usually small but may not be (a raw tail): its first SMALL_READ_ROWS + 1
    rows fetched as rows, and only when there are more, the whole of it by copy_out. The query
    must stream (no ORDER BY or aggregate over all its rows), so the probe stops early."""
    select = sql.SQL(query) if isinstance(query, str) else query  # type: ignore[arg-type]
    probe = sql.SQL("SELECT * FROM ({}) AS q LIMIT {}").format(
        select, sql.Literal(SMALL_READ_ROWS + 1)
    )
    frame = select_frame(conn, probe, params, schema)
    return frame if frame.height <= SMALL_READ_ROWS else copy_out(conn, query, params, schema)


def _copy_csv(
    conn: psycopg.Connection,
    query: str | sql.Composable,
    params: Sequence[object] | dict,
    schema: dict,
) -> pl.DataFrame:
    select = sql.SQL(query) if isinstance(query, str) else query  # type: ignore[arg-type]
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(select)
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(statement, params) as copy:
        for chunk in copy:
            buffer.write(chunk)
    if buffer.tell() == 0:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    return pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=schema)


def _as_schema(rows: pa.Table | pl.DataFrame, schema: dict) -> pl.DataFrame:
    """The one place a read's columns get their names and types, whichever way the rows came.

    Columns are named by position: PostgreSQL names two epoch-ms expressions alike (int8). An
    instant that came as a timestamp where the schema wants epoch ms (see statement) is rounded
    to the millisecond half up, as the SQL's `::bigint` of epoch ms rounds it.
    """
    if isinstance(rows, pa.Table):
        frame = pl.DataFrame(rows.rename_columns(list(schema)))
        frame = frame.with_columns(
            (pl.col(name).dt.epoch("us") + 500) // 1000
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Datetime) and schema[name] == pl.Int64
        )
    else:
        frame = rows
    # A CSV frame was parsed as `schema`: the stats API's many small reads skip a no-op cast.
    return frame if frame.schema == schema else frame.cast(schema)


def _filters(**values: object) -> dict:
    guild_ids = values.pop("guild_ids")
    return {**values, "all_guilds": guild_ids is None, "guild_ids": list(guild_ids or [])}  # type: ignore[call-overload]


def ms_to_datetime(*columns: str) -> list[pl.Expr]:
    return [pl.col(c).cast(TIMESTAMP) for c in columns]


def statement(name: str, instants: Sequence[str], *, as_timestamps: bool) -> sql.Composed:
    """A named query with its instants (`{name}` in it) selected as timestamptz, as an
    ArrowReader reads them best (8 binary bytes; PostgreSQL's numeric epoch arithmetic was a
    third of the server's time for a day of events, docs/benchmarks.md, Bulk reads), or as
    epoch ms, whose integers CSV parses fastest. copy_out makes both epoch ms."""

    def instant(column: str) -> sql.Composable:
        ref = sql.Identifier(column)
        return ref if as_timestamps else _as_epoch_ms(ref)

    return sql.SQL(_query(name)).format(**{c: instant(c) for c in instants})  # type: ignore[arg-type]


def _read(source: Source, query: str, filters: dict, schema: dict, *instants: str) -> pl.LazyFrame:
    """A named query's rows as a LazyFrame, its instants as UTC datetimes."""
    selected = statement(query, instants, as_timestamps=isinstance(source, ArrowReader))
    return (
        copy_out(source, selected, filters, schema).lazy().with_columns(ms_to_datetime(*instants))
    )


def read_events(
    source: Source,
    *,
    start: datetime,
    end: datetime,
    received_before: datetime | None = None,
    guild_ids: Sequence[str] | None = None,
) -> pl.LazyFrame:
    """Events with ts in [start, end), optionally only those that arrived before a cutoff."""
    filters = _filters(start=start, end=end, received_before=received_before, guild_ids=guild_ids)
    filters["reaction_type"] = EventType.MESSAGE_REACTION_ADD
    return _read(source, "select_events", filters, EVENT_SCHEMA, "ts", "received_at")


def read_voice_events(
    source: Source,
    *,
    start: datetime | None,
    end: datetime,
    received_before: datetime | None = None,
    guild_ids: Sequence[str] | None = None,
) -> pl.LazyFrame:
    """VOICE_STATE_UPDATE events with ts in [start, end); start None means from the first kept."""
    filters = _filters(start=start, end=end, received_before=received_before, guild_ids=guild_ids)
    filters["voice_type"] = EventType.VOICE_STATE_UPDATE
    return _read(source, "select_voice_events", filters, VOICE_SCHEMA, "ts")


def latest_checkpoint(
    source: Source, at: datetime, guild_ids: Sequence[str] | None
) -> datetime | None:
    """The newest checkpoint at or before `at` that no late voice event has invalidated."""
    return latest_checkpoints(source, [at], guild_ids)[0]


def latest_checkpoints(
    source: Source, ats: Sequence[datetime], guild_ids: Sequence[str] | None
) -> list[datetime | None]:
    """latest_checkpoint of each instant, in one query (the stats API's replays of a request)."""
    query = _query("select_latest_checkpoints")
    # Marks are at hour ends (midnights included), so the hourly arrivals tell exactly whether a
    # voice event before a mark came after it; the daily ones took every arrival of the day so
    # far for a late one, and today's hour checkpoints were passed over for midnight's.
    filters = _filters(ats=list(ats), grain=HOURLY.name, guild_ids=guild_ids)
    # A few values, on the stats API's path too: a plain query, as a COPY parsed into a frame
    # costs several times the round trip.
    if isinstance(source, ArrowReader):
        return source.fetch(query, filters).column(0).to_pylist()
    return [row[0] for row in source.execute(query, filters).fetchall()]


def read_checkpoint(source: Source, at: datetime, guild_ids: Sequence[str] | None) -> pl.LazyFrame:
    frame = copy_out(
        source,
        "SELECT guild_id, user_id, channel_id, (extract(epoch FROM started_at) * 1000)::bigint"
        " FROM voice_checkpoints WHERE at = %s AND (%s OR guild_id = ANY(%s))",
        [at, guild_ids is None, list(guild_ids or [])],
        CARRY_IN_SCHEMA,
    )
    return frame.lazy().with_columns(ms_to_datetime("started_at"))


def load_voice_sessions(
    source: Source,
    *,
    start: datetime,
    end: datetime,
    cap: timedelta,
    received_before: datetime | None = None,
    guild_ids: Sequence[str] | None = None,
) -> pl.LazyFrame:
    """Every session that can overlap [start, end), replayed from the latest checkpoint at or before start."""
    checkpoint = latest_checkpoint(source, start, guild_ids)
    if checkpoint is None:
        carry_in = (
            pl.DataFrame(schema=CARRY_IN_SCHEMA).lazy().with_columns(ms_to_datetime("started_at"))
        )
    else:
        carry_in = read_checkpoint(source, checkpoint, guild_ids)
    events = read_voice_events(
        source, start=checkpoint, end=end, received_before=received_before, guild_ids=guild_ids
    )
    return voice.sessionize(events, carry_in, cap=cap)


def copy_in(conn: psycopg.Connection, table: str, frame: pl.DataFrame) -> int:
    """Appends a frame to a table with COPY FROM STDIN (CSV); column names must match."""
    if frame.height == 0:
        return 0
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.3f+00:00")
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), columns
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.write(buffer.getvalue())
    return frame.height


def replace_window_rows(
    conn: psycopg.Connection,
    table: str,
    *,
    period_type: str,
    start: datetime,
    end: datetime,
    frame: pl.DataFrame,
) -> int:
    """Replaces a table's rows of one grain in [start, end): the idempotent write of every rollup asset."""
    conn.execute(
        sql.SQL(
            "DELETE FROM {} WHERE period_type = %s AND period_start >= %s AND period_start < %s"
        ).format(sql.Identifier(table)),
        (period_type, start, end),
    )
    # Rows in primary-key order fill the btree sequentially: a third less write time for a day
    # of 5-minute member rows (docs/benchmarks.md, Aggregate).
    key = [c for c in ("guild_id", "period_start", "user_id") if c in frame.columns]
    ordered = frame.sort(key).with_columns(pl.lit(period_type).alias("period_type"))
    return copy_in(conn, table, ordered)


MEMBER_DAILY_SCHEMA = {
    "guild_id": pl.String,
    "user_id": pl.String,
    **{m.name: pl.Int64 for m in MEMBER_MEASURES},
}
"""A member's rows as they are read from SQL (migration 0005's data step): instants in epoch milliseconds."""


def epoch_ms_columns(alias: str, names: Sequence[str], *, instants: Sequence[str]) -> sql.Composed:
    """`alias.name` for each name; timestamptz columns in `instants` as bigint epoch milliseconds."""

    def column(name: str) -> sql.Composable:
        ref = sql.Identifier(alias, name)
        return _as_epoch_ms(ref) if name in instants else ref

    return sql.SQL(", ").join(column(name) for name in names)


def columns(alias: str, names: Sequence[str]) -> sql.Composed:
    """`alias.name, ...` for a SELECT list or a row comparison."""
    return epoch_ms_columns(alias, names, instants=())


def _as_epoch_ms(instant: sql.Composable) -> sql.Composed:
    """A timestamptz as bigint epoch milliseconds: how frames move instants (see ms_to_datetime)."""
    return sql.SQL("(extract(epoch FROM {}) * 1000)::bigint").format(instant)
