"""Retention and cleanup: ops whose every removal is reported on the asset it touched."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from stats_platform.domain.grains import GRAINS
from stats_platform.pipeline import retention
from stats_platform.resources import PipelineSettings, PostgresResource, RedisResource
from stats_platform.settings import raw_retention_horizon


class RetentionConfig(dg.Config):
    """Horizons in days; unset means the deployment's PipelineSettings."""

    raw_retention_days: int | None = None
    snapshot_retention_days: int | None = None
    five_minute_retention_days: int | None = None


def _horizon(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@dg.op
def drop_expired_events(
    context: dg.OpExecutionContext,
    config: RetentionConfig,
    postgres: PostgresResource,
    pipeline: PipelineSettings,
):
    """Removes raw events of every UTC day wholly past the raw retention (whole partitions or chunks)."""
    horizon = raw_retention_horizon(
        datetime.now(UTC), config.raw_retention_days or pipeline.raw_retention_days
    )
    with postgres.connect() as conn:
        removed = retention.drop_expired_events(conn, horizon=horizon)
    context.log_event(
        dg.AssetObservation(
            asset_key="events", metadata={"horizon": horizon.isoformat(), **removed}
        )
    )


@dg.op
def create_upcoming_event_partitions(context: dg.OpExecutionContext, postgres: PostgresResource):
    """Creates the next week's daily partitions of events ahead of time (native partitioning only)."""
    with postgres.connect() as conn:
        created = retention.create_upcoming_partitions(conn)
    context.log_event(
        dg.AssetObservation(asset_key="events", metadata={"partitions_created": created})
    )


@dg.op
def delete_expired_rollups(
    context: dg.OpExecutionContext,
    config: RetentionConfig,
    postgres: PostgresResource,
    pipeline: PipelineSettings,
):
    """Deletes snapshot and member-activity rows past their grain's horizon (daily member rows are kept)."""
    horizons = {
        grain.name: _horizon(
            getattr(config, grain.retention_setting)
            or pipeline.retention_days(grain.retention_setting)
        )
        for grain in GRAINS
    }
    with postgres.connect() as conn:
        removed = retention.delete_expired_rollups(conn, horizons=horizons)
    for asset_key, rows in removed.items():
        context.log_event(dg.AssetObservation(asset_key=asset_key, metadata={"rows_removed": rows}))


@dg.op
def clean_stale_voice_presence(
    context: dg.OpExecutionContext, redis: RedisResource, pipeline: PipelineSettings
):
    """Drops live voice entries older than the session cap: they cannot be open any more."""
    removed = retention.clean_stale_voice_presence(redis.client(), cap=pipeline.voice_cap)
    context.log_event(
        dg.AssetObservation(asset_key="live_voice_presence", metadata={"entries_removed": removed})
    )


@dg.job(
    description="Daily retention and cleanup; every removal shows on the affected asset's history."
)
def retention_job():
    drop_expired_events()
    create_upcoming_event_partitions()
    delete_expired_rollups()
    clean_stale_voice_presence()


retention_schedule = dg.ScheduleDefinition(
    name="retention_schedule",
    job=retention_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
