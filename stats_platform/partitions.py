"""The three time grains, declared once. Every grain starts at the raw-event retention horizon.

Partitions before it could only be recomputed from events that are gone, so they are not offered;
this also keeps the 5-minute grain to about 8,640 partitions (30 days), which the UI handles well.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from stats_platform import settings

FIVE_MINUTE_FORMAT = "%Y-%m-%d-%H:%M"


def raw_retention_horizon(now: datetime | None = None) -> datetime:
    """Where partitions start: UTC midnight of the oldest day whose raw events are all kept."""
    return settings.raw_retention_horizon(
        now or datetime.now(UTC), settings.get_settings().raw_retention_days
    )


_start = raw_retention_horizon()

five_minute_partitions = dg.TimeWindowPartitionsDefinition(
    start=_start, fmt=FIVE_MINUTE_FORMAT, cron_schedule="*/5 * * * *", timezone="UTC"
)
hourly_partitions = dg.HourlyPartitionsDefinition(start_date=_start, timezone="UTC")
daily_partitions = dg.DailyPartitionsDefinition(start_date=_start, timezone="UTC")
