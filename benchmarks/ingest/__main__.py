"""Ingest throughput: POST /v1/events vs plain COPY vs the seed design's row-by-row writes.

    .venv/bin/python -m benchmarks.ingest --size quick            # about a minute
    .venv/bin/python -m benchmarks.ingest --size full             # the recorded figures
    .venv/bin/python -m benchmarks.ingest --size full --profile   # where a request's time goes
    .venv/bin/python -m benchmarks.ingest --size quick --live-cost --doc docs/benchmarks.md
                                                                  # metrics and live push vs main
    .venv/bin/python -m benchmarks.ingest --size full --live-cost --instructions --doc docs/benchmarks.md
                                                                  # the same, counted by callgrind

One run generates the events once and loads the same events through every path, each into a
fresh database, then replaces the "## Ingest" section; `--profile` instead runs the request's
phases in process, EXPLAIN ANALYZE of its statement and (with py-spy) the real server, for the
"## Ingest profile" section.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NamedTuple

import typer

from benchmarks.events import recent, to_row
from benchmarks.ingest import instructions as instruction_cost
from benchmarks.ingest import live_cost as cost
from benchmarks.ingest import profile as ingest_profile
from benchmarks.ingest.paths import SERVER_ENV, Result, copy_path, encode, http_path, seed_path
from benchmarks.ingest.report import render, section
from benchmarks.report import DocOption, Size, SizeOption, doc_path, publish


class Sizes(NamedTuple):
    events: int
    repeat: int  # rounds; each row keeps its fastest (noise on a shared machine only slows down)
    profile_events: int


SIZES = {Size.quick: Sizes(20_000, 1, 20_000), Size.full: Sizes(100_000, 2, 50_000)}
HTTP_BATCHES = (100, 1000, 5000)
HTTP_SENDERS = (1, 4)
GZIP_BATCH = 1000
COPY_BATCH = 5000
COPY_WRITERS = (1, 4)
# One connection and a request's worth per transaction: with four, concurrent batches deadlock
# on the member counters; autocommit (batch 1) is at the mercy of every other fsync.
SEED_BATCH = 100

Run = tuple[str, Callable[[], Result]]


def http_runs(events: list[dict], seed: int) -> list[Run]:
    plans = [(b, s, False) for b in HTTP_BATCHES for s in HTTP_SENDERS]
    plans.append((GZIP_BATCH, max(HTTP_SENDERS), True))
    warmup_events = recent(200, seed=seed + 10_000)
    runs: list[Run] = []
    for batch, senders, gz in plans:
        load, warmup = encode(events, batch, gz), encode(warmup_events, 50, gz)
        label = f"http_{batch}_{senders}{'_gz' if gz else ''}"
        name = f"HTTP batch {batch}, {senders} sender(s){', gzip' if gz else ''}"
        run = partial(http_path, load, warmup, senders=senders, env=SERVER_ENV, label=label)
        runs.append((name, run))
    return runs


def direct_runs(rows: list[tuple]) -> list[Run]:
    runs: list[Run] = [
        (f"COPY batch {COPY_BATCH}, {w} connection(s)", partial(copy_path, rows, batch=COPY_BATCH, writers=w))
        for w in COPY_WRITERS
    ]  # fmt: skip
    runs.append(
        (f"seed path, {SEED_BATCH} per transaction", partial(seed_path, rows, batch=SEED_BATCH))
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


def main(
    size: Size = SizeOption,
    doc: Path | None = DocOption,
    seed: int = typer.Option(1, help="generator seed (same seed, same events)"),
    profile: bool = typer.Option(False, help="the Ingest profile section instead of throughput"),
    live_cost: bool = typer.Option(
        False, help="the cost of metrics and live push against main, instead of throughput"
    ),
    rounds: int = typer.Option(3, min=1, help="--live-cost: rounds of every row"),
    instructions: bool = typer.Option(
        False, help="--live-cost counted in instructions under callgrind, instead of events/s"
    ),
    py_spy: str | None = typer.Option(
        os.environ.get("PY_SPY") or shutil.which("py-spy"),
        help="py-spy for the profile's server part",
    ),
) -> None:
    sizes = SIZES[size]
    if profile:
        events = recent(sizes.profile_events, seed=seed)
        publish("Ingest profile", ingest_profile.section(events, seed, py_spy), doc_path(size, doc))
        return
    if live_cost and instructions:
        n = sizes.events // 5
        counts = instruction_cost.measure(n, seed)
        text = instruction_cost.section(counts, n, seed)
        publish("Ingest: metrics and live push, in instructions", text, doc_path(size, doc))
        return
    if live_cost:
        events = recent(sizes.events, seed=seed)
        repeat = max(sizes.repeat, rounds)
        results = cost.measure(events, seed, repeat)
        text = cost.section(results, len(events), seed, repeat)
        publish("Ingest: metrics and live push", text, doc_path(size, doc))
        return
    started = time.perf_counter()
    events = recent(sizes.events, seed=seed)
    print(f"generated {len(events):,} events in {time.perf_counter() - started:.1f} s", flush=True)
    results = run_rounds(
        http_runs(events, seed) + direct_runs([to_row(e) for e in events]), sizes.repeat
    )
    text, verdicts = render(results)
    publish(
        "Ingest",
        section(text, verdicts, results, len(events), seed, sizes.repeat),
        doc_path(size, doc),
    )
    print(f"total {time.perf_counter() - started:.0f} s")
    if any(r.problems for r in results):
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(main)
