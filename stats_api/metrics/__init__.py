"""Prometheus metrics of the API process: requests, ingested events, the pool, open streams.

With `PROMETHEUS_MULTIPROC_DIR` set (before the process starts) prometheus-client keeps every
worker's values in files there and /metrics sums them (multiprocess mode); without it, one
process's registry. Values the API reads from PostgreSQL and Redis at scrape time are in
`stats_api.metrics.platform`.
"""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.registry import REGISTRY
from psycopg_pool import ConnectionPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stats_api.ingest.validate import KNOWN_TYPES, ValidatedBatch

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# A label per known type; any other name an event may carry would make a series per spelling.
OTHER_TYPE = "OTHER"
INVALID_TYPE = "INVALID"

REQUESTS = Counter(
    "stats_http_requests", "HTTP requests by method, route template and status",
    ["method", "route", "status"],
)  # fmt: skip
LATENCY = Histogram(
    "stats_http_request_duration_seconds",
    "Seconds from the request to its response headers, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS = Counter(
    "stats_ingest_events",
    "Events of POST /v1/events by outcome (accepted, duplicate, rejected) and type",
    ["outcome", "type"],
)
# By pool: "stats" serves the reads, "ingest" POST /v1/events (stats_api.main opens both).
POOL_IN_USE = Gauge(
    "stats_db_pool_connections_in_use", "Database connections lent out now, by pool",
    ["pool"], multiprocess_mode="livesum",
)  # fmt: skip
POOL_SIZE = Gauge(
    "stats_db_pool_connections", "Database connections open now, by pool", ["pool"],
    multiprocess_mode="livesum",
)  # fmt: skip
POOL_WAITING = Gauge(
    "stats_db_pool_requests_waiting", "Requests waiting for a database connection now, by pool",
    ["pool"], multiprocess_mode="livesum",
)  # fmt: skip
POOLS = {"stats": "pool", "ingest": "ingest_pool"}  # label: the app.state attribute
# Each pool's three series, looked up once: sample_pools runs after every request.
_POOL_SERIES = {
    label: (POOL_SIZE.labels(label), POOL_IN_USE.labels(label), POOL_WAITING.labels(label))
    for label in POOLS
}
LIVE_STREAMS = Gauge(
    "stats_live_streams_open", "Open GET .../stats/live streams", multiprocess_mode="livesum"
)


def process_registry() -> CollectorRegistry:
    """What this process reports: every worker's values in multiprocess mode, else its own."""
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def process_exiting() -> None:
    """Drops this worker's live gauges from the multiprocess files (its counters stay summed)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def type_label(value: Any) -> str:
    if value in KNOWN_TYPES:
        return str(value)
    return OTHER_TYPE if isinstance(value, str) else INVALID_TYPE


def count_rejected(events: list[Any], batch: ValidatedBatch) -> None:
    """The batch's rejected events by the type they claimed (INVALID when none is readable)."""
    if not batch.rejected:
        return
    indexes = {e["index"] for e in batch.errors}
    tally = Tally(
        type_label(events[i].get("type") if isinstance(events[i], dict) else None) for i in indexes
    )
    for label, n in tally.items():
        EVENTS.labels("rejected", label).inc(n)


_event_series: dict[tuple[str, ...], Any] = {}


def count_stored(stored: list[list]) -> None:
    """After a commit, per [guild, type, new rows, valid rows]: the new rows are accepted, the
    other valid rows duplicates. A few entries per batch, whatever its size."""
    for _, kind, new, valid in stored:
        label = type_label(kind)
        if new:
            _series(EVENTS, _event_series, ("accepted", label)).inc(new)
        if valid > new:
            _series(EVENTS, _event_series, ("duplicate", label)).inc(valid - new)


def sample_pools(state: Any) -> None:
    """Each of the app's pools that is open (the app's state holds them); a gauge is set only
    when its pool's figures moved since the last sample."""
    for label, attribute in POOLS.items():
        pool: ConnectionPool | None = getattr(state, attribute, None)
        if pool is None:
            continue
        stats = pool.get_stats()
        size = stats.get("pool_size", 0)
        figures = (size, size - stats.get("pool_available", 0), stats.get("requests_waiting", 0))
        if _last_sample.get(label) != figures:
            _last_sample[label] = figures
            for series, value in zip(_POOL_SERIES[label], figures, strict=True):
                series.set(value)


_last_sample: dict[str, tuple[int, int, int]] = {}


@contextmanager
def open_stream() -> Iterator[None]:
    LIVE_STREAMS.inc()
    try:
        yield
    finally:
        LIVE_STREAMS.dec()


class RequestMetrics:
    """ASGI middleware: each request by route template ("unmatched" when no route took it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Series by label values, each looked up once (labels() is most of an observation's cost).
        self._latency: dict[tuple[str, str], Any] = {}
        self._requests: dict[tuple[str, str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                series = _series(LATENCY, self._latency, (scope["method"], _route(scope)))
                series.observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            _series(REQUESTS, self._requests, (scope["method"], _route(scope), str(status))).inc()
            if "app" in scope:
                sample_pools(scope["app"].state)


def _series(metric: Any, cache: dict[Any, Any], labels: tuple[str, ...]) -> Any:
    """The metric's series of these label values, from the cache after the first time."""
    series = cache.get(labels)
    if series is None:
        series = cache[labels] = metric.labels(*labels)
    return series


def _route(scope: Scope) -> str:
    return getattr(scope.get("route"), "path", None) or "unmatched"
