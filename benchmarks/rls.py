"""The cost of row-level security: the same stats reads as the owner and as one guild's reader.

    .venv/bin/python -m benchmarks.rls --size quick   # about half a minute
    .venv/bin/python -m benchmarks.rls --size full    # the recorded figures

A fresh database gets a week of daily member blocks, a day of raw events and lifetime rows for
many guilds (generated in SQL). Each read runs REPEAT times as the tables' owner, whom the
policies do not apply to, and as `as_guild_reader` (sql/0007), alternating, in one run; the
table gives the median of each and their ratio. Both always filter by guild, as the API does:
the policy adds its own `guild_id = current_setting('stats.guild_id')` beside that filter.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import typer

from benchmarks.harness import fresh_database, machine
from benchmarks.report import DocOption, Size, SizeOption, command, doc_path, publish, table
from stats_platform.storage.tenant import as_guild_reader

SIZES = {Size.quick: (10, 200, 30_000), Size.full: (50, 1_000, 100_000)}
"""guilds, members per guild, raw events per guild in the day."""
REPEAT = 30
GUILD = "7"

READS = {
    "nothing (SELECT 1): the two round trips alone": "SELECT 1",
    "member page (member_stats, top 20)": (
        "SELECT user_id, total_messages FROM member_stats WHERE guild_id = %(g)s"
        " ORDER BY total_messages DESC, user_id LIMIT 20"
    ),
    "leaderboard's read, a week of daily member blocks": (
        "SELECT period_start, block FROM member_blocks"
        " WHERE guild_id = %(g)s AND period_type = 'daily'"
        " AND period_start >= %(week)s AND period_start < %(end)s"
    ),
    "raw tail, a day of events": (
        "SELECT count(*), count(DISTINCT user_id) FROM events"
        " WHERE guild_id = %(g)s AND ts >= %(day)s AND ts < %(end)s"
    ),
}

LOAD = """
INSERT INTO member_blocks (guild_id, period_type, period_start, members, block)
SELECT g::text, 'daily', %(week)s::timestamptz + d * interval '1 day', %(members)s,
       convert_to(repeat(md5(g::text || d::text), %(members)s), 'UTF8')
FROM generate_series(1, %(guilds)s) g, generate_series(0, 6) d
---
INSERT INTO member_stats (guild_id, user_id, total_messages)
SELECT g::text, u::text, (u * 37) %% 1000
FROM generate_series(1, %(guilds)s) g, generate_series(1, %(members)s) u
---
INSERT INTO events (ts, guild_id, dedup_key, type, user_id)
SELECT %(day)s::timestamptz + (n * interval '86399 milliseconds') / %(per_guild)s * 1000,
       g::text, 'b' || n, 'MESSAGE_CREATE', (n %% %(members)s)::text
FROM generate_series(1, %(guilds)s) g, generate_series(1, %(per_guild)s) n
"""


def _time(conn: psycopg.Connection, query: str, params: dict, *, reader: bool) -> float:
    started = time.perf_counter()
    with conn.transaction():
        if reader:
            as_guild_reader(conn, GUILD)
        conn.execute(query, params).fetchall()  # type: ignore[call-overload]
    return (time.perf_counter() - started) * 1000


def _measure(url: str, params: dict) -> list[list[object]]:
    rows: list[list[object]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for name, query in READS.items():
            owner_rows = conn.execute(query, params).fetchall()  # type: ignore[call-overload]
            with conn.transaction():
                as_guild_reader(conn, GUILD)
                assert conn.execute(query, params).fetchall() == owner_rows  # type: ignore[call-overload]
            owner, reader = [], []
            for _ in range(REPEAT):
                owner.append(_time(conn, query, params, reader=False))
                reader.append(_time(conn, query, params, reader=True))
            a, b = statistics.median(owner), statistics.median(reader)
            rows.append([name, f"{a:.3f}", f"{b:.3f}", f"{b / a:.2f}x", f"{b - a:+.3f}"])
    return rows


def main(size: Size = SizeOption, doc: Path | None = DocOption) -> None:
    guilds, members, per_guild = SIZES[size]
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = end - timedelta(days=1)
    params = {
        "g": GUILD,
        "week": end - timedelta(days=7),
        "day": day,
        "end": end,
        "guilds": guilds,
        "members": members,
        "per_guild": per_guild,
    }
    with fresh_database("rls") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT stats_ensure_event_partitions(%s, %s)", (day.date(), day.date()))
            started = time.perf_counter()
            for statement in LOAD.split("---"):
                conn.execute(statement, params)  # type: ignore[call-overload]
            conn.execute("ANALYZE member_blocks, member_stats, events")
            loaded = time.perf_counter() - started
            counts = {
                t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                for t in ("member_blocks", "member_stats", "events")
            }
        measured = _measure(url, params)
    info = machine()
    body = "\n\n".join(
        [
            f"`{command('benchmarks.rls')}`; {guilds} guilds of {members} members:"
            f" {counts['member_blocks']:,} daily member blocks over 7 days (32 bytes a member),"
            f" {counts['member_stats']:,} member_stats rows, {counts['events']:,} events in one day"
            f" (loaded in {loaded:.1f} s). One guild's read, median of {REPEAT} runs each,"
            " owner and reader alternating in one connection; each reader run includes its"
            " `SET LOCAL ROLE` and `set_config` round trips.",
            table(
                ["read", "owner ms", "stats_reader ms", "ratio", "difference ms"],
                measured,
                right=(1, 2, 3, 4),
            ),
            f"Machine: {info['nproc']} cores ({info['cpu']}), PostgreSQL {info['postgres']},"
            f" load {info['load']}, commit {info['commit']}.",
        ]
    )
    publish("Row-level security", body, doc_path(size, doc))


if __name__ == "__main__":
    typer.run(main)
