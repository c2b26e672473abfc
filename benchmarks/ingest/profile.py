"""Where POST /v1/events spends its time: the Ingest profile section.

1. Phases, in-process: the route's own functions over a pool that times every statement,
   COPY and commit, per batch size.
2. The INSERT…SELECT split by EXPLAIN ANALYZE: inserting into events, the window_arrivals
   upsert, and the rows feeding each.
3. With py-spy: uvicorn serving the HTTP run under `py-spy record --idle`, the route's wall
   time by step, and per-request latency seen by the client against the handler's own log.

Phases in detail: the endpoint's own functions, no HTTP.

The request's work is run as the route runs it (`parse_events`, `validate_batch`,
`EventStore.store`) over a pool whose connections time every statement, COPY and commit, so a
new statement in stats_api shows up here without changing this file. A second pass runs
`EXPLAIN ANALYZE` on each INSERT…SELECT (inside a savepoint, rolled back, on another database)
to split that one statement into its inserts and the rows feeding them.
"""

from __future__ import annotations

import contextlib
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg

from benchmarks.events import recent
from benchmarks.harness import OUT_DIR, fresh_database, machine
from benchmarks.ingest.paths import SERVER_ENV, encode, http_path
from benchmarks.profiling import record_command, summarize
from benchmarks.report import command, table
from stats_api.ingest.payload import parse_events
from stats_api.ingest.store import EventStore
from stats_api.ingest.validate import Limits, validate_batch
from stats_platform.settings import get_settings
from stats_platform.storage.database import open_pool

TIMINGS: Counter[str] = Counter()  # float seconds: Counter types its values as int
PLANS: list[dict[str, Any]] = []
EXPLAIN = {"on": False}
BATCHES = (100, 1000, 5000)
HTTP_BATCH = 1000
HTTP_SENDERS = 4
DURATION = re.compile(r"event='events ingested'.*duration_ms=([\d.]+)")


def statement_label(query: Any) -> str:
    text = query.as_string() if hasattr(query, "as_string") else str(query)
    text = " ".join(ln for ln in text.splitlines() if not ln.strip().startswith("--")).strip()
    text = re.sub(r"\s+", " ", text)
    if text.startswith("WITH") and "INSERT INTO events" in text:
        targets = re.findall(r"INSERT INTO (\w+)", text)
        return f"SQL: WITH … INSERT…SELECT into {' + '.join(targets)} (one statement)"
    return "SQL: " + (text[:60] or "'' (pool's connection check)")


class TimedCursor(psycopg.Cursor):
    @contextlib.contextmanager
    def copy(self, statement: Any, params: Any = None, *, writer: Any = None) -> Iterator[Any]:
        t0 = time.perf_counter()
        try:
            with super().copy(statement, params, writer=writer) as copy:
                yield copy
        finally:
            TIMINGS["COPY rows into staging (Python encode + send)"] += time.perf_counter() - t0


class TimedConnection(psycopg.Connection):
    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        label = statement_label(query)
        if EXPLAIN["on"] and "INSERT…SELECT" in label:
            super().execute("SAVEPOINT bench_explain")
            plan = super().execute("EXPLAIN (ANALYZE, FORMAT JSON) " + str(query), params)
            PLANS.append(plan.fetchone()[0][0])  # type: ignore[index]
            super().execute("ROLLBACK TO SAVEPOINT bench_explain")
        t0 = time.perf_counter()
        try:
            return super().execute(query, params, **kwargs)
        finally:
            TIMINGS[label] += time.perf_counter() - t0

    @contextlib.contextmanager
    def transaction(  # type: ignore[override]
        self, savepoint_name: str | None = None, force_rollback: bool = False
    ) -> Iterator[Any]:
        t0 = time.perf_counter()
        committing = None
        try:
            with super().transaction(savepoint_name, force_rollback) as tx:
                TIMINGS["BEGIN"] += time.perf_counter() - t0
                yield tx
                committing = time.perf_counter()
        finally:
            if committing is not None:
                TIMINGS["COMMIT (WAL flush)"] += time.perf_counter() - committing


