"""Per-phase timing of the ingest path in-process: the endpoint's own functions, no HTTP.

The request's work is run as the route runs it (`parse_events`, `validate_batch`,
`EventStore.store`) over a pool whose connections time every statement, COPY and commit, so a
new statement in stats_api shows up here without changing this file. A second pass runs
`EXPLAIN ANALYZE` on each INSERT…SELECT (inside a savepoint, rolled back, on another database)
to split that one statement into its inserts and the rows feeding them.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg

from benchmarks.harness import fresh_database
from stats_api.ingest.payload import parse_events
from stats_api.ingest.store import EventStore
from stats_api.ingest.validate import Limits, validate_batch
from stats_platform.settings import get_settings
from stats_platform.storage.database import open_pool

TIMINGS: Counter[str] = Counter()
PLANS: list[dict[str, Any]] = []
EXPLAIN = {"on": False}


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
