"""Aggregate compute: Polars rollups vs SQL GROUP BY on the same events, and a 7-day backfill.

    .venv/bin/python -m benchmarks.aggregate --size quick   # 200k events, a few minutes
    .venv/bin/python -m benchmarks.aggregate --size full    # 2M events, the recorded figures

One run loads one UTC day (yesterday) into a fresh database and on those events measures the
pipeline's read (COPY out), Polars compute and write of the 5-minute, hourly and daily rollups
and of member_stats; then computes the same rows with SQL inside PostgreSQL, times it, and checks
both give identical rows. A second fresh database gets seven days (ending at today's midnight)
and the real Dagster assets backfill them, one run per job. Both databases are dropped at the end.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import typer

from benchmarks import backfill
from benchmarks.aggregate import polars_steps as P
from benchmarks.aggregate import sql_baseline as S
from benchmarks.aggregate.report import render
from benchmarks.events import DAY, load_days, utc_midnight
from benchmarks.harness import fresh_database, machine
from benchmarks.report import DocOption, Size, SizeOption, command, doc_path, publish
from stats_platform.domain.grains import LENGTHS as GRAINS

SIZES = {Size.quick: 200_000, Size.full: 2_000_000}
BACKFILL_PER_DAY = {Size.quick: 50_000, Size.full: 2_000_000}  # full: 14 M events in 7 days
BACKFILL_DAYS = 7
REPEAT = 3  # compute timings: best of this many
# The SQL session's own settings: enough work_mem for the big GROUP BYs to hash in memory, and
# no JIT (the sessionizer's cost estimate sets off compilation that outlasts the query).
WORK_MEM = "256MB"
SQL_JIT = "off"
CAP = timedelta(hours=24)


def measure_polars(url: str, w: P.Window, repeat: int) -> dict:
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
            "member_stats": P.member_stats(conn, w),
        }


def measure_sql(url: str, w: P.Window, polars: dict, repeat: int) -> dict:
    with psycopg.connect(url) as conn:
        S.prepare(conn, work_mem=WORK_MEM, jit=SQL_JIT)
        _, sessions_s = P.timed(lambda: S.sessions(conn, end=w.end, as_of=w.as_of, cap=w.cap))
        for _ in range(repeat - 1):
            sessions_s = min(sessions_s, S.sessions(conn, end=w.end, as_of=w.as_of, cap=w.cap))
        ours = polars["sessions"]
        sessions_equal = S.mismatched_rows(ours, S.fetch_sessions(conn, dict(ours.schema))) == 0
        grains = {}
        for grain, every in GRAINS.items():
            runs = [
                S.grain(conn, start=w.start, end=w.end, every=every, as_of=w.as_of, cap=w.cap)
                for _ in range(repeat)
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


def main(
    size: Size = SizeOption,
    doc: Path | None = DocOption,
    seed: int = typer.Option(1, help="generator seed (same seed, same events)"),
) -> None:
    today = utc_midnight()
    day = today - DAY
    report: dict = {
        "command": command("benchmarks.aggregate"),
        "started": datetime.now(UTC),
        "machine": machine(),
        "seed": seed, "repeat": REPEAT, "work_mem": WORK_MEM, "sql_jit": SQL_JIT,
        "day": f"{day:%Y-%m-%d}",
    }  # fmt: skip
    with fresh_database("day") as url:
        print(f"loading about {SIZES[size]:,} events of {day:%Y-%m-%d} ...", flush=True)
        report["load"] = load_days(url, day, 1, SIZES[size], seed=seed)
        report["mix"] = type_mix(url)
        w = P.Window(day, day + DAY, as_of=datetime.now(UTC), cap=CAP)
        print("Polars: read, compute, write ...", flush=True)
        report["polars"] = measure_polars(url, w, REPEAT)
        print("SQL GROUP BY in PostgreSQL ...", flush=True)
        report["sql"] = measure_sql(url, w, report["polars"], REPEAT)
    slim(report["polars"])
    save(report)
    try:
        backfill_week(report, today, BACKFILL_PER_DAY[size], seed)
    except Exception as exc:  # the day's figures are still worth reporting
        report["backfill_error"] = f"{type(exc).__name__}: {exc}"
        print(f"backfill failed: {report['backfill_error']}", flush=True)
    report["finished"] = datetime.now(UTC)
    saved = save(report)
    publish("Aggregate", render(report), doc_path(size, doc))
    saved.unlink()
    if not report_passed(report):
        raise typer.Exit(1)


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


def backfill_week(report: dict, today: datetime, per_day: int, seed: int) -> None:
    """Seven days backfilled by the real assets, one run per job."""
    first = today - BACKFILL_DAYS * DAY
    with fresh_database("week") as url:
        print(f"loading {BACKFILL_DAYS} days x about {per_day:,} events ...", flush=True)
        report["backfill_load"] = load_days(url, first, BACKFILL_DAYS, per_day, seed=seed)
        print("backfill: one run per job ...", flush=True)
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
    typer.run(main)
