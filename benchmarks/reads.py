"""Bulk reads: the same events read by COPY CSV through psycopg and by ADBC into Arrow, side by side.

    .venv/bin/python -m benchmarks.reads --size quick   # 20k and 200k events, a minute or two
    .venv/bin/python -m benchmarks.reads --size full    # 100k and 2M events, the recorded figures

A fresh database gets DAYS copies of one simulated day of about PER_DAY events (`day_events` and
`copy_frame` for the first day, the same rows shifted a day at a time by INSERT ... SELECT for
the others). Each read is `warehouse.read_events` over whole days, as compute_rollups reads,
collected: the first day alone, then every day. Each round runs every way of reading once, in
an order rotated round by round, and the table gives the median of ROUNDS rounds. Then the
fixed cost of opening each kind of connection, median of CONNECTS opens.
"""

from __future__ import annotations

import io
import re
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import polars as pl
import psycopg
import pyarrow as pa
import typer
from polars.testing import assert_frame_equal
from psycopg import sql

from benchmarks.events import DAY, copy_frame, day_events, utc_midnight
from benchmarks.harness import fresh_database, machine
from benchmarks.report import DocOption, Size, SizeOption, command, doc_path, publish, table
from stats_platform.domain.events import EventType
from stats_platform.storage import warehouse
from stats_platform.storage.arrow_reader import ArrowReader, with_literals

SIZES = {Size.quick: (20_000, 10), Size.full: (100_000, 20)}
"""PER_DAY events of one simulated day, DAYS days of them."""
ROUNDS = 5
CONNECTS = 20
SEED = 1
INSTANTS = ("ts", "received_at")
EVENTS_SQL = warehouse.statement("select_events", INSTANTS, as_timestamps=False).as_string(None)
"""read_events' SELECT as a CSV read sends it: instants as epoch ms."""
EVENTS_TS_SQL = warehouse.statement("select_events", INSTANTS, as_timestamps=True).as_string(None)
"""read_events' SELECT as an ADBC read sends it: instants as timestamptz."""
NAMES = list(warehouse.EVENT_SCHEMA)
CSV, ADBC, BOUND, SERVER, SERVER_TS, PARSE, CONVERT = (
    "psycopg COPY CSV + pl.read_csv (before)",
    "ADBC COPY BINARY -> Arrow (adopted)",
    "ADBC, bound parameters (no COPY)",
    "server alone: COPY BINARY, bytes kept, epoch ms",
    "server alone, ts as timestamptz (the ADBC read)",
    "client alone: pl.read_csv of the CSV bytes",
    "client alone: the Arrow table into Polars",
)
CHOICES = (
    "What reads this way: the pipeline's assets (the rollups of every grain, voice_sessions and"
    " member_stats), one ADBC connection per run, for the reads before their write transaction"
    " (`stats_platform/storage/arrow_reader.py`); since 2026-12-07 they select ts and"
    " received_at as timestamptz (rounded to the millisecond in Polars as the SQL rounded them)"
    " and open a row's jsonb only for reactions, whose author is the one value read from it."
    " The stats API stays on COPY CSV with epoch ms on its pooled psycopg connection: its reads"
    " run as a guild reader under row-level security in that connection's transaction, their"
    " frames are small, and an ADBC connection per request would cost the open above; psycopg's"
    " own binary COPY lands in Python rows, not Arrow. Reads that must see their transaction's"
    " writes (the span and lifetime blocks, the migration's member rows) stay there too. ADBC is"
    " given no bind parameters: it would run a prepared statement into one libpq result instead"
    " of COPY (the *bound parameters* rows)."
)
SHIFT_DAYS = """
INSERT INTO events (ts, received_at, guild_id, dedup_key, event_id, type, user_id, channel_id,
                    message_id, role_id, shard_id, data)
SELECT ts + k * interval '1 day', received_at + k * interval '1 day', guild_id,
       'd' || k || dedup_key, 'd' || k || event_id, type, user_id, channel_id, message_id,
       role_id, shard_id, data
FROM events, generate_series(1, %(days)s - 1) AS k
WHERE ts >= %(first)s AND ts < %(first)s::timestamptz + interval '1 day'
"""


