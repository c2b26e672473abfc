"""Where POST /v1/events spends its time.

    .venv/bin/python -m benchmarks.ingest_profile                        # phases + EXPLAIN split
    .venv/bin/python -m benchmarks.ingest_profile --py-spy /path/py-spy  # + the real server, sampled

1. Phases, in-process: the route's own functions over a pool that times every statement,
   COPY and commit (benchmarks/ingest_phases.py), per batch size.
2. The INSERT…SELECT split by EXPLAIN ANALYZE: inserting into events, the window_arrivals
   upsert, and the rows feeding each.
3. With py-spy: uvicorn serving the HTTP run under `py-spy record --idle`, the route's wall
   time by step, and per-request latency seen by the client against the handler's own log.
Replaces the "## Ingest profile" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.events_gen import generate
from benchmarks.harness import OUT_DIR, machine
from benchmarks.ingest import SERVER_ENV, encode
from benchmarks.ingest_paths import http_path
from benchmarks.ingest_phases import PLANS, plan_breakdown, run_phases
from benchmarks.report import replace_section, table
from benchmarks.stack_profile import record_command, summarize

DURATION = re.compile(r"event='events ingested'.*duration_ms=([\d.]+)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ingest_profile", description=__doc__)
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batches", default="100,1000,5000")
    p.add_argument("--py-spy", default=os.environ.get("PY_SPY") or shutil.which("py-spy"))
    p.add_argument("--http-batch", type=int, default=1000)
    p.add_argument("--http-senders", type=int, default=4)
    p.add_argument("--no-doc", action="store_true")
    return p.parse_args(argv)


def per_event_table(columns: dict[int, Counter[str]], n: int, *, rate: bool) -> str:
    """Seconds per label and batch size as µs per event and share of the column's total."""
    labels = sorted(
        {k for c in columns.values() for k in c}, key=lambda k: -max(c[k] for c in columns.values())
    )
    rows = []
    for label in labels:
        cells = [
            f"{c[label] * 1e6 / n:.1f} µs ({c[label] / sum(c.values()):.0%})"
            for c in columns.values()
        ]
        rows.append([label, *cells])
    totals = [f"{sum(c.values()) * 1e6 / n:.1f} µs" for c in columns.values()]
    if rate:
        totals = [
            f"{t} = {n / sum(c.values()):,.0f} events/s"
            for t, c in zip(totals, columns.values(), strict=True)
        ]
    rows.append(["**total**", *totals])
    header = ["per event", *(f"batch {b}" for b in columns)]
    return table(header, rows, right=range(1, len(columns) + 1))


def phases_section(events: list[dict], batches: list[int]) -> tuple[str, str]:
    timed: dict[int, Counter[str]] = {}
    plans: dict[int, Counter[str]] = {}
    for batch in batches:
        print(f"  phases, batch {batch} ...", flush=True)
        timed[batch] = run_phases(events, batch, explain=False)
        run_phases(events, batch, explain=True)
        plans[batch] = Counter({k: v / 1000 for k, v in plan_breakdown(PLANS).items()})
    # The first batch of each run is not timed (it creates the staging table and partitions).
    n = len(events) - max(batches)
    return per_event_table(timed, n, rate=True), per_event_table(plans, n, rate=False)


def py_spy_section(events: list[dict], args: argparse.Namespace) -> str:
    raw = OUT_DIR / "ingest_py_spy.txt"
    load = encode(events, args.http_batch, False)
    warmup = encode(generate(200, seed=args.seed + 10_000), 50, False)
    print(
        f"  HTTP under py-spy, batch {args.http_batch}, {args.http_senders} senders ...", flush=True
    )
    result = http_path(
        load, warmup, senders=args.http_senders, env=SERVER_ENV, label="profile",
        command=record_command(args.py_spy, raw),
    )  # fmt: skip
    stacks = summarize(raw)
    total = stacks.route_total or 1
    rows = [[label, f"{n / total:.1%}"] for label, n in stacks.route.most_common(12)]
    handler = _handler_ms(OUT_DIR / "profile.log", skip=len(warmup.bodies))
    loop_total = stacks.loop_idle + sum(stacks.loop_busy.values()) or 1
    busy = ", ".join(f"{pkg} {n / loop_total:.1%}" for pkg, n in stacks.loop_busy.most_common(5))
    return "\n".join([
        f"HTTP batch {args.http_batch}, {args.http_senders} senders under py-spy (200 Hz, "
        f"`--idle --nonblocking`): {result.rate:,.0f} events/s"
        f"{' (' + '; '.join(result.problems) + ')' if result.problems else ''}; per request: client "
        f"p50 {result.latency_ms(50) or 0:.1f} ms, handler's own `duration_ms` p50 "
        f"{statistics.median(handler) if handler else 0:.1f} ms.",
        "",
        "Route wall time (samples of the threads running `post_events`):",
        "",
        table(["step (source line in stats_api)", "share"], rows, right=[1]),
        "",
        f"Event-loop thread: {stacks.loop_idle / loop_total:.0%} inside uvloop (waiting, C-level "
        f"socket work); Python on it: {busy or 'none sampled'}.",
    ])  # fmt: skip


def _handler_ms(log: Path, *, skip: int) -> list[float]:
    found = [float(m[1]) for m in DURATION.finditer(log.read_text())] if log.exists() else []
    return found[skip:]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    batches = [int(b) for b in args.batches.split(",")]
    events = generate(args.events, seed=args.seed)
    phases, plans = phases_section(events, batches)
    spy = py_spy_section(events, args) if args.py_spy else "py-spy not found: pass --py-spy PATH."
    m = machine()
    body = "\n".join([
        f"Command: `.venv/bin/python -m benchmarks.ingest_profile {shlex.join(sys.argv[1:])}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; nproc {m['nproc']}, {m['memory']} RAM, "
        f"PostgreSQL {m['postgres']}; {args.events:,} events (seed {args.seed}), fresh database per run.",
        "",
        "### Phases of one request, in-process (the route's own functions, no HTTP)",
        "",
        "Wall time per event; shares are of the request's total. Runs one request at a time, so "
        "nothing overlaps: commit latency is the disk's flush time.",
        "",
        phases,
        "",
        "### Inside the INSERT…SELECT (EXPLAIN ANALYZE, same batches)",
        "",
        "EXPLAIN's per-row clocks inflate these a little; read them as shares.",
        "",
        plans,
        "",
        "### The real server (py-spy)",
        "",
        "py-spy is not a project dependency: `pip install py-spy` into any environment and pass "
        "`--py-spy PATH` (or put it on PATH).",
        "",
        spy,
    ])  # fmt: skip
    print(body)
    if not args.no_doc:
        replace_section("Ingest profile", body)
        print("wrote the Ingest profile section of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
