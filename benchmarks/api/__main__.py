"""Stats API latency: every read endpoint over HTTP, cold and warm, beside the naive raw-SQL answers.

    .venv/bin/python -m benchmarks.api --size quick   # 3 days x 20,000 + 10,000 events; minutes
    .venv/bin/python -m benchmarks.api --size full    # 30 days x 200,000 + 1,000,000 events

One run builds a fresh database (`benchmarks.api.data`: events over the last days loaded with
COPY, a 50-guild world and one huge guild beside it, rollups backfilled by the real Dagster
assets), serves it with uvicorn (one worker, auth off, Redis db 12), checks every endpoint's
answer against plain SQL over the raw events for a big, a median and a small guild of the world
and for the huge guild (at the full size only the endpoints `Sizes.huge_checks` names), then
brings the hourly and 5-minute rollups up to now (`data.catch_up`, again before the
profile and the workers' run, as the schedules of a running deployment keep them), then
measures latency per endpoint, guild and concurrency: cold (answer cache off), warm (cache on,
the same request repeated) and the raw-SQL answers (not for the huge guild). Last, it profiles
the slowest cold endpoint in process (`benchmarks.api.profile`) and counts cold answers per
second from 1 and 2 workers. The report sets the issue's goals beside the figures. The
database and the server are gone at the end, errors included.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
import typer

from benchmarks.api import data, load, profile, report
from benchmarks.api.check import Check, check_all
from benchmarks.api.load import ENDPOINTS, Cell, Guild
from benchmarks.events import GUILDS
from benchmarks.harness import api_server, fresh_database, machine
from benchmarks.report import DocOption, Size, SizeOption, command, doc_path, publish


@dataclass(frozen=True)
class Sizes:
    days: int
    per_day: int  # events a day of the 50-guild world
    huge_per_day: int  # events a day of the one huge guild beside it
    huge_checks: tuple[str, ...]  # the huge guild's endpoints checked against raw SQL
    requests: int  # per API cell
    raw_requests: int  # per raw-SQL cell
    least: int  # requests per cell at concurrency 1, whatever the budget
    raw_least: int
    cell_seconds: float  # budget of a cell once `least` requests are in
    five_min_days: int


# Full: a p95 needs 20 answers, so every API cell gets them whatever its budget (the huge
# guild's cold answers take up to half a second: some 10 s a cell); a big guild's raw-SQL answer
# takes seconds, so its cells stop at the budget with a few.
# The huge guild's raw SQL takes 25-55 s an answer over 10 days of it (its sessionizer over all
# the guild's voice grows faster than the events), some 2-3 min over 30: checking all eight
# answers would take about 20 min, so the full size checks the two lifetime answers (the
# member_stats and daily rows the backfills wrote for a quarter of a million members), the
# cheapest of the rollup-backed ones. The quick size checks them all.
# 5-minute rollups: a deployment keeps them 90 days (`five_minute_retention_days`), so the edges
# of a rolling week and of the week before it (up to 14 days back) fall in 5-minute windows
# and an answer reads at most 5 minutes of raw events there. The full size backfills the days
# those edges need (FIVE_MIN_DAYS), not all 30: with 2 days, up to an hour of the huge guild's
# events (some 40,000) was read raw at each older edge, the largest part of its week answers.
FIVE_MIN_DAYS = 16
ALL_ENDPOINTS = tuple(e.name for e in ENDPOINTS)
SIZES = {
    Size.quick: Sizes(days=3, per_day=20_000, huge_per_day=10_000, huge_checks=ALL_ENDPOINTS,
                  requests=50, raw_requests=20, least=20, raw_least=20, cell_seconds=5,
                  five_min_days=3),
    Size.full: Sizes(days=30, per_day=200_000, huge_per_day=1_000_000,
                 huge_checks=("members p1 messages", "member detail week"), requests=200,
                 raw_requests=50, least=20, raw_least=2, cell_seconds=5,
                 five_min_days=FIVE_MIN_DAYS),
}  # fmt: skip
# Raw SQL of the huge guild is only run to check its answers, never timed: the goal compares
# the answers with raw SQL for the big guild.
UNTIMED_RAW = {"huge"}
REDIS_URL = "redis://127.0.0.1:6379/12"
CONCURRENCY = (1, 16)
CACHE = {"cold": "0", "warm": "3600"}


def pick_guilds(url: str) -> list[Guild]:
    """The 50-guild world's guilds with most, median and fewest events, and the huge guild; each
    with its most active member."""
    with psycopg.connect(url) as conn:
        ranked = conn.execute(
            "SELECT guild_id, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        world = [row for row in ranked if row[0] != data.HUGE_GUILD_ID]
        huge = next(row for row in ranked if row[0] == data.HUGE_GUILD_ID)
        picks = {"big": world[0], "median": world[len(world) // 2], "small": world[-1],
                 "huge": huge}  # fmt: skip
        guilds = []
        for size, (guild, events) in picks.items():
            row = conn.execute(
                "SELECT user_id FROM events WHERE guild_id = %s AND type = 'MESSAGE_CREATE'"
                " GROUP BY 1 ORDER BY count(*) DESC, length(user_id), user_id LIMIT 1",
                (guild,),
            ).fetchone()
            guilds.append(Guild(size, guild, events, row[0] if row else "0"))
    return guilds


WORKER_COUNTS = (1, 2)
WORKER_ENDPOINTS = ("dashboard month", "leaderboard month overall")


def worker_throughput(url: str, guilds: list[Guild], size: Sizes) -> list[dict]:
    """Cold answers per second at concurrency 16, the same requests served by 1 and 2 workers."""
    env = {"STATS_REDIS_URL": REDIS_URL, "STATS_CACHE_TTL_SECONDS": "0"}
    found = []
    for workers in WORKER_COUNTS:
        with api_server(url, env=env, name=f"api_workers_{workers}", workers=workers) as server:
            for guild in guilds:
                for endpoint in (e for e in ENDPOINTS if e.name in WORKER_ENDPOINTS):
                    cell = asyncio.run(
                        load.http_cell(
                            server.base_url, guild, endpoint, concurrency=16, mode="cold",
                            target=size.requests, least=size.least, budget_s=size.cell_seconds,
                            redis_url=REDIS_URL,
                        )
                    )  # fmt: skip
                    found.append(
                        {
                            "workers": workers,
                            "guild": guild.size,
                            "endpoint": endpoint.name,
                            "answers": len(cell.latencies),
                            "failed": len(cell.errors),
                            "shared": cell.shared,
                            "per_s": len(cell.latencies) / cell.seconds if cell.seconds else 0.0,
                        }
                    )
    return found


def http_cells(base: str, mode: str, guilds: list[Guild], size: Sizes) -> list[Cell]:
    cells = []
    for concurrency in CONCURRENCY:
        for guild in guilds:
            for endpoint in ENDPOINTS:
                cell = asyncio.run(
                    load.http_cell(
                        base, guild, endpoint, concurrency=concurrency, mode=mode,
                        target=size.requests, least=size.least, budget_s=size.cell_seconds,
                        redis_url=REDIS_URL,
                    )
                )  # fmt: skip
                _progress(cell)
                cells.append(cell)
    return cells


def raw_cells(url: str, guilds: list[Guild], size: Sizes, checks: list[Check]) -> list[Cell]:
    took = {(c.guild, c.endpoint): c.raw_s for c in checks}
    cells = []
    for concurrency in CONCURRENCY:
        for guild in (g for g in guilds if g.size not in UNTIMED_RAW):
            for endpoint in ENDPOINTS:
                if (
                    concurrency > 1
                    and took[guild.size, endpoint.name] > load.RAW_CONCURRENT_LIMIT_S
                ):
                    continue
                cell = load.raw_cell(
                    url, guild, endpoint, concurrency=concurrency, target=size.raw_requests,
                    least=size.raw_least, budget_s=size.cell_seconds,
                )  # fmt: skip
                _progress(cell)
                cells.append(cell)
    return cells


def _progress(cell: Cell) -> None:
    p50, p95 = cell.percentile(50), cell.percentile(95)
    print(
        f"  {cell.mode:7} c{cell.concurrency:<2} {cell.guild:6} {cell.endpoint:26}"
        f" n={len(cell.latencies):3} p50={p50 or 0:8.1f} p95={p95 or 0:8.1f} ms"
        + (f"  ERRORS {len(cell.errors)}: {cell.errors[0]}" if cell.errors else ""),
        flush=True,
    )


def clean_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter("stats:*", count=1000):
        client.delete(key)
    client.close()


def main(
    size_name: Size = typer.Option(Size.quick, "--size", help=SizeOption.help),
    doc: Path | None = DocOption,
    seed: int = typer.Option(1, help="generator seed (same seed, same events)"),
) -> None:
    size = SIZES[size_name]
    assert set(size.huge_checks) <= set(ALL_ENDPOINTS), "huge_checks names an unknown endpoint"
    five_min_days = size.five_min_days
    results: dict = {
        "command": command("benchmarks.api"),
        "started": datetime.now(UTC),
        "machine": machine(),
        "size": size,
        "five_min_days": five_min_days,
    }
    wall = time.perf_counter()
    try:
        with fresh_database("api") as url:
            print(f"building {size.days} days x {size.per_day:,} events of {GUILDS} guilds and"
                  f" x {size.huge_per_day:,} of one huge guild ...", flush=True)  # fmt: skip
            results["build"] = data.build(
                url, days=size.days, per_day=size.per_day, huge_per_day=size.huge_per_day,
                seed=seed, five_min_days=five_min_days,
            )  # fmt: skip
            print(f"  built in {results['build']['total_s']:.0f} s", flush=True)
            results["guilds"] = guilds = pick_guilds(url)
            cells: list[Cell] = []
            for mode in ("cold", "warm"):
                env = {"STATS_REDIS_URL": REDIS_URL, "STATS_CACHE_TTL_SECONDS": CACHE[mode]}
                with api_server(url, env=env, name=f"api_{mode}") as server:
                    if mode == "cold":
                        print("checking the API against raw SQL ...", flush=True)
                        started = time.perf_counter()
                        results["checks"] = check_all(
                            server.base_url, url, guilds, {"huge": size.huge_checks}
                        )
                        results["check_s"] = time.perf_counter() - started
                    if mode == "cold":
                        data.catch_up(url)
                    print(f"{mode} cache ...", flush=True)
                    cells += http_cells(server.base_url, mode, guilds, size)
            print("raw SQL ...", flush=True)
            cells += raw_cells(url, guilds, size, results["checks"])
            results["cells"] = cells
            data.catch_up(url)
            print("profiling the slowest cold endpoint ...", flush=True)
            results["profile"] = profile.profile_slowest(url, cells, guilds, REDIS_URL)
            median = next(g for g in guilds if g.size == "median")
            results["warm_in_process"] = profile.warm_in_process(url, median, REDIS_URL)
            data.catch_up(url)
            print("answers/s at concurrency 16 with 1 and 2 workers ...", flush=True)
            results["workers"] = worker_throughput(url, guilds, size)
    finally:
        clean_redis()
    results["wall_s"] = time.perf_counter() - wall
    # Kept until the report renders, so a failure there does not lose a long run's figures.
    saved = Path(tempfile.gettempdir()) / f"stats_bench_api_{os.getpid()}.pickle"
    saved.write_bytes(pickle.dumps(results))
    publish("Stats API", report.render(results), doc_path(size_name, doc))
    saved.unlink()
    if not all(c.passed for c in results["checks"]) or any(c.errors for c in cells):
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(main)