def run_phases(events: list[dict[str, Any]], batch: int, *, explain: bool) -> Counter[str]:
    """Seconds per phase for loading `events` in `batch`-sized requests into a fresh database."""
    bodies = [orjson.dumps(events[i : i + batch]) for i in range(0, len(events), batch)]
    settings = get_settings()
    TIMINGS.clear()
    PLANS.clear()
    EXPLAIN["on"] = explain
    with fresh_database(f"phases_{batch}{'_x' if explain else ''}") as url:
        pool = open_pool(url, max_size=2, timeout=30)
        pool.connection_class = TimedConnection  # type: ignore[assignment]
        pool.kwargs = {**pool.kwargs, "cursor_factory": TimedCursor}
        pool.open(wait=True)
        try:
            store = EventStore(pool)
            store.store(
                validate_batch(parse_events(bodies[0], max_events=5000), _limits(settings)).rows
            )
            TIMINGS.clear()  # the first batch creates the staging table and partitions: not timed
            for body in bodies[1:]:
                t0 = time.perf_counter()
                raw = parse_events(body, max_events=settings.max_batch_events)
                t1 = time.perf_counter()
                rows = validate_batch(raw, _limits(settings)).rows
                t2 = time.perf_counter()
                inside = sum(TIMINGS.values())
                store.store(rows)
                t3 = time.perf_counter()
                timed = sum(TIMINGS.values()) - inside
                TIMINGS["pool checkout, Python glue"] += (t3 - t2) - timed
                TIMINGS["JSON parse (orjson)"] += t1 - t0
                TIMINGS["validation + normalization"] += t2 - t1
        finally:
            pool.close()
            EXPLAIN["on"] = False
    return Counter(TIMINGS)


def _limits(settings: Any) -> Limits:
    return Limits.at(time.time_ns() // 1_000_000, settings)


def plan_breakdown(plans: list[dict[str, Any]]) -> Counter[str]:
    """Milliseconds of EXPLAIN ANALYZE time: each insert itself, the rows feeding it, the rest."""
    out: Counter[str] = Counter()
    for plan in plans:
        modify = list(_modify_nodes(plan["Plan"]))
        for node in modify:
            feed = sum(child["Actual Total Time"] for child in node.get("Plans", []))
            verb = "upsert" if node.get("Conflict Resolution") == "UPDATE" else "insert"
            out[f"{verb} {node['Relation Name']}: heap + index writes"] += (
                node["Actual Total Time"] - feed
            )
            out[
                f"{verb} {node['Relation Name']}: rows feeding it (scan, sort, casts, group by)"
            ] += feed
        out["rest of the statement (answer, CTE scans, triggers)"] += plan["Execution Time"] - sum(
            node["Actual Total Time"] for node in modify
        )
        out["planning"] += plan["Planning Time"]
    return out


def _modify_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if node.get("Node Type") == "ModifyTable":
        yield node
        return
    for child in node.get("Plans", []):
        yield from _modify_nodes(child)


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


def py_spy_section(events: list[dict], seed: int, py_spy: str) -> str:
    raw = OUT_DIR / "ingest_py_spy.txt"
    load = encode(events, HTTP_BATCH, False)
    warmup = encode(recent(200, seed=seed + 10_000), 50, False)
    print(f"  HTTP under py-spy, batch {HTTP_BATCH}, {HTTP_SENDERS} senders ...", flush=True)
    result = http_path(
        load, warmup, senders=HTTP_SENDERS, env=SERVER_ENV, label="profile",
        command=record_command(py_spy, raw),
    )  # fmt: skip
    stacks = summarize(raw)
    total = stacks.route_total or 1
    rows = [[label, f"{n / total:.1%}"] for label, n in stacks.route.most_common(12)]
    handler = _handler_ms(OUT_DIR / "profile.log", skip=len(warmup.bodies))
    loop_total = stacks.loop_idle + sum(stacks.loop_busy.values()) or 1
    busy = ", ".join(f"{pkg} {n / loop_total:.1%}" for pkg, n in stacks.loop_busy.most_common(5))
    return "\n".join([
        f"HTTP batch {HTTP_BATCH}, {HTTP_SENDERS} senders under py-spy (200 Hz, "
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


def section(events: list[dict], seed: int, py_spy: str | None) -> str:
    phases, plans = phases_section(events, list(BATCHES))
    spy = (
        py_spy_section(events, seed, py_spy) if py_spy else "py-spy not found: pass --py-spy PATH."
    )
    m = machine()
    return "\n".join([
        f"Command: `{command('benchmarks.ingest')}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; nproc {m['nproc']}, {m['memory']} RAM, "
        f"PostgreSQL {m['postgres']}; {len(events):,} events from the simulator (seed {seed}), "
        "fresh database per run.",
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
