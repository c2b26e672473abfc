"""The partitions of every grain, built from its declaration. Each starts at the raw-event retention horizon.

Partitions before it could only be recomputed from events that are gone, so they are not offered;
this also keeps the 5-minute grain to about 8,640 partitions (30 days), which the UI handles well.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from stats_platform import settings
from stats_platform.domain.grains import DAILY, FIVE_MINUTES, GRAINS, HOURLY, Grain


def raw_retention_horizon(now: datetime | None = None) -> datetime:
    """Where partitions start: UTC midnight of the oldest day whose raw events are all kept."""
    return settings.raw_retention_horizon(
        now or datetime.now(UTC), settings.get_settings().raw_retention_days
    )


def _partitions(grain: Grain, start: datetime) -> dg.TimeWindowPartitionsDefinition:
    return dg.TimeWindowPartitionsDefinition(
        start=start, fmt=grain.partition_format, cron_schedule=grain.cron, timezone="UTC"
    )


_start = raw_retention_horizon()
PARTITIONS: dict[str, dg.TimeWindowPartitionsDefinition] = {
    grain.name: _partitions(grain, _start) for grain in GRAINS
}
five_minute_partitions = PARTITIONS[FIVE_MINUTES.name]
hourly_partitions = PARTITIONS[HOURLY.name]
daily_partitions = PARTITIONS[DAILY.name]
