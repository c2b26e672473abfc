"""What the API sees of the platform at scrape time: Redis, and the pipeline's state in PostgreSQL.

The queries are small (catalog and rollup bookkeeping tables, never the raw events) and their
answer is kept CACHE_SECONDS, so frequent scrapes by several Prometheus servers cost one read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from psycopg_pool import ConnectionPool, PoolTimeout

from stats_api.redis_gate import RedisGate
from stats_platform.domain.grains import GRAIN_NAMES
from stats_platform.domain.instants import iso_z
from stats_platform.logs import get_logger
from stats_platform.storage.scripts import script

log = get_logger("stats.metrics")

CACHE_SECONDS = 10.0
# A scrape must answer even when every connection is busy: then the database part is skipped.
CONNECTION_TIMEOUT_SECONDS = 1.0
WINDOW_LAG_SQL = script(__file__, "select_window_lag.sql")
AWAITING_SQL = script(__file__, "select_windows_awaiting_recompute.sql")
RAW_PER_DAY_SQL = script(__file__, "select_raw_events_per_day.sql")
RAW_PER_CHUNK_SQL = script(__file__, "select_raw_events_per_chunk.sql")
HYPERTABLE_SQL = "SELECT to_regclass('timescaledb_information.chunks') IS NOT NULL"


@dataclass
class PipelineView:
    database_up: bool = False
    lag: dict[str, float] = field(default_factory=dict)
    awaiting: dict[str, int] = field(default_factory=dict)
    raw_per_day: dict[str, int] = field(default_factory=dict)


class PlatformCollector(Collector):
    def __init__(self, pool: ConnectionPool, redis: RedisGate) -> None:
        self._pool = pool
        self._redis = redis
        self._lock = threading.Lock()
        self._view = PipelineView()
        self._read_at = -CACHE_SECONDS

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "stats_redis_up", "1 when Redis answers a PING now", value=int(self._redis.ping())
        )
        view = self._cached_view()
        yield GaugeMetricFamily(
            "stats_database_up",
            "1 when the scrape's pipeline queries were answered",
            value=int(view.database_up),
        )
        lag = GaugeMetricFamily(
            "stats_pipeline_window_lag_seconds",
            "Seconds from the end of the newest computed window of each grain to now",
            labels=["grain"],
        )
        awaiting = GaugeMetricFamily(
            "stats_pipeline_windows_awaiting_recompute",
            "Computed windows with events that arrived after their covered_until",
            labels=["grain"],
        )
        for grain in GRAIN_NAMES:
            if grain in view.lag:
                lag.add_metric([grain], view.lag[grain])
            if view.database_up:
                awaiting.add_metric([grain], view.awaiting.get(grain, 0))
        raw = GaugeMetricFamily(
            "stats_raw_events",
            "Raw events per UTC day (daily partition), as the catalog estimates them",
            labels=["day"],
        )
        for day, count in sorted(view.raw_per_day.items()):
            raw.add_metric([day], count)
        yield from (lag, awaiting, raw)

    def _cached_view(self) -> PipelineView:
        with self._lock:
            if time.monotonic() - self._read_at >= CACHE_SECONDS:
                self._view = self._read()
                self._read_at = time.monotonic()
            return self._view

    def _read(self) -> PipelineView:
        try:
            with self._pool.connection(timeout=CONNECTION_TIMEOUT_SECONDS) as conn:
                return PipelineView(
                    database_up=True,
                    lag=dict(conn.execute(WINDOW_LAG_SQL).fetchall()),
                    awaiting=dict(conn.execute(AWAITING_SQL).fetchall()),
                    raw_per_day=_raw_per_day(conn),
                )
        except (PoolTimeout, psycopg.Error) as exc:
            log.warning("pipeline metrics unavailable", error=str(exc))
            return PipelineView()


def _raw_per_day(conn: psycopg.Connection) -> dict[str, int]:
    row = conn.execute(HYPERTABLE_SQL).fetchone()
    query = RAW_PER_CHUNK_SQL if row and row[0] else RAW_PER_DAY_SQL
    per_day: dict[str, int] = {}
    for day, n in conn.execute(query).fetchall():
        per_day[iso_z(day)[:10]] = per_day.get(iso_z(day)[:10], 0) + n
    return per_day
