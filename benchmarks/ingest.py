"""Ingest throughput: POST /v1/events vs plain COPY vs the seed design's row-by-row writes.

    .venv/bin/python -m benchmarks.ingest --size quick     # about a minute
    .venv/bin/python -m benchmarks.ingest --size full      # a few minutes; writes docs/benchmarks.md

One run generates the events once and loads the same events through every path, each into a
fresh database. Prints a table and replaces the "## Ingest" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gzip
import shlex
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from importlib.util import find_spec
from typing import NamedTuple

import orjson

from benchmarks.events_gen import generate
from benchmarks.harness import machine
from benchmarks.ingest_paths import (
    HttpLoad,
    Result,
    chunks,
    copy_path,
    http_path,
    seed_path,
    to_row,
)
from benchmarks.report import replace_section, table


class Size(NamedTuple):
    events: int
    repeat: int  # rounds; each row keeps its fastest (noise on a shared machine only slows down)
    seed_batches: str  # seed-path variants: events per transaction, 1 = autocommit


# Autocommit is opt-in (--seed-batches 100,1): one WAL flush per statement makes it slow
# and at the mercy of every other fsync on the machine.
SIZES = {"quick": Size(20_000, 1, "100"), "full": Size(100_000, 2, "100")}
HTTP_GOAL_VS_COPY = 0.5
HTTP_GOAL_VS_SEED = 10.0
# The API under test: no auth (local development mode) and no rate limit in the way.
SERVER_ENV = {
    "STATS_AUTH": "off",
    "STATS_ENV": "development",
    "STATS_RATE_LIMIT_PER_MINUTE": "1000000000",
    "STATS_REDIS_URL": "redis://127.0.0.1:6379/13",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest", description=__doc__.split("\n")[0]
    )
    p.add_argument("--size", choices=sorted(SIZES), default="quick")
    p.add_argument("--events", type=int, help="override the number of events of --size")
    p.add_argument("--seed", type=int, default=1, help="generator seed (same seed, same events)")
    p.add_argument("--batches", default="100,1000,5000", help="HTTP batch sizes")
    p.add_argument("--senders", default="1,4", help="concurrent HTTP senders")
    p.add_argument("--copy-writers", default="1,4", help="concurrent connections for COPY")
    p.add_argument(
        "--seed-writers",
        default="1",
        help="concurrent connections for the seed path (more deadlock on the member counters)",
    )
    p.add_argument(
        "--gzip-batch",
        type=int,
        default=1000,
        help="one gzip'd HTTP run at this batch size (0: none)",
    )
    p.add_argument("--copy-batch", type=int, default=5000)
    p.add_argument(
        "--seed-batches",
        help="events per transaction on the seed path, one run each (default 100; 1: autocommit)",
    )
    p.add_argument(
        "--repeat", type=int, help="rounds, keeping each row's fastest (quick 1, full 2)"
    )
    p.add_argument("--paths", default="http,copy,seed", help="subset of http,copy,seed")
    p.add_argument(
        "--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone"
    )
    return p.parse_args(argv)


def endpoint_ready() -> bool:
    return (
        find_spec("stats_api.main") is not None
        and find_spec("stats_api.api.routes.events") is not None
    )


Run = tuple[str, Callable[[], Result]]


def http_runs(events: list[dict], args: argparse.Namespace) -> list[Run]:
    batches = [int(b) for b in args.batches.split(",")]
    senders = [int(s) for s in args.senders.split(",")]
    plans = [(b, s, False) for b in batches for s in senders]
    if args.gzip_batch:
        plans.append((args.gzip_batch, max(senders), True))
    warm_events = generate(200, seed=args.seed + 10_000)
    runs: list[Run] = []
    for batch, n_senders, gz in plans:
        load, warmup = encode(events, batch, gz), encode(warm_events, 50, gz)
        label = f"http_{batch}_{n_senders}{'_gz' if gz else ''}"
        name = f"HTTP batch {batch}, {n_senders} sender(s){', gzip' if gz else ''}"
        runs.append(
            (name, partial(http_path, load, warmup, senders=n_senders, env=SERVER_ENV, label=label))
        )
    return runs


def run_rounds(runs: list[Run], repeat: int) -> list[Result]:
    """Every run `repeat` times, round by round so a busy spell of the machine hits all paths
    alike; keeps each run's fastest result and every problem any of its rounds had."""
    rounds: dict[str, list[Result]] = {name: [] for name, _ in runs}
    for round_no in range(1, repeat + 1):
        for name, run in runs:
            print(f"  [{round_no}/{repeat}] {name} ...", flush=True)
            rounds[name].append(run())
    best = []
    for results in rounds.values():
        top = max(results, key=lambda r: r.rate)
        top.all_rates = [r.rate for r in results]
        top.problems = [p for r in results for p in r.problems]
        best.append(top)
    return best


