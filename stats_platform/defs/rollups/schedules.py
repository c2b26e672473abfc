import dagster as dg

rollups_5min_job = dg.define_asset_job(
    "rollups_5min_job",
    selection=["metrics_snapshots_5min", "member_activity_5min"],
    description="5-minute snapshots and member activity for one window (or a range, in one run).",
)
rollups_hourly_job = dg.define_asset_job(
    "rollups_hourly_job",
    selection=["metrics_snapshots_hourly", "member_activity_hourly"],
    description="Hourly snapshots and member activity.",
)
rollups_daily_job = dg.define_asset_job(
    "rollups_daily_job",
    selection=[
        "voice_sessions",
        "metrics_snapshots_daily",
        "member_activity_daily",
        "member_stats",
    ],
    description="Voice sessions and checkpoints, daily snapshots and member activity, lifetime member totals.",
)

# Each runs as its window closes; the 5-minute assets then wait out the bot's batching delay
# themselves (PipelineSettings.batch_delay_seconds), and the late-data sensor folds in stragglers.
rollups_5min_schedule = dg.build_schedule_from_partitioned_job(
    rollups_5min_job, name="rollups_5min_schedule", default_status=dg.DefaultScheduleStatus.RUNNING
)
rollups_hourly_schedule = dg.build_schedule_from_partitioned_job(
    rollups_hourly_job,
    name="rollups_hourly_schedule",
    minute_of_hour=2,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
rollups_daily_schedule = dg.build_schedule_from_partitioned_job(
    rollups_daily_job,
    name="rollups_daily_schedule",
    hour_of_day=0,
    minute_of_hour=10,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
