"""Multi-day backfills in one run per job, as `dagster asset materialize --partition-range` does.

Runs the real assets in process (`dg.materialize` with the partition-range tags), so the
figures include Dagster's own overhead: the daily job's assets (voice_sessions, rollups_daily,
member_stats), then the hourly and the 5-minute rollups over the same days.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
import psycopg

# Imported when the benchmark starts, so the whole run measures one version of the code.
from stats_platform.defs.members.assets import member_stats
from stats_platform.defs.rollups.assets import rollups_5min, rollups_daily, rollups_hourly
from stats_platform.defs.voice.assets import voice_sessions
from stats_platform.partitions import daily_partitions, five_minute_partitions, hourly_partitions
from stats_platform.resources import PipelineSettings, PostgresResource

JOBS = [
    (
        "daily job (voice_sessions, rollups_daily, member_stats)",
        [voice_sessions, rollups_daily, member_stats],
        daily_partitions,
        timedelta(days=1),
    ),
    ("rollups_hourly", [rollups_hourly], hourly_partitions, timedelta(hours=1)),
    ("rollups_5min", [rollups_5min], five_minute_partitions, timedelta(minutes=5)),
]


def materialize(
    url: str,
    label: str,
    assets: list,
    partitions: Any,
    every: timedelta,
    first: datetime,
    end: datetime,
) -> dict:
    """One Dagster run over the partitions of [first, end), as a single-run backfill does it."""
    keys = (first.strftime(partitions.fmt), (end - every).strftime(partitions.fmt))
    print(f"  backfill {label}: {keys[0]} .. {keys[1]} ...", flush=True)
    started = time.perf_counter()
    outcome = dg.materialize(
        assets,
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "postgres": PostgresResource(url=url),
            "pipeline": PipelineSettings(settle_seconds=0, batch_delay_seconds=0),
        },
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        tags={
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[1],
        },
    )
    seconds = time.perf_counter() - started
    steps = {
        str(e.step_key): e.event_specific_data.duration_ms / 1000  # type: ignore[union-attr]
        for e in outcome.get_step_success_events()
    }
    return {
        "job": label,
        "partitions": (end - first) // every,
        "range": f"{keys[0]} .. {keys[1]}",
        "seconds": seconds,
        "steps_s": sum(steps.values()),
        "steps": steps,
        "materializations": len(outcome.get_asset_materialization_events()),
        "success": outcome.success,
    }


def run(url: str, first: datetime, end: datetime) -> list[dict]:
    """Every job over [first, end) in one run each."""
    return [
        materialize(url, label, assets, parts, every, first, end)
        for label, assets, parts, every in JOBS
    ]


def totals(url: str, first: datetime, end: datetime) -> dict[str, int]:
    """What the backfill left: events per grain in the snapshots (each must equal the raw count)."""
    with psycopg.connect(url) as conn:
        raw = conn.execute(
            "SELECT count(*) FROM events WHERE ts >= %s AND ts < %s", (first, end)
        ).fetchone()
        grains = conn.execute(
            "SELECT period_type, sum(total_events)::bigint, count(*) FROM metrics_snapshots"
            " GROUP BY 1"
        ).fetchall()
        lifetime = conn.execute("SELECT count(*) FROM member_stats").fetchone()
        sessions = conn.execute("SELECT count(*) FROM voice_sessions").fetchone()
        blocks = conn.execute(
            "SELECT period_type, count(*), sum(members)::bigint FROM member_blocks GROUP BY 1"
        ).fetchall()
    out = {"raw events": raw[0] if raw else 0}
    for grain, events, rows in grains:
        out[f"{grain} snapshot events"] = events
        out[f"{grain} snapshot rows"] = rows
    for period_type, count, rows_in_blocks in blocks:
        out[f"{period_type} member blocks"] = count
        out[f"{period_type} member rows in blocks"] = rows_in_blocks
    out["member_stats rows"] = lifetime[0] if lifetime else 0
    out["voice_sessions rows"] = sessions[0] if sessions else 0
    return out
