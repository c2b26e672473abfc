"""Aggregate compute: Polars rollups vs SQL GROUP BY on the same events, and a 7-day backfill.

    .venv/bin/python -m benchmarks.aggregate --size quick   # 200k events, a few minutes
    .venv/bin/python -m benchmarks.aggregate --size full    # 2M events; writes docs/benchmarks.md

One run loads one UTC day (yesterday) into a fresh database and on those events measures the
pipeline's read (COPY out), Polars compute and write of the 5-minute, hourly and daily rollups
and of member_stats; then computes the same rows with SQL inside PostgreSQL, times it, and checks
both give identical rows. A second fresh database gets seven days (ending at today's midnight)
and the real Dagster assets backfill them, one run per job. Both databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shlex
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from benchmarks import aggregate_backfill as backfill
from benchmarks import aggregate_polars as P
from benchmarks import aggregate_sql as S
from benchmarks.aggregate_data import DAY, fresh_database, load_days, utc_midnight
from benchmarks.aggregate_report import machine, render, write_section
from stats_platform.transforms.common import GRAINS

SIZES = {"quick": 200_000, "full": 2_000_000}
BACKFILL_PER_DAY = {"quick": 50_000, "full": 1_000_000}
CAP = timedelta(hours=24)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.aggregate", description=__doc__.split("\n")[0]
    )
    p.add_argument("--size", choices=sorted(SIZES), default="quick")
    p.add_argument("--events", type=int, help="events of the measured day (overrides --size)")
    p.add_argument("--seed", type=int, default=1, help="generator seed (same seed, same events)")
    p.add_argument("--repeat", type=int, default=3, help="compute timings: best of this many")
    p.add_argument("--backfill-days", type=int, default=7, help="0 skips the backfill")
    p.add_argument("--backfill-per-day", type=int, help="events per backfilled day")
    p.add_argument(
        "--stale-limit", type=int, default=60, help="cancel the unanalyzed member read after s"
    )
    p.add_argument(
        "--backfill-member-index",
        choices=["on", "off"],
        default="on",
        help="create the (guild_id, user_id) daily index in the backfill database first",
    )
    p.add_argument("--work-mem", default="256MB", help="work_mem of the SQL session")
    p.add_argument("--sql-jit", choices=["on", "off"], default="off", help="jit of the SQL session")
    doc = p.add_mutually_exclusive_group()
    doc.add_argument("--doc", action="store_true", help="write docs/benchmarks.md (default: full)")
    doc.add_argument("--no-doc", action="store_true", help="print only")
    return p.parse_args(argv)


def measure_polars(url: str, w: P.Window, repeat: int, stale_limit_s: int) -> dict:
    with psycopg.connect(url) as conn:
        inputs = P.read_inputs(conn, w)
        grains = {}
        for grain in GRAINS:
            result, compute_s = P.timed(lambda g=grain: P.compute(inputs, w, g), repeat)
            grains[grain] = {
                "result": result,
                "compute": compute_s,
                "profile": P.profile(inputs, w, grain, repeat),
                "mirror": P.mirror_matches(conn, w, grain, result),
                "write": P.write(conn, w, grain, result),
            }
        voice_counts, voice_s = P.voice_sessions_rebuild(conn, w)
        return {
            "inputs": inputs,
            "grains": grains,
            "sessions": P.sessions(inputs, w),
            "voice_sessions": (voice_s, voice_counts["sessions"]),
            "member_stats": P.member_stats(conn, w, repeat, stale_limit_s),
        }


def measure_sql(url: str, w: P.Window, polars: dict, args: argparse.Namespace) -> dict:
    with psycopg.connect(url) as conn:
        S.prepare(conn, work_mem=args.work_mem, jit=args.sql_jit)
        _, sessions_s = P.timed(lambda: S.sessions(conn, end=w.end, as_of=w.as_of, cap=w.cap))
        for _ in range(args.repeat - 1):
            sessions_s = min(sessions_s, S.sessions(conn, end=w.end, as_of=w.as_of, cap=w.cap))
        ours = polars["sessions"]
        sessions_equal = S.mismatched_rows(ours, S.fetch_sessions(conn, dict(ours.schema))) == 0
        grains = {}
        for grain, every in GRAINS.items():
            runs = [
                S.grain(conn, start=w.start, end=w.end, every=every, as_of=w.as_of, cap=w.cap)
                for _ in range(args.repeat)
            ]
            best = min(runs, key=lambda r: sum(r.values()))
            result = polars["grains"][grain]["result"]
            members, snapshots = S.fetch_results(conn, result.members, result.snapshots)
            grains[grain] = {
                "seconds": best,
                "members_diff": S.mismatched_rows(result.members, members),
                "snapshots_diff": S.mismatched_rows(result.snapshots, snapshots),
                "members": members.height,
                "snapshots": snapshots.height,
            }
    return {
        "sessions": sessions_s,
        "sessions_equal": sessions_equal,
        "session_rows": ours.height,
        "grains": grains,
    }


def type_mix(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    n = args.events or SIZES[args.size]
    per_day = args.backfill_per_day or BACKFILL_PER_DAY[args.size]
    today = utc_midnight()
    day = today - DAY
    report: dict = {
        "command": ".venv/bin/python -m benchmarks.aggregate "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "started": datetime.now(UTC),
        "machine": machine(),
        "seed": args.seed,
        "repeat": args.repeat,
        "work_mem": args.work_mem,
        "sql_jit": args.sql_jit,
        "day": f"{day:%Y-%m-%d}",
    }
    with fresh_database("day") as url:
        print(f"loading {n:,} events of {day:%Y-%m-%d} ...", flush=True)
        report["load"] = load_days(url, day, 1, n, seed=args.seed)
        report["mix"] = type_mix(url)
        w = P.Window(day, day + DAY, as_of=datetime.now(UTC), cap=CAP)
        print("Polars: read, compute, write ...", flush=True)
        report["polars"] = measure_polars(url, w, args.repeat, args.stale_limit)
        print("SQL GROUP BY in PostgreSQL ...", flush=True)
        report["sql"] = measure_sql(url, w, report["polars"], args)
    slim(report["polars"])
    save(report)
    if args.backfill_days > 0:
        try:
            backfill_week(report, args, today, per_day)
        except Exception as exc:  # the day's figures are still worth reporting
            report["backfill_error"] = f"{type(exc).__name__}: {exc}"
            print(f"backfill failed: {report['backfill_error']}", flush=True)
    report["finished"] = datetime.now(UTC)
    saved = save(report)
    text = render(report)
    saved.unlink()
    print(text)
    if args.doc or (args.size == "full" and not args.no_doc and not args.events):
        write_section(text)
        print("\nwrote the Aggregate section of docs/benchmarks.md")
    return 0 if report_passed(report) else 1


def slim(polars: dict) -> None:
    """Frames are done with once compared: keep their sizes only."""
    inputs = polars.pop("inputs")
    polars["reads"] = inputs.seconds
    polars["voice_events"] = inputs.voice_events.height
    polars.pop("sessions")
    for g in polars["grains"].values():
        result = g.pop("result")
        g["rows"] = (result.snapshots.height, result.members.height)


def save(report: dict) -> Path:
    """Keeps the figures so far until the report renders: a long run is not lost to one error."""
    saved = Path(tempfile.gettempdir()) / f"stats_bench_aggregate_{os.getpid()}.pickle"
    saved.write_bytes(pickle.dumps(report))
    return saved


def backfill_week(report: dict, args: argparse.Namespace, today: datetime, per_day: int) -> None:
    first = today - args.backfill_days * DAY
    with fresh_database("week") as url:
        print(f"loading {args.backfill_days} days x {per_day:,} events ...", flush=True)
        report["backfill_load"] = load_days(url, first, args.backfill_days, per_day, seed=args.seed)
        print("backfill: one run per job ...", flush=True)
        if args.backfill_member_index == "on":
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(P.MEMBER_INDEX)
        report["backfill_member_index"] = args.backfill_member_index
        report["backfill"] = backfill.run(url, first, today)
        report["backfill_totals"] = backfill.totals(url, first, today)


def report_passed(report: dict) -> bool:
    sql = report["sql"]
    equal = sql["sessions_equal"] and all(
        g["members_diff"] == 0 and g["snapshots_diff"] == 0 for g in sql["grains"].values()
    )
    mirrors = all(g["mirror"] for g in report["polars"]["grains"].values())
    jobs = "backfill_error" not in report and all(j["success"] for j in report.get("backfill", []))
    return equal and mirrors and jobs


if __name__ == "__main__":
    raise SystemExit(main())
