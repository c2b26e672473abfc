"""The code location as Dagster loads it: every asset, job, schedule, sensor and check, by name."""

from __future__ import annotations

import dagster as dg
import pytest


@pytest.fixture
def repository(database_url, monkeypatch) -> dg.RepositoryDefinition:
    monkeypatch.setenv("STATS_DATABASE_URL", database_url)
    from stats_platform.definitions import defs

    # `defs` is a lazy @dg.definitions: calling it is what `dagster` does to load it.
    return defs().get_repository_def()


def test_asset_names(repository):
    assert sorted(key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()) == [
        "events",
        "live_voice_presence",
        "member_activity_5min",
        "member_activity_daily",
        "member_activity_hourly",
        "member_stats",
        "metrics_snapshots_5min",
        "metrics_snapshots_daily",
        "metrics_snapshots_hourly",
        "voice_sessions",
    ]


def test_job_schedule_and_sensor_names(repository):
    assert sorted(job.name for job in repository.get_all_jobs()) == [
        "__ASSET_JOB",
        "retention_job",
        "rollups_5min_job",
        "rollups_daily_job",
        "rollups_hourly_job",
    ]
    assert sorted(schedule.name for schedule in repository.schedule_defs) == [
        "retention_schedule",
        "rollups_5min_schedule",
        "rollups_daily_schedule",
        "rollups_hourly_schedule",
    ]
    assert sorted(sensor.name for sensor in repository.sensor_defs) == [
        "late_data_sensor",
        "missed_windows_sensor",
        "run_failure_alert_sensor",
    ]


def test_check_names(repository):
    checks = sorted(
        (key.asset_key.to_user_string(), key.name)
        for key in repository.asset_graph.asset_check_keys
    )
    assert checks == [
        ("member_stats", "member_stats_matches_blocks"),
        ("member_stats", "member_stats_non_negative"),
        ("metrics_snapshots_5min", "metrics_snapshots_5min_matches_raw"),
        ("metrics_snapshots_5min", "metrics_snapshots_5min_non_negative"),
        ("metrics_snapshots_daily", "metrics_snapshots_daily_non_negative"),
        ("metrics_snapshots_hourly", "metrics_snapshots_hourly_non_negative"),
    ]


def test_every_materializable_asset_is_partitioned_and_backfills_a_range_in_one_run(repository):
    graph = repository.asset_graph
    for key in graph.materializable_asset_keys:
        assert graph.get(key).is_partitioned, key
        assert graph.get(key).backfill_policy == dg.BackfillPolicy.single_run(), key


def test_schedules_target_the_rollup_jobs_and_retention(repository):
    targets = {s.name: s.job_name for s in repository.schedule_defs}
    assert targets == {
        "retention_schedule": "retention_job",
        "rollups_5min_schedule": "rollups_5min_job",
        "rollups_daily_schedule": "rollups_daily_job",
        "rollups_hourly_schedule": "rollups_hourly_job",
    }
    assert repository.get_schedule_def("rollups_hourly_schedule").cron_schedule == "2 * * * *"
    assert repository.get_schedule_def("rollups_daily_schedule").cron_schedule == "10 0 * * *"