class BoundReader(ArrowReader):
    """ADBC given bind parameters ($1, ...): a prepared statement, its rows in one libpq result."""

    def fetch(self, query: str | sql.Composable, params: Sequence[object] | dict) -> pa.Table:
        assert isinstance(query, sql.Composable) and isinstance(params, dict)
        names: list[str] = []

        def placeholder(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        text = re.sub(r"%\((\w+)\)s", placeholder, query.as_string(None))
        with self._conn.cursor() as cur:
            cur.execute(text, [params[n] for n in names])
            return cur.fetch_arrow_table()


def load(url: str, first: datetime, per_day: int, days: int) -> dict[str, float]:
    started = time.perf_counter()
    frame = day_events(per_day, first, seed=SEED)
    generated = time.perf_counter()
    with psycopg.connect(url) as conn:
        copy_frame(conn, frame)
        conn.execute(SHIFT_DAYS, {"days": days, "first": first})
        conn.execute("ANALYZE events")
        conn.commit()
    return {"generate_s": generated - started, "load_s": time.perf_counter() - generated}


def copy_bytes(
    conn: psycopg.Connection, *, binary: bool = True, timestamps: bool = False
) -> Callable[[dict], io.BytesIO]:
    """The SELECT of read_events by COPY through psycopg, its bytes kept unparsed: in BINARY,
    what PostgreSQL spends producing the rows. `timestamps`: ts and received_at as stored,
    without the epoch-ms arithmetic."""
    query = EVENTS_TS_SQL if timestamps else EVENTS_SQL
    form = "BINARY" if binary else "CSV"

    def run(filters: dict) -> io.BytesIO:
        statement = (
            f"COPY ({with_literals(query, _every_guild(filters))}) TO STDOUT (FORMAT {form})"
        )
        sink = io.BytesIO()
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for chunk in copy:
                sink.write(chunk)
        return sink

    return run


def _every_guild(filters: dict) -> dict:
    return {
        "received_before": None,
        "all_guilds": True,
        "guild_ids": [],
        "reaction_type": EventType.MESSAGE_REACTION_ADD,
        **filters,
    }


def measure(url: str, reads: list[tuple[str, dict]]) -> list[dict]:
    """Per read size and way of reading: median seconds over ROUNDS rounds."""
    with (
        psycopg.connect(url, autocommit=True) as conn,
        ArrowReader.open(url) as reader,
        BoundReader.open(url) as bound,
    ):
        results = []
        for label, filters in reads:
            csv, arrow = _events(conn, filters), _events(reader, filters)
            assert_frame_equal(arrow, csv)
            assert_frame_equal(_events(bound, filters), csv)
            text = copy_bytes(conn, binary=False)(filters).getvalue()
            fetched = reader.fetch(EVENTS_TS_SQL, _every_guild(filters))
            ways: dict[str, Callable[[], object]] = {
                CSV: partial(_events, conn, filters),
                ADBC: partial(_events, reader, filters),
                BOUND: partial(_events, bound, filters),
                SERVER: partial(copy_bytes(conn), filters),
                SERVER_TS: partial(copy_bytes(conn, timestamps=True), filters),
                PARSE: partial(_parse, text),
                CONVERT: partial(_convert, fetched),
            }
            times: dict[str, list[float]] = {way: [] for way in ways}
            names = list(ways)
            for round_ in range(ROUNDS):
                for way in names[round_ % len(names) :] + names[: round_ % len(names)]:
                    started = time.perf_counter()
                    ways[way]()
                    times[way].append(time.perf_counter() - started)
            results.append(
                {
                    "read": label,
                    "events": csv.height,
                    "mb": csv.estimated_size() / 1e6,
                    "csv_mb": len(text) / 1e6,
                    "median": {way: statistics.median(t) for way, t in times.items()},
                }
            )
    return results


def _events(source: warehouse.Source, filters: dict) -> pl.DataFrame:
    return warehouse.read_events(source, **filters).collect()


def _parse(text: bytes) -> pl.DataFrame:
    return pl.read_csv(text, has_header=False, new_columns=NAMES, schema=warehouse.EVENT_SCHEMA)


def _convert(fetched: pa.Table) -> pl.DataFrame:
    return pl.DataFrame(fetched.rename_columns(NAMES))


def connects(url: str) -> dict[str, float]:
    """Median ms to open and close each kind of connection."""
    opens: dict[str, Callable[[], object]] = {
        "ADBC (ArrowReader.open)": lambda: _open_adbc(url),
        "psycopg.connect": lambda: psycopg.connect(url).close(),
    }
    times: dict[str, list[float]] = {name: [] for name in opens}
    for _ in range(CONNECTS):
        for name, run in opens.items():
            started = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def _open_adbc(url: str) -> None:
    with ArrowReader.open(url):
        pass


def summary(results: list[dict], opened: dict[str, float]) -> str:
    small, big = results[0]["median"], results[-1]["median"]
    return (
        f"At {results[-1]['events']:,} events the ADBC read takes {big[ADBC] / big[CSV]:.2f}x the"
        f" CSV read's time ({small[ADBC] / small[CSV]:.2f}x at {results[0]['events']:,}), and"
        f" {(big[ADBC] - big[SERVER_TS]) * 1000:+,.0f} ms against the server alone on its own"
        " SELECT (timestamptz): what it saves,"
        f" the CSV parse ({big[PARSE] * 1000:,.0f} ms), it spends again in part turning Arrow's"
        f" strings into Polars' ({big[CONVERT] * 1000:,.0f} ms), and both are small beside the"
        f" {big[SERVER] * 1000:,.0f} ms PostgreSQL takes to produce the rows, of which"
        f" {1 - big[SERVER_TS] / big[SERVER]:.0%} is the epoch-ms arithmetic. Opening the ADBC"
        f" connection costs {opened['ADBC (ArrowReader.open)']:.0f} ms, once per run."
    )


def render(results: list[dict], opened: dict[str, float], loaded: dict, info: dict) -> str:
    rows = []
    for r in results:
        before = r["median"][CSV]
        for way, seconds in r["median"].items():
            rows.append(
                [
                    f"{r['read']}, {r['events']:,} events",
                    way,
                    f"{seconds * 1000:,.0f}",
                    f"{r['mb'] / seconds:,.0f}",
                    f"{r['events'] / seconds / 1e6:.2f}",
                    f"{seconds / before:.2f}",
                ]
            )
    sizes = "; ".join(
        f"{r['events']:,} events are {r['mb']:.0f} MB as a frame, {r['csv_mb']:.0f} MB as CSV"
        for r in results
    )
    return "\n\n".join(
        [
            f"Command: `{command('benchmarks.reads')}`  \n"
            f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  \n"
            f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory']}, PostgreSQL"
            f" {info['postgres']} (shared_buffers={info.get('shared_buffers', '?')}), Polars"
            f" {info['polars']}, load average {info['load']} at the start, commit"
            f" {info['commit']}; a shared machine, so expect ±20 % between runs.  \n"
            f"Events: the simulator's model, one day generated in {loaded['generate_s']:.0f} s"
            f" and repeated a day at a time, loaded in {loaded['load_s']:.0f} s; {sizes}.",
            "The first three rows of each size are `warehouse.read_events`, collected, as"
            " compute_rollups reads (the same SQL every way; each ADBC frame is checked equal to"
            " the CSV one with `assert_frame_equal`). The two *server alone* rows are psycopg"
            " copying the same SELECT in BINARY and keeping the bytes unparsed: what PostgreSQL"
            " spends producing the rows, which no client format saves; the second without the"
            " `(extract(epoch FROM ts) * 1000)::bigint` of ts and received_at. The two *client"
            " alone* rows are the other half: parsing the CSV bytes already fetched, and turning"
            " the Arrow table already fetched into a Polars frame. Median of"
            f" {ROUNDS} rounds, the ways rotated each round. MB/s: the frame's size in memory"
            " (`estimated_size`) over the time; ratio: the time ÷ the CSV read's.",
            table(
                ["read", "way", "ms", "MB/s", "M events/s", "ratio"],
                rows,
                right=(2, 3, 4, 5),
            ),
            f"Opening a connection (median of {CONNECTS}, open and close; ADBC's PostgreSQL driver"
            " connects twice, once to load the server's types):",
            table(["connection", "ms"], [[k, f"{v:.1f}"] for k, v in opened.items()], right=(1,)),
            summary(results, opened),
            CHOICES,
        ]
    )


def main(size: Size = SizeOption, doc: Path | None = DocOption) -> None:
    per_day, days = SIZES[size]
    first = utc_midnight() - days * DAY
    with fresh_database("reads") as url:
        print(f"loading {days} days x about {per_day:,} events ...", flush=True)
        info = machine()
        loaded = load(url, first, per_day, days)
        reads = [
            ("one day", {"start": first, "end": first + DAY}),
            (f"{days} days", {"start": first, "end": first + days * DAY}),
        ]
        print("reading ...", flush=True)
        results = measure(url, reads)
        opened = connects(url)
    publish("Bulk reads", render(results, opened, loaded, info), doc_path(size, doc))


if __name__ == "__main__":
    typer.run(main)
