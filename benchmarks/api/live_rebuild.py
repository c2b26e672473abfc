"""voice/live's rebuild of the Redis hash from PostgreSQL, beside the rebuild it replaced.

    .venv/bin/python -m benchmarks.api.live_rebuild --size quick
    .venv/bin/python -m benchmarks.api.live_rebuild --size full --doc docs/benchmarks.md

A read rebuilds the hash when Redis lost it or it fell behind (and at least daily): the voice
sessions open now, replayed from the latest checkpoint, and every member's last voice event
within the cap, written into the hash. `benchmarks.api`'s cold voice/live cells are such
rebuilds, one per request. Here: the huge guild of `benchmarks.api.data` (a world of one guild)
for the two days up to now, loaded by COPY into a fresh database, with the checkpoints
production has by then (midnight's from the voice_sessions step, each hour end's of today from
the hourly grain, by the same library calls), then VACUUM ANALYZE as autovacuum would.

Timed, the hash dropped before each read, rounds alternating the order:
- before: the fill as it was (one script call with four arguments an entry) and no partial
  index of voice events (sql/0008_voice_events_index.sql dropped for the round);
- the fill in JSON chunks (`LivePresence.read` today), without and with the index;
- `from_events` alone (the PostgreSQL part), without and with the index.
Every way's answer is checked equal to the others.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis
import typer

from benchmarks.api import data
from benchmarks.harness import fresh_database
from benchmarks.report import DocOption, Size, SizeOption, command, doc_path, publish, table
from stats_api.live.presence import BUILT_SECONDS, Entry, LivePresence, live_key, marker_key
from stats_api.redis_gate import RedisGate
from stats_platform.domain.events import EventType
from stats_platform.domain.grains import HOURLY
from stats_platform.domain.instants import epoch_us_of, floor_to
from stats_platform.pipeline import rollups
from stats_platform.settings import PROJECT_ROOT
from stats_platform.storage.migrations import migrate

REDIS_URL = "redis://127.0.0.1:6379/12"
PER_DAY = {Size.quick: 100_000, Size.full: 1_000_000}
ROUNDS, RUNS = 3, 5
CAP = timedelta(hours=24)
INDEX = "events_voice_guild_ts"
INDEX_MIGRATION = "0008_voice_events_index"


def create_index(url: str) -> None:
    """The partial index built again by its own migration, through the project's runner."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (INDEX_MIGRATION,))
    assert migrate(url) == [INDEX_MIGRATION]


# The fill before a436673 (every entry as four arguments of one call), from the history.
BEFORE_FILL_AT = "a436673~1"
BEFORE_FILL = "stats_api/live/finish_presence_rebuild.lua"


