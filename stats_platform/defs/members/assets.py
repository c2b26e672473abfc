import dagster as dg

from stats_platform.defs.windows import covered_until_for
from stats_platform.partitions import daily_partitions
from stats_platform.pipeline import rollups
from stats_platform.resources import PipelineSettings, PostgresResource


@dg.asset(
    # voice_sessions: a member's latest voice is the end of their latest session.
    deps=["member_activity_daily", "voice_sessions"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="members",
    kinds={"polars", "postgres"},
)
def member_stats(
    context: dg.AssetExecutionContext, postgres: PostgresResource, pipeline: PipelineSettings
):
    """Lifetime per-member totals of every member active in the window, merged again from their guild's span blocks."""
    start, end = context.partition_time_window
    as_of = covered_until_for(end, pipeline)
    with postgres.connect() as conn:
        members = rollups.rebuild_member_stats(
            conn, start=start, end=end, as_of=as_of, cap=pipeline.voice_cap
        )
    return dg.MaterializeResult(
        metadata={
            "members_updated": members,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "covered_until": as_of.isoformat(),
        }
    )
