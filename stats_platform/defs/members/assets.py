import dagster as dg

from stats_platform.partitions import daily_partitions
from stats_platform.pipeline import rollups
from stats_platform.resources import PostgresResource


@dg.asset(
    deps=["member_activity_daily"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="members",
    kinds={"polars", "postgres"},
)
def member_stats(context: dg.AssetExecutionContext, postgres: PostgresResource):
    """Lifetime per-member totals, re-summed from all daily rows of every member active in the window."""
    start, end = context.partition_time_window
    with postgres.connect() as conn:
        members = rollups.rebuild_member_stats(conn, start=start, end=end)
    return dg.MaterializeResult(
        metadata={
            "members_updated": members,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
        }
    )