def encode(events: list[dict], batch: int, gz: bool) -> HttpLoad:
    bodies = [orjson.dumps(list(c)) for c in chunks(events, batch)]
    if gz:
        bodies = [gzip.compress(b, compresslevel=6) for b in bodies]
    return HttpLoad(bodies, [len(c) for c in chunks(events, batch)], gz)


def fastest(results: list[Result], prefix: str, concurrency: int | None = None) -> Result | None:
    matching = [
        r for r in results
        if r.path.startswith(prefix) and not r.gzip and not r.problems
        and concurrency in (None, r.senders)
    ]  # fmt: skip
    return max(matching, key=lambda r: r.rate) if matching else None


def verdicts(results: list[Result]) -> list[str]:
    """The goals, judged on the fastest of each path, then at one connection / sender each."""
    lines = []
    for concurrency, scope in ((None, "fastest of each path"), (1, "one sender / connection each")):
        http = fastest(results, "HTTP", concurrency)
        copy = fastest(results, "COPY", concurrency)
        seed = fastest(results, "seed", concurrency)
        if not http:
            continue
        parts = [f"HTTP {http.rate:,.0f} events/s (batch {http.batch}, {http.senders} sender(s))"]
        if copy:
            ok = "met" if http.rate / copy.rate >= HTTP_GOAL_VS_COPY else "NOT met"
            parts.append(
                f"{http.rate / copy.rate:.1%} of COPY's {copy.rate:,.0f} with {copy.senders} "
                f"connection(s) (goal ≥ {HTTP_GOAL_VS_COPY:.0%}: {ok})"
            )
        if seed:
            ok = "met" if http.rate / seed.rate >= HTTP_GOAL_VS_SEED else "NOT met"
            parts.append(
                f"{http.rate / seed.rate:.1f}× the seed path's {seed.rate:,.0f} ({seed.path}, "
                f"{seed.senders} connection(s); goal ≥ {HTTP_GOAL_VS_SEED:.0f}×: {ok})"
            )
        lines.append(f"{scope}: " + "; ".join(parts))
    return lines


def render(results: list[Result], http_pending: bool) -> tuple[str, list[str]]:
    copy, seed = fastest(results, "COPY"), fastest(results, "seed")
    header = [
        "path", "batch", "conc.", "gzip", "events/s", "rounds", "÷ COPY", "× seed",
        "p50 ms", "p95 ms", "API CPU s", "PG CPU s", "client CPU s", "CPU µs/event",
        "others' CPU s", "check",
    ]  # fmt: skip
    rows = []
    for r in results:
        p50, p95 = r.latency_ms(50), r.latency_ms(95)
        rows.append([
            r.path, str(r.batch), str(r.senders), "on" if r.gzip else "off", f"{r.rate:,.0f}",
            " ".join(f"{x / 1000:.1f}k" for x in r.all_rates),
            f"{r.rate / copy.rate:.0%}" if copy else "",
            f"{r.rate / seed.rate:.1f}×" if seed else "",
            "" if p50 is None else f"{p50:.1f}", "" if p95 is None else f"{p95:.1f}",
            "" if r.api_cpu is None else f"{r.api_cpu:.1f}", f"{r.pg_cpu:.1f}", f"{r.client_cpu:.1f}",
            f"{r.own_cpu * 1e6 / r.events:.0f}" if r.events else "",
            f"{r.other_cpu:.1f} / {r.seconds:.1f}", "ok" if not r.problems else "FAILED",
        ])  # fmt: skip
    lines = verdicts(results)
    if http_pending:
        rows.insert(0, ["HTTP", "", "", "", "pending", *[""] * 11])
        lines.append("HTTP: pending, POST /v1/events is not in stats_api yet")
    lines += [f"{r.path} ({r.senders} conn.): {note}" for r in results for note in r.notes]
    return table(header, rows, right=range(1, 15)), lines


