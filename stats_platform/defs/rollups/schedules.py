from __future__ import annotations

import dagster as dg

from stats_platform.domain.grains import GRAINS, Grain


def _job(grain: Grain):
    return dg.define_asset_job(
        grain.job_name, selection=list(grain.job_assets), description=grain.job_description
    )


def _schedule(grain: Grain, job):
    # Each runs as its window closes; the 5-minute assets then wait out the bot's batching delay
    # themselves (Settings.batch_delay_seconds), and the late-data sensor folds in stragglers.
    return dg.build_schedule_from_partitioned_job(
        job,
        name=grain.schedule_name,
        minute_of_hour=grain.schedule_minute or None,
        hour_of_day=0 if grain.length.days else None,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


JOBS = {grain.name: _job(grain) for grain in GRAINS}
rollups_5min_job, rollups_hourly_job, rollups_daily_job = JOBS.values()
rollups_5min_schedule, rollups_hourly_schedule, rollups_daily_schedule = (
    _schedule(grain, JOBS[grain.name]) for grain in GRAINS
)
