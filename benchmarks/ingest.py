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
from datetime import UTC, datetime
from importlib.util import find_spec

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

# events, seed-path variants (events per transaction; 1 = autocommit, slow: full size only)
SIZES = {"quick": (40_000, "100"), "full": (200_000, "100,1")}
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
    p.add_argument(
        "--gzip-batch",
        type=int,
        default=1000,
        help="one gzip'd HTTP run at this batch size (0: none)",
    )
    p.add_argument("--copy-batch", type=int, default=5000)
    p.add_argument(
        "--seed-batches",
        help="events per transaction on the seed path, one run each (1: autocommit); "
        "default: 100 for quick, 100,1 for full",
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


def http_runs(events: list[dict], args: argparse.Namespace) -> list[Result]:
    batches = [int(b) for b in args.batches.split(",")]
    senders = [int(s) for s in args.senders.split(",")]
    plans = [(b, s, False) for b in batches for s in senders]
    if args.gzip_batch:
        plans.append((args.gzip_batch, max(senders), True))
    warm_events = generate(200, seed=args.seed + 10_000)
    results = []
    for batch, n_senders, gz in plans:
        load = encode(events, batch, gz)
        warmup = encode(warm_events, 50, gz)
        label = f"http_{batch}_{n_senders}{'_gz' if gz else ''}"
        print(
            f"  HTTP batch {batch}, {n_senders} sender(s){', gzip' if gz else ''} ...", flush=True
        )
        results.append(http_path(load, warmup, senders=n_senders, env=SERVER_ENV, label=label))
    return results


def encode(events: list[dict], batch: int, gz: bool) -> HttpLoad:
    bodies = [orjson.dumps(list(c)) for c in chunks(events, batch)]
    if gz:
        bodies = [gzip.compress(b, compresslevel=6) for b in bodies]
    return HttpLoad(bodies, [len(c) for c in chunks(events, batch)], gz)


def render(results: list[Result], n: int, http_pending: bool) -> tuple[str, list[str]]:
    copy = next((r for r in results if r.path == "COPY"), None)
    # HTTP is compared with the fastest seed variant, the one most favourable to the seed design.
    seeds = [r for r in results if r.path.startswith("seed")]
    seed = max(seeds, key=lambda r: r.rate) if seeds else None
    header = [
        "path", "batch", "senders", "gzip", "events/s", "÷ COPY", "× seed",
        "p50 ms", "p95 ms", "API CPU s", "PG CPU s", "client CPU s", "others' CPU s", "check",
    ]  # fmt: skip
    rows, verdicts = [], []
    for r in results:
        p50, p95 = r.latency_ms(50), r.latency_ms(95)
        rows.append([
            r.path, str(r.batch), str(r.senders), "on" if r.gzip else "off", f"{r.rate:,.0f}",
            f"{r.rate / copy.rate:.0%}" if copy else "",
            f"{r.rate / seed.rate:.1f}×" if seed else "",
            "" if p50 is None else f"{p50:.1f}", "" if p95 is None else f"{p95:.1f}",
            "" if r.api_cpu is None else f"{r.api_cpu:.1f}", f"{r.pg_cpu:.1f}", f"{r.client_cpu:.1f}",
            f"{r.other_cpu:.1f} / {r.seconds:.1f}", "ok" if not r.problems else "FAILED",
        ])  # fmt: skip
    if http_pending:
        rows.insert(0, ["HTTP", "", "", "", "pending", *[""] * 9])
        verdicts.append("HTTP: pending, POST /v1/events is not in stats_api yet")
    http = [r for r in results if r.path == "HTTP" and not r.gzip and not r.problems]
    if http:
        best = max(http, key=lambda r: r.rate)
        name = (
            f"HTTP best (batch {best.batch}, {best.senders} sender(s)): {best.rate:,.0f} events/s"
        )
        if copy:
            ratio = best.rate / copy.rate
            met = "met" if ratio >= HTTP_GOAL_VS_COPY else "NOT met"
            verdicts.append(f"{name} = {ratio:.0%} of COPY (goal ≥ {HTTP_GOAL_VS_COPY:.0%}: {met})")
        for variant in sorted(seeds, key=lambda r: -r.rate):
            ratio = best.rate / variant.rate
            met = "met" if ratio >= HTTP_GOAL_VS_SEED else "NOT met"
            verdicts.append(
                f"{name} = {ratio:.1f}× {variant.path} (goal ≥ {HTTP_GOAL_VS_SEED:.0f}×: {met})"
            )
    text = table(header, rows, right=range(1, 13))
    return text, verdicts


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
        "each path loads them into a fresh migrated database.",
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
        "both after a few uses), either one transaction per batch (request) or autocommit; rows "
        "built before the clock starts. `× seed` compares with the faster seed variant.",
        "- CPU columns: seconds of CPU of the API process, of the PostgreSQL backends serving the "
        "benchmark database, and of the benchmark process (the HTTP client) during the timed part; "
        "`others' CPU s` is the rest of the machine's busy CPU (other processes, PostgreSQL's WAL "
        "writer and checkpointer, steal) over the timed wall-clock seconds: the noise of the row.",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    n = args.events or SIZES[args.size][0]
    args.seed_batches = args.seed_batches or SIZES[args.size][1]
    paths = set(args.paths.split(","))
    t0 = time.perf_counter()
    events = generate(n, seed=args.seed)
    rows = [to_row(e) for e in events]
    print(f"generated {n:,} events in {time.perf_counter() - t0:.1f} s", flush=True)

    results: list[Result] = []
    http_pending = "http" in paths and not endpoint_ready()
    if "http" in paths and not http_pending:
        results += http_runs(events, args)
    if "copy" in paths:
        print(f"  COPY batch {args.copy_batch} ...", flush=True)
        results.append(copy_path(rows, batch=args.copy_batch))
    if "seed" in paths:
        for batch in (int(b) for b in args.seed_batches.split(",")):
            print(f"  seed path, {batch} event(s) per transaction ...", flush=True)
            results.append(seed_path(rows, batch=batch))

    text, verdicts = render(results, n, http_pending)
    print()
    print(text)
    print(*verdicts, sep="\n")
    for r in results:
        for problem in r.problems:
            print(f"FAILED {r.path} batch {r.batch}/{r.senders}: {problem}")
    if not args.no_doc:
        replace_section("Ingest", doc_section(text, verdicts, results, n, args))
        print("wrote the Ingest section of docs/benchmarks.md")
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