def doc_section(
    text: str, verdicts: list[str], results: list[Result], n: int, args: argparse.Namespace
) -> str:
    m = machine()
    command = ".venv/bin/python -m benchmarks.ingest " + shlex.join(sys.argv[1:])
    problems = [f"- {r.path} batch {r.batch}/{r.senders}: {p}" for r in results for p in r.problems]
    return "\n".join([
        f"Command: `{command.strip()}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: nproc {m['nproc']} ({m['cpu']}), {m['memory']} RAM, PostgreSQL {m['postgres']} "
        f"(synchronous_commit={m['synchronous_commit']}, fsync={m['fsync']}), Python {m['python']}; "
        "shared and noisy, so expect ±20 % between runs.  ",
        f"Events: {n:,} from `benchmarks/events_gen.py` (seed {args.seed}), the same for every path; "
        f"each run loads them into a fresh migrated database. {args.repeat} round(s) of every row, "
        "run round by round; `events/s` is the row's fastest round, `rounds` lists them all "
        "(others' load only ever slows a run down).",
        "",
        text,
        "",
        *[f"- {v}" for v in verdicts],
        *problems,
        *([""] if verdicts or problems else []),
        "What each row measures:",
        "",
        "- **HTTP**: `POST /v1/events` to uvicorn (a subprocess, one worker) through httpx from the "
        "same machine; bodies encoded before the clock starts; only `202` answers whose `accepted` "
        "equals the batch size count, and the table must hold every event sent afterwards. p50/p95 "
        "are per-request latencies. The client competes with the server and PostgreSQL for the 2 cores.",
        "- **COPY**: psycopg 3 `COPY events (...) FROM STDIN` with the endpoint's columns, one "
        "transaction per batch, rows built before the clock starts: what the database can take.",
        "- **seed**: the seed design: per event one `INSERT INTO events` and one "
        "`INSERT INTO member_stats ... ON CONFLICT DO UPDATE` counter upsert (psycopg prepares "
        "both after a few uses), one transaction per batch (a request's worth; `--seed-batches 1` "
        "adds autocommit); rows built before the clock starts. One connection: with four, "
        "concurrent batches deadlock on the member counters (38 of 80 batches in a trial, each "
        "costing `deadlock_timeout`), which only makes the seed path slower.",
        "- `conc.`: concurrent HTTP senders, or concurrent database connections (threads) for "
        "COPY and seed. `÷ COPY` and `× seed` compare with the fastest COPY and seed rows.",
        "- CPU columns: seconds of CPU of the API process, of the PostgreSQL backends serving the "
        "benchmark database, and of the benchmark process (the HTTP client) during the timed part; "
        "`others' CPU s` is the rest of the machine's busy CPU (other processes, PostgreSQL's WAL "
        "writer and checkpointer, steal) over the timed wall-clock seconds: the noise of the row. "
        "`CPU µs/event` (API + PostgreSQL backends + client, per event) moves far less with "
        "others' load than events/s does: on 2 saturated cores, a path's ceiling is about "
        "2 s / (CPU µs/event).",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    n = args.events or SIZES[args.size].events
    args.repeat = args.repeat or SIZES[args.size].repeat
    args.seed_batches = args.seed_batches or SIZES[args.size].seed_batches
    paths = set(args.paths.split(","))
    t0 = time.perf_counter()
    events = generate(n, seed=args.seed)
    rows = [to_row(e) for e in events]
    print(f"generated {n:,} events in {time.perf_counter() - t0:.1f} s", flush=True)

    runs: list[Run] = []
    http_pending = "http" in paths and not endpoint_ready()
    if "http" in paths and not http_pending:
        runs += http_runs(events, args)
    for w in (int(w) for w in args.copy_writers.split(",")) if "copy" in paths else []:
        name = f"COPY batch {args.copy_batch}, {w} connection(s)"
        runs.append((name, partial(copy_path, rows, batch=args.copy_batch, writers=w)))
    for batch in (int(b) for b in args.seed_batches.split(",")) if "seed" in paths else []:
        for w in (int(w) for w in args.seed_writers.split(",")):
            name = f"seed path, {batch} event(s) per transaction, {w} connection(s)"
            runs.append((name, partial(seed_path, rows, batch=batch, writers=w)))
    results = run_rounds(runs, args.repeat)

    text, summary = render(results, http_pending)
    print()
    print(text)
    print(*summary, sep="\n")
    for r in results:
        for problem in r.problems:
            print(f"FAILED {r.path} batch {r.batch}/{r.senders}: {problem}")
    if not args.no_doc:
        replace_section("Ingest", doc_section(text, summary, results, n, args))
        print("wrote the Ingest section of docs/benchmarks.md")
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
