"""Stats API latency: every read endpoint over HTTP, cold and warm, beside the naive raw-SQL answers.

    .venv/bin/python -m benchmarks.api --size quick   # 3 days x 20,000 events; a few minutes
    .venv/bin/python -m benchmarks.api --size full    # 30 days x 200,000 events; writes docs/benchmarks.md

One run builds a fresh database (`benchmarks.api_data`: events over the last days loaded with
COPY, rollups backfilled by the real Dagster assets), serves it with uvicorn (one worker, auth
off, Redis db 12), checks every endpoint's answer against plain SQL over the raw events for a
big, a median and a small guild, then measures latency per endpoint, guild and concurrency:
cold (answer cache off), warm (cache on, the same request repeated) and the raw-SQL answers.
Last, it profiles the slowest cold endpoint in process (`benchmarks.api_profile`). The
database and the server are gone at the end, errors included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

from benchmarks import api_data, api_load, api_profile, api_report
from benchmarks.api_check import Check, check_all
from benchmarks.api_load import ENDPOINTS, Cell, Guild
from benchmarks.harness import SERVER_URL, api_server, fresh_database, machine
from stats_platform.settings import PROJECT_ROOT


@dataclass(frozen=True)
class Size:
    days: int
    per_day: int
    requests: int  # per API cell
    raw_requests: int  # per raw-SQL cell
    least: int  # requests per cell at concurrency 1, whatever the budget
    raw_least: int
    cell_seconds: float  # budget of a cell once `least` requests are in
    five_min_days: int


# Full: a big guild's cold answer takes seconds and its raw-SQL answer several, so its cells
# stop at the budget with a few requests; 200 each would take hours, not the ~25 min wanted.
SIZES = {
    "quick": Size(days=3, per_day=20_000, requests=50, raw_requests=20, least=20,
                  raw_least=20, cell_seconds=5, five_min_days=3),
    "full": Size(days=30, per_day=200_000, requests=200, raw_requests=50, least=3,
                 raw_least=2, cell_seconds=5, five_min_days=2),
}  # fmt: skip
REDIS_URL = "redis://127.0.0.1:6379/12"
SERVER_ENV = {
    "STATS_AUTH": "off",
    "STATS_ENV": "development",
    "STATS_RATE_LIMIT_PER_MINUTE": "1000000000",
    "STATS_REDIS_URL": REDIS_URL,
}
CACHE = {"cold": "0", "warm": "3600"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.api", description=__doc__.split("\n")[0])
    p.add_argument("--size", choices=sorted(SIZES), default="quick")
    p.add_argument("--seed", type=int, default=1, help="generator seed (same seed, same events)")
    p.add_argument("--concurrency", default="1,16", help="concurrent clients per cell")
    p.add_argument("--five-min-days", type=int, help="days of 5-minute rollups (default by size)")
    p.add_argument("--cell-seconds", type=float, help="time budget per cell (default by size)")
    doc = p.add_mutually_exclusive_group()
    doc.add_argument("--doc", action="store_true", help="write docs/benchmarks.md (default: full)")
    doc.add_argument("--no-doc", action="store_true", help="print only")
    return p.parse_args(argv)


def pick_guilds(url: str) -> list[Guild]:
    """The guilds with most, median and fewest events, each with its most active member."""
    with psycopg.connect(url) as conn:
        ranked = conn.execute(
            "SELECT guild_id, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        picks = {"big": ranked[0], "median": ranked[len(ranked) // 2], "small": ranked[-1]}
        guilds = []
        for size, (guild, events) in picks.items():
            row = conn.execute(
                "SELECT user_id FROM events WHERE guild_id = %s AND type = 'MESSAGE_CREATE'"
                " GROUP BY 1 ORDER BY count(*) DESC, length(user_id), user_id LIMIT 1",
                (guild,),
            ).fetchone()
            guilds.append(Guild(size, guild, events, row[0] if row else "0"))
    return guilds


def http_cells(base: str, mode: str, guilds: list[Guild], size: Size, args) -> list[Cell]:
    cells = []
    for concurrency in args.concurrencies:
        for guild in guilds:
            for endpoint in ENDPOINTS:
                cell = asyncio.run(
                    api_load.http_cell(
                        base, guild, endpoint, concurrency=concurrency, mode=mode,
                        target=size.requests, least=size.least, budget_s=args.cell_seconds,
                        redis_url=REDIS_URL,
                    )
                )  # fmt: skip
                _progress(cell)
                cells.append(cell)
    return cells


def raw_cells(url: str, guilds: list[Guild], size: Size, args, checks: list[Check]) -> list[Cell]:
    took = {(c.guild, c.endpoint): c.raw_s for c in checks}
    cells = []
    for concurrency in args.concurrencies:
        for guild in guilds:
            for endpoint in ENDPOINTS:
                if (
                    concurrency > 1
                    and took[guild.size, endpoint.name] > api_load.RAW_CONCURRENT_LIMIT_S
                ):
                    continue
                cell = api_load.raw_cell(
                    url, guild, endpoint, concurrency=concurrency, target=size.raw_requests,
                    least=size.raw_least, budget_s=args.cell_seconds,
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


def server_settings() -> dict[str, str]:
    with psycopg.connect(SERVER_URL) as conn:
        rows = conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings"
            " WHERE name IN ('shared_buffers', 'work_mem', 'jit')"
        ).fetchall()
    return dict(rows)


def commit() -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    return found.stdout.strip() or "unknown"


def clean_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter("stats:*", count=1000):
        client.delete(key)
    client.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    size = SIZES[args.size]
    args.concurrencies = [int(c) for c in args.concurrency.split(",")]
    args.cell_seconds = args.cell_seconds or size.cell_seconds
    five_min_days = args.five_min_days or size.five_min_days
    report: dict = {
        "command": "python -m benchmarks.api " + shlex.join(sys.argv[1:] if argv is None else argv),
        "started": datetime.now(UTC),
        "machine": {**machine(), **server_settings()},
        "commit": commit(),
        "size": size,
        "five_min_days": five_min_days,
    }
    wall = time.perf_counter()
    try:
        with fresh_database("api") as url:
            print(f"building {size.days} days x {size.per_day:,} events ...", flush=True)
            report["build"] = api_data.build(
                url, days=size.days, per_day=size.per_day, seed=args.seed,
                five_min_days=five_min_days,
            )  # fmt: skip
            print(f"  built in {report['build']['total_s']:.0f} s", flush=True)
            report["guilds"] = guilds = pick_guilds(url)
            cells: list[Cell] = []
            for mode in ("cold", "warm"):
                env = {**SERVER_ENV, "STATS_CACHE_TTL_SECONDS": CACHE[mode]}
                with api_server(url, env=env, name=f"api_{mode}") as server:
                    if mode == "cold":
                        print("checking the API against raw SQL ...", flush=True)
                        report["checks"] = check_all(server.base_url, url, guilds)
                        for c in report["checks"]:
                            print(f"  {'PASS' if c.passed else 'FAIL'} {c.guild:6} {c.endpoint}"
                                  f" ({c.compared} values) {'; '.join(c.differences[:3])}")  # fmt: skip
                    print(f"{mode} cache ...", flush=True)
                    cells += http_cells(server.base_url, mode, guilds, size, args)
            print("raw SQL ...", flush=True)
            cells += raw_cells(url, guilds, size, args, report["checks"])
            report["cells"] = cells
            print("profiling the slowest cold endpoint ...", flush=True)
            report["profile"] = api_profile.profile_slowest(url, cells, guilds, REDIS_URL)
            median = next(g for g in guilds if g.size == "median")
            report["warm_in_process"] = api_profile.warm_in_process(url, median, REDIS_URL)
            print("member_activity in guild order (CLUSTER) ...", flush=True)
            report["clustered"] = api_profile.clustered(url, median, REDIS_URL)
    finally:
        clean_redis()
    report["wall_s"] = time.perf_counter() - wall
    # Kept until the report renders, so a failure there does not lose a long run's figures.
    saved = Path(tempfile.gettempdir()) / f"stats_bench_api_{os.getpid()}.pickle"
    saved.write_bytes(pickle.dumps(report))
    text = api_report.render(report)
    saved.unlink()
    print(text)
    if args.doc or (args.size == "full" and not args.no_doc):
        api_report.write_section(text)
        print("\nwrote the Stats API section of docs/benchmarks.md")
    passed = all(c.passed for c in report["checks"])
    return 0 if passed and not any(c.errors for c in cells) else 1


if __name__ == "__main__":
    raise SystemExit(main())
