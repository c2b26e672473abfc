"""retention_job: what it removes from PostgreSQL and Redis, and the observations it records.

Horizons are set per run: raw events 10 days, 5-minute rows 4 days, hourly and daily snapshots
5 days. Rollups are computed for day A (`base` minus 3 days, six days ago) and day `base`
(three days ago): A's 5-minute, hourly and daily snapshots are past their horizons, `base`'s are not.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from platform_testkit import (
    REDIS_URL,
    ROLLUPS,
    materialize,
    message,
    rows,
    run_resources,
    stage_member_rows,
)

from stats_platform.defs.retention.ops import retention_job
from stats_platform.defs.windows import refuse_expired_window
from stats_platform.partitions import raw_retention_horizon
from stats_platform.resources import RedisResource
from stats_platform.settings import raw_retention_horizon as horizon_at

DAY = timedelta(days=1)
RUN_CONFIG = {
    "ops": {
        "drop_expired_events": {"config": {"raw_retention_days": 10}},
        "delete_expired_rollups": {
            "config": {"snapshot_retention_days": 5, "five_minute_retention_days": 4}
        },
    }
}


@pytest.fixture
def retention_resources(database_url, redis_client) -> dict[str, object]:
    return {**run_resources(database_url), "redis": RedisResource(url=REDIS_URL)}


def run_retention(instance, resources) -> None:
    result = retention_job.execute_in_process(
        run_config=RUN_CONFIG, resources=resources, instance=instance
    )
    assert result.success


def observations(instance, asset: str) -> list[dict]:
    """Metadata of the asset's observations, oldest first."""
    records = instance.fetch_observations(dg.AssetKey(asset), limit=10, ascending=True).records
    return [
        {name: value.value for name, value in r.asset_observation.metadata.items()} for r in records
    ]


def event_partitions(db) -> list[str]:
    return [
        name
        for (name,) in rows(
            db,
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'events'::regclass ORDER BY c.relname",
        )
    ]


def partition_day(name: str) -> datetime:
    return datetime.strptime(name.removeprefix("events_p"), "%Y%m%d").replace(tzinfo=UTC)


def test_raw_events_of_days_past_the_horizon_are_removed_with_their_partitions(
    db, store, t, instance, retention_resources
):
    # Raw retention is 10 days here: the horizon is UTC midnight ten days before today, and
    # every day wholly before it goes, partition and all; the horizon's own day stays whole.
    horizon = horizon_at(datetime.now(UTC), 10)
    store(
        message(horizon - 2 * DAY, "1"),  # in a day wholly before the horizon
        message(horizon - timedelta(minutes=1), "1"),  # last minute before it: removed
        message(horizon, "1"),  # its first instant: kept
        message(horizon + timedelta(minutes=10), "1"),
        message(t(10), "1"),
    )
    partitions_before = event_partitions(db)
    # A partition of next week that the job has to create again.
    next_week = (datetime.now(UTC) + 7 * DAY).strftime("events_p%Y%m%d")
    db.execute(f"DROP TABLE IF EXISTS {next_week}")

    run_retention(instance, retention_resources)

    # Two ops observe `events`, in whichever order they ran.
    (dropped,) = [o for o in observations(instance, "events") if "horizon" in o]
    (created,) = [o for o in observations(instance, "events") if "horizon" not in o]
    expired = [p for p in partitions_before if partition_day(p) < horizon]
    assert partition_day(expired[-1]) == horizon - DAY
    assert dropped == {
        "horizon": horizon.isoformat(),
        "rows_removed": 2,
        "partitions_dropped": len(expired),
    }
    assert created == {"partitions_created": 1}
    assert rows(db, "SELECT ts FROM events ORDER BY ts") == [
        (horizon,),
        (horizon + timedelta(minutes=10),),
        (t(10),),
    ]
    assert event_partitions(db) == sorted(set(partitions_before) - set(expired))
    assert rows(
        db, "SELECT count(*) FROM window_arrivals WHERE period_start < %s", (horizon - DAY,)
    ) == [(0,)]


def test_snapshot_rows_past_their_horizon_are_removed_and_daily_member_rows_kept(
    db, store, t, base, instance, retention_resources
):
    day_a = base - 3 * DAY
    store(message(day_a + timedelta(hours=10, minutes=1), "1"), message(t(10, 1), "2"))
    for day in (day_a, base):
        materialize(
            [ROLLUPS["5min"]], retention_resources, grain="5min", start=day + timedelta(hours=10)
        )
        materialize(
            [ROLLUPS["hourly"]],
            retention_resources,
            grain="hourly",
            start=day + timedelta(hours=10),
        )
        materialize([ROLLUPS["daily"]], retention_resources, grain="daily", start=day)

    run_retention(instance, retention_resources)

    assert rows(
        db,
        "SELECT period_type, period_start FROM metrics_snapshots ORDER BY period_type, period_start",
    ) == [("5min", t(10)), ("daily", base), ("hourly", t(10))]
    stage_member_rows(db)
    assert rows(
        db,
        "SELECT period_type, period_start, user_id FROM member_rows"
        " ORDER BY period_type, period_start",
    ) == [
        ("5min", t(10), "2"),
        ("daily", day_a, "1"),
        ("daily", base, "2"),
        ("hourly", t(10), "2"),
    ]
    assert rows(db, "SELECT period_type, period_start FROM computed_windows ORDER BY 1, 2") == [
        ("5min", t(10)),
        ("daily", base),
        ("hourly", t(10)),
    ]
    for asset in (
        "metrics_snapshots_5min",
        "member_activity_5min",
        "metrics_snapshots_hourly",
        "member_activity_hourly",
        "metrics_snapshots_daily",
    ):
        assert observations(instance, asset) == [{"rows_removed": 1}], asset
    assert observations(instance, "member_activity_daily") == []


def test_live_voice_entries_older_than_the_cap_are_removed(
    db, instance, retention_resources, redis_client
):
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    hour_ms = 3_600_000

    def entry(hours_ago: int) -> str:
        return json.dumps({"channelId": "900", "since": now_ms - hours_ago * hour_ms})

    redis_client.hset("stats:voice:live:100", mapping={"1": entry(25), "2": entry(1)})
    redis_client.hset("stats:voice:live:200", mapping={"3": entry(30)})
    redis_client.set("stats:cache:100:dashboard", "{}")

    run_retention(instance, retention_resources)

    assert redis_client.hgetall("stats:voice:live:100") == {b"2": entry(1).encode()}
    assert redis_client.exists("stats:voice:live:200") == 0
    assert redis_client.get("stats:cache:100:dashboard") == b"{}"
    assert observations(instance, "live_voice_presence") == [{"entries_removed": 2}]


def test_a_window_before_the_horizon_is_refused_not_erased(db, store):
    # Its events may be gone: recomputing it would replace good rows with a partial count.
    # The horizon's own day is kept whole by retention, so its windows are recomputable.
    horizon = raw_retention_horizon()
    with pytest.raises(dg.Failure, match="before the raw-event retention horizon"):
        refuse_expired_window(horizon - timedelta(minutes=5))
    refuse_expired_window(horizon)
