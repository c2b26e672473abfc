"""The three time grains, declared once. Every grain starts at the raw-event retention horizon.

Partitions before it could only be recomputed from events that are gone, so they are not offered;
this also keeps the 5-minute grain to about 8,640 partitions (30 days), which the UI handles well.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from stats_api.core.config import get_settings

FIVE_MINUTE_FORMAT = "%Y-%m-%d-%H:%M"


def raw_retention_horizon(now: datetime | None = None) -> datetime:
    """The instant before which retention deletes raw events: windows starting earlier cannot be recomputed."""
    return (now or datetime.now(UTC)) - timedelta(days=get_settings().raw_retention_days)


def retention_horizon_day(now: datetime | None = None) -> datetime:
    """UTC midnight of the oldest day whose raw events are still kept."""
    now = now or datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=get_settings().raw_retention_days)


_start = retention_horizon_day()

five_minute_partitions = dg.TimeWindowPartitionsDefinition(
    start=_start, fmt=FIVE_MINUTE_FORMAT, cron_schedule="*/5 * * * *", timezone="UTC"
)
hourly_partitions = dg.HourlyPartitionsDefinition(start_date=_start, timezone="UTC")
daily_partitions = dg.DailyPartitionsDefinition(start_date=_start, timezone="UTC")
