"""The instant a run computes up to, and the guard against recomputing windows whose events are gone."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from stats_platform.partitions import raw_retention_horizon
from stats_platform.resources import PipelineSettings


def covered_until_for(end: datetime, pipeline: PipelineSettings) -> datetime:
    """Waits for the bot's batches of a just-closed window, then returns now minus the settle lag."""
    ready_at = end + timedelta(seconds=pipeline.settle_seconds + pipeline.batch_delay_seconds)
    wait = (ready_at - datetime.now(UTC)).total_seconds()
    if wait > 0:
        time.sleep(wait)
    return datetime.now(UTC) - timedelta(seconds=pipeline.settle_seconds)


def refuse_expired_window(start: datetime) -> None:
    horizon = raw_retention_horizon()
    if start < horizon:
        raise dg.Failure(
            f"window starts {start.isoformat()}, before the raw-event retention horizon "
            f"{horizon.isoformat()}: its events are gone, and recomputing would erase good rollups"
        )
