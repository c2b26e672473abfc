"""missed_windows_sensor, evaluated in process: which windows it requests, and which it leaves.

No settle, batch delay or grace here: a window is due as soon as it has closed. The 5-minute
windows of the last hour are computed except for two gaps; every hourly window is computed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun
from platform_testkit import RANGE_END, RANGE_START, key, pipeline_settings

from stats_platform.defs.missed_windows.sensors import missed_windows_sensor
from stats_platform.domain.grains import FIVE_MINUTES, HOURLY, Grain
from stats_platform.domain.instants import ceil_to, floor_to
from stats_platform.resources import PostgresResource

FIVE = FIVE_MINUTES.length


@pytest.fixture
def sensor_resources(database_url) -> dict[str, object]:
    return {
        "postgres": PostgresResource(url=database_url),
        "pipeline": pipeline_settings(
            missed_windows_lookback_minutes=60, missed_windows_grace_seconds=0
        ),
    }


def computed(db, grain: Grain, starts: list[datetime]) -> None:
    for start in starts:
        db.execute(
            "INSERT INTO computed_windows (period_type, period_start, period_end, covered_until)"
            " VALUES (%s, %s, %s, now())",
            (grain.name, start, start + grain.length),
        )


def evaluate(instance, resources, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    return missed_windows_sensor(context)


@pytest.fixture
def gaps(db) -> tuple[list[datetime], list[datetime], datetime]:
    """Two gaps in the last hour's 5-minute windows: one window, and two adjacent ones."""
    now = datetime.now(UTC)
    since = ceil_to(now - timedelta(minutes=60), FIVE)
    closed = [since + FIVE * i for i in range((floor_to(now, FIVE) - since) // FIVE)]
    assert len(closed) >= 10
    first_gap, second_gap = closed[2:3], closed[5:7]
    computed(db, FIVE_MINUTES, [w for w in closed if w not in first_gap + second_gap])
    hour_since = ceil_to(now - timedelta(minutes=60), HOURLY.length)
    computed(db, HOURLY, [hour_since - HOURLY.length, hour_since])
    return first_gap, second_gap, now


def request(first: datetime, last: datetime) -> tuple:
    first_key, last_key = key("5min", first), key("5min", last)
    return (
        f"missed:5min:{first_key}:{last_key}",
        "rollups_5min_job",
        {RANGE_START: first_key, RANGE_END: last_key, "stats/trigger": "missed_windows"},
    )


def as_tuples(result: dg.SensorResult) -> list[tuple]:
    return [(r.run_key, r.job_name, r.tags) for r in result.run_requests]


def test_the_first_tick_only_notes_the_time(instance, sensor_resources, gaps):
    result = evaluate(instance, sensor_resources, None)
    assert result.run_requests == []
    assert result.cursor is not None


def test_gaps_due_at_the_previous_tick_are_requested_as_ranges(instance, sensor_resources, gaps):
    first_gap, second_gap, now = gaps
    result = evaluate(instance, sensor_resources, now.isoformat())
    assert as_tuples(result) == [
        request(first_gap[0], first_gap[0]),
        request(second_gap[0], second_gap[1]),
    ]


def test_windows_of_a_running_run_are_left_to_it(instance, sensor_resources, gaps):
    first_gap, second_gap, now = gaps
    instance.add_run(
        DagsterRun(
            job_name="rollups_5min_job",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": key("5min", second_gap[1])},
        )
    )
    result = evaluate(instance, sensor_resources, now.isoformat())
    assert as_tuples(result) == [
        request(first_gap[0], first_gap[0]),
        request(second_gap[0], second_gap[0]),
    ]


def test_windows_not_due_at_the_previous_tick_wait(instance, sensor_resources, gaps):
    first_gap, _, _ = gaps
    # The previous tick ran just after the first gap closed: only it was due then.
    result = evaluate(instance, sensor_resources, (first_gap[0] + FIVE).isoformat())
    assert as_tuples(result) == [request(first_gap[0], first_gap[0])]


def test_windows_of_an_operators_backfill_are_left_to_it(instance, sensor_resources, gaps):
    first_gap, second_gap, now = gaps
    # `dagster asset materialize --select ... --partition-range` runs as __ASSET_JOB.
    instance.add_run(
        DagsterRun(
            job_name="__ASSET_JOB",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            asset_selection=frozenset(
                {dg.AssetKey("metrics_snapshots_5min"), dg.AssetKey("member_activity_5min")}
            ),
            tags={RANGE_START: key("5min", first_gap[0]), RANGE_END: key("5min", second_gap[0])},
        )
    )
    result = evaluate(instance, sensor_resources, now.isoformat())
    assert as_tuples(result) == [request(second_gap[1], second_gap[1])]
