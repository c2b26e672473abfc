from datetime import UTC, datetime, timedelta

import dagster as dg

from stats_platform.defs.rollups.schedules import JOBS
from stats_platform.domain.grains import GRAINS
from stats_platform.domain.instants import floor_to
from stats_platform.partitions import PARTITIONS, raw_retention_horizon
from stats_platform.pipeline import late_data
from stats_platform.resources import PipelineSettings, PostgresResource

# Dagster's own tags for a single run over a partition range (what `--partition-range` sets).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dg.sensor(
    jobs=list(JOBS.values()),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Recomputes windows (and the coarser grains and member totals) that late events changed.",
)
def late_data_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, pipeline: PipelineSettings
):
    # Arrivals newer than the settle lag may belong to transactions still committing: next tick.
    until = datetime.now(UTC) - timedelta(seconds=pipeline.settle_seconds)
    after = (
        datetime.fromisoformat(context.cursor) if context.cursor else datetime.fromtimestamp(0, UTC)
    )
    if until <= after:
        return dg.SkipReason("no settled arrivals since the last tick")
    # The cursor is the previous tick's `until`: that tick ran settle_seconds later.
    ticked = after + timedelta(seconds=pipeline.settle_seconds)
    with postgres.connect() as conn:
        late = late_data.find_late_arrivals(conn, after=after, until=until, ticked=ticked)
    # Only windows already closed at `until` are partitions; anything later the schedules compute.
    last_complete = {grain.name: floor_to(until, grain.length) for grain in GRAINS}
    ranges = late_data.ranges_to_recompute(
        late,
        cap=pipeline.voice_cap,
        last_complete=last_complete,
        first_kept=raw_retention_horizon(),
    )
    return dg.SensorResult(
        run_requests=[_run_request(r, until) for r in ranges], cursor=until.isoformat()
    )


def _run_request(stale: late_data.StaleRange, until: datetime) -> dg.RunRequest:
    partitions_def = PARTITIONS[stale.grain]
    first = partitions_def.get_partition_key_for_timestamp(stale.start.timestamp())
    last = partitions_def.get_partition_key_for_timestamp(
        (stale.end - timedelta(milliseconds=1)).timestamp()
    )
    return dg.RunRequest(
        run_key=f"late:{stale.grain}:{first}:{last}:{until.isoformat()}",
        job_name=JOBS[stale.grain].name,
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last, "stats/trigger": "late_data"},
    )