def before_fill_script() -> str:
    found = subprocess.run(
        ["git", "show", f"{BEFORE_FILL_AT}:{BEFORE_FILL}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    )
    return found.stdout.decode()


def build(url: str, per_day: int) -> tuple[datetime, datetime]:
    """The huge guild's two days up to now and today's checkpoints; (now, newest voice arrival)."""
    span = data.Span.ending_now(2, 30)
    now = span.started
    today = floor_to(now, timedelta(days=1))
    with psycopg.connect(url) as conn:
        data.load_huge(conn, span, per_day, seed=1)
        conn.commit()
        covered = datetime.now(UTC)
        rollups.rebuild_voice_sessions(
            conn, start=today - timedelta(days=1), end=today, covered_until=covered, cap=CAP
        )
        hour = floor_to(now, HOURLY.length)
        if hour > today:
            grain = HOURLY.name
            result = rollups.compute_rollups(
                conn, grain=grain, start=today, end=hour, covered_until=covered, cap=CAP
            )
            rollups.write_rollups(
                conn, result, grain=grain, start=today, end=hour, covered_until=covered
            )
        conn.commit()
        newest = conn.execute(
            "SELECT max(last_voice_received_at) FROM window_arrivals"
            " WHERE guild_id = %s AND period_type = 'daily'",
            (data.HUGE_GUILD_ID,),
        ).fetchone()[0]  # type: ignore[index]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE events")
    return now, newest


def main(
    size_name: Size = typer.Option(Size.quick, "--size", help=SizeOption.help),
    doc: Path | None = DocOption,
) -> None:
    started = datetime.now(UTC)
    gate = RedisGate.from_url(REDIS_URL)
    client: redis.Redis = gate.client
    live = LivePresence(gate, cap=CAP, future=timedelta(minutes=5))
    args_fill = client.register_script(before_fill_script())
    guild = data.HUGE_GUILD_ID
    keys = [live_key(guild), marker_key(guild)]

    def before(conn: psycopg.Connection, now: datetime, newest: datetime) -> list:
        client.delete(*keys)
        live._begin(keys=keys, args=[epoch_us_of(newest), "t", 30])
        entries = live.from_events(conn, guild, now=now)
        args: list = ["t", epoch_us_of(newest), BUILT_SECONDS]
        for user, e in entries.items():
            args += [user, e.channel_id or "", e.since, e.ts]
        args_fill(keys=keys, args=args)
        return live._live(entries, now)

    def today(conn: psycopg.Connection, now: datetime, newest: datetime) -> list:
        client.delete(*keys)
        return live.read(conn, guild, now=now, newest_voice=newest)

    def postgres_part(conn: psycopg.Connection, now: datetime, newest: datetime) -> list:
        return live._live(live.from_events(conn, guild, now=now), now)

    ways = {  # name -> (read, index present)
        "before: fill by arguments, no index": (before, False),
        "fill in JSON chunks, no index": (today, False),
        "fill in JSON chunks, index (today)": (today, True),
        "PostgreSQL part alone, no index": (postgres_part, False),
        "PostgreSQL part alone, index": (postgres_part, True),
    }
    found: dict[str, list[float]] = {name: [] for name in ways}
    answers: dict[str, list[tuple[str, Entry]]] = {}
    with fresh_database("live_rebuild") as url:
        print(f"loading two days of {PER_DAY[size_name]:,} events a day ...", flush=True)
        t0 = time.perf_counter()
        now, newest = build(url, PER_DAY[size_name])
        build_s = time.perf_counter() - t0
        with psycopg.connect(url) as conn:
            voice_rows, entries = conn.execute(
                "SELECT count(*), count(DISTINCT user_id) FROM events WHERE type = %s AND ts >= %s",
                (EventType.VOICE_STATE_UPDATE, now - CAP),
            ).fetchone()  # type: ignore[misc]
            conn.commit()
            for round_no in range(ROUNDS):
                states = (False, True) if round_no % 2 else (True, False)
                for indexed in states:
                    conn.execute(f"DROP INDEX IF EXISTS {INDEX}")
                    conn.commit()
                    if indexed:
                        create_index(url)
                    for name, (read, wants_index) in ways.items():
                        if wants_index != indexed:
                            continue
                        for _ in range(RUNS):
                            t0 = time.perf_counter()
                            answers[name] = read(conn, now, newest)
                            found[name].append(time.perf_counter() - t0)
                            conn.rollback()
                print(f"round {round_no + 1} of {ROUNDS} done", flush=True)
    client.delete(*keys)
    first, *others = answers.values()
    assert all(sorted(o) == sorted(first) for o in others), "the ways disagree"
    base = statistics.median(found["before: fill by arguments, no index"]) * 1000
    rows = []
    for name, seconds in found.items():
        ms = statistics.median(seconds) * 1000
        ratio = "(a part)" if name.startswith("PostgreSQL") else f"{base / ms:.2f}x"
        rows.append([name, f"{ms:,.0f}", ratio])
        print(rows[-1], flush=True)
    body = "\n".join(
        [
            f"Command: `{command('benchmarks.api.live_rebuild')}`  ",
            f"Date: {started:%Y-%m-%d %H:%M} UTC; nproc 2, the machine shared with other work  ",
            f"Data: the huge guild at {PER_DAY[size_name]:,} events a day, two days up to"
            f" {now:%H:%M} UTC, built in {build_s:.0f} s; {voice_rows:,} voice events within the"
            f" cap from {entries:,} members, {len(first):,} of them in a channel now.  ",
            f"Each cell: median of {ROUNDS} rounds x {RUNS} reads, the index created or dropped"
            " between the two halves of a round and their order alternating; every answer equal.",
            "",
            table(["rebuild", "ms", "speed-up"], rows, right=(1, 2)),
        ]
    )
    publish("Voice live: a rebuild", body, doc_path(size_name, doc))


if __name__ == "__main__":
    typer.run(main)
