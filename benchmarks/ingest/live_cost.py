"""What metrics and live push cost POST /v1/events: the same HTTP loads against three servers.

    .venv/bin/python -m benchmarks.ingest --size quick --live-cost --doc docs/benchmarks.md

- **main**: the code before metrics and live push (`git archive` of `STATS_BENCH_BASE`, a commit,
  by default `git merge-base main HEAD`; on main itself, name the commit before), served from a
  scratch folder.
- **off**: this tree with `STATS_METRICS=false STATS_LIVE_PUSH=false`.
- **on**: this tree as it ships: metrics, and live push with no page open (the normal case of
  a guild: the feed only checks, off the request, whether anyone watches).
- **watched**: as `on`, with a live page open on every guild of the load (their watch keys
  set), so the feed computes and publishes each guild's totals as batches commit.

Rows run round by round, so a busy spell of the shared machine hits every variant alike.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from io import BytesIO
from pathlib import Path

import redis

from benchmarks.events import recent
from benchmarks.ingest.paths import SERVER_ENV, Result, encode, http_path
from benchmarks.report import command, table
from stats_api.live.feed import WATCH_TTL_SECONDS, WATCHING_KEY
from stats_platform.settings import PROJECT_ROOT

PLANS = ((100, 1), (1000, 4), (5000, 4))
# The servers' Redis (watch keys are set there); STATS_BENCH_REDIS_URL moves it.
REDIS_URL = os.environ.get("STATS_BENCH_REDIS_URL", SERVER_ENV["STATS_REDIS_URL"])
OFF = {"STATS_METRICS": "false", "STATS_LIVE_PUSH": "false"}
VARIANTS = ("main", "off", "on", "watched")


def base_name() -> str:
    """The commit served as **main**: STATS_BENCH_BASE, else where this branch left main."""
    named = os.environ.get("STATS_BENCH_BASE")
    if named:
        return named
    found = subprocess.run(
        ["git", "merge-base", "main", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, check=True
    )
    return found.stdout.decode().strip()[:7]


@contextmanager
def main_tree() -> Iterator[Path]:
    """Branch main's files in a scratch folder, to serve the code before this change."""
    base = base_name()
    archive = subprocess.run(
        ["git", "archive", base], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="bench-main-") as folder:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)


@contextmanager
def watching(guilds: list[str]) -> Iterator[None]:
    """Every guild watched, as if a page of each were open, for the duration of a run."""
    client = redis.Redis.from_url(REDIS_URL)
    stop = threading.Event()

    def refresh() -> None:
        while True:
            client.zadd(WATCHING_KEY, dict.fromkeys(guilds, time.time() + WATCH_TTL_SECONDS))
            if stop.wait(10):
                return

    thread = threading.Thread(target=refresh, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        client.zrem(WATCHING_KEY, *guilds)
        client.close()


def runs(
    events: list[dict], seed: int, main: Path
) -> list[tuple[str, int, int, Callable[[], Result]]]:
    guilds = sorted({e["guildId"] for e in events})
    warmup_events = recent(200, seed=seed + 10_000)
    plans = []
    for batch, senders in PLANS:
        load, warmup = encode(events, batch, False), encode(warmup_events, 50, False)
        for variant in VARIANTS:
            label = f"live_cost_{variant}_{batch}_{senders}"
            run = partial(
                http_path,
                load,
                warmup,
                senders=senders,
                env={"STATS_REDIS_URL": REDIS_URL, **(OFF if variant == "off" else {})},
                label=label,
                command=["env", "-C", str(main)] if variant == "main" else None,
            )
            if variant == "watched":
                run = partial(_watched, run, guilds)
            plans.append((variant, batch, senders, run))
    return plans


def _watched(run: Callable[[], Result], guilds: list[str]) -> Result:
    with watching(guilds):
        return run()


def measure(events: list[dict], seed: int, repeat: int) -> dict[tuple[str, int, int], list[Result]]:
    results: dict[tuple[str, int, int], list[Result]] = {}
    with main_tree() as main:
        plans = runs(events, seed, main)
        for round_no in range(1, repeat + 1):
            for variant, batch, senders, run in plans:
                print(
                    f"  [{round_no}/{repeat}] {variant}, batch {batch}, {senders} sender(s) ...",
                    flush=True,
                )
                results.setdefault((variant, batch, senders), []).append(run())
    return results


def section(
    results: dict[tuple[str, int, int], list[Result]], events: int, seed: int, repeat: int
) -> str:
    rows = []
    for batch, senders in PLANS:
        base = max(r.rate for r in results[("main", batch, senders)])
        for variant in VARIANTS:
            rounds = results[(variant, batch, senders)]
            best = max(rounds, key=lambda r: r.rate)
            cpu = sum((r.api_cpu or 0.0) for r in rounds) / sum(r.events for r in rounds) * 1e6
            p50 = best.latency_ms(50)
            problems = sorted({p for r in rounds for p in r.problems})
            rows.append([
                variant, batch, senders, f"{best.rate:,.0f}",
                " ".join(f"{r.rate / 1000:.1f}k" for r in rounds),
                f"{(best.rate / base - 1) * 100:+.1f}%", f"{p50:.1f}" if p50 else "",
                f"{cpu:.1f}", "; ".join(problems) or "ok",
            ])  # fmt: skip
    header = ["server", "batch", "senders", "events/s", "rounds", "vs main", "p50 ms",
              "API CPU µs/event", "check"]  # fmt: skip
    return "\n".join(
        [
            f"Command: `{command('benchmarks.ingest')}`  ",
            f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; nproc {os.cpu_count()}, the"
            " machine shared with other work (expect ±20 % between runs of one row)  ",
            f"Events: {events:,} (seed {seed}) per run, each into a fresh database; {repeat}"
            " round(s) of every row, run round by round; `events/s` is the row's fastest round,"
            " `API CPU µs/event` the API process's CPU over all its rounds.",
            "",
            table(header, rows, right=(1, 2, 3, 5, 6, 7)),
            "",
            f"- **main**: the code at {base_name()}, before metrics and live push. **off**: this tree with"
            " `STATS_METRICS=false STATS_LIVE_PUSH=false`. **on**: as shipped, no live page open."
            " **watched**: as shipped, a live page open on every one of the load's guilds, so"
            " each commit makes the feed compute and publish totals (off the request, on the"
            " same two cores).",
            "- On this shared two-core machine events/s swings by tens of per cent between"
            " rounds of one row (main and off do the same work, and differ as much), so the"
            " cost is read from `API CPU µs/event`: the API process's own CPU (request, metrics,"
            " the feed's thread) per event, which others' load moves far less.",
        ]
    )
