import dagster as dg

from stats_platform.defs.windows import covered_until_for, refuse_expired_window
from stats_platform.partitions import daily_partitions
from stats_platform.pipeline import rollups
from stats_platform.resources import PipelineSettings, PostgresResource


@dg.asset(
    deps=["events"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="voice",
    kinds={"polars", "postgres"},
)
def voice_sessions(
    context: dg.AssetExecutionContext, postgres: PostgresResource, pipeline: PipelineSettings
):
    """Voice sessions started each UTC day (contract §2 rules), and the sessions open at each midnight."""
    start, end = context.partition_time_window
    refuse_expired_window(start)
    covered_until = covered_until_for(end, pipeline)
    with postgres.connect() as conn, postgres.arrow_reader() as reader:
        counts = rollups.rebuild_voice_sessions(
            conn,
            start=start,
            end=end,
            covered_until=covered_until,
            cap=pipeline.voice_cap,
            reads=reader,
        )
    return dg.MaterializeResult(
        metadata={
            **counts,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "covered_until": covered_until.isoformat(),
        }
    )
