from datetime import UTC, datetime, timedelta

import dagster as dg

from stats_platform.defs.rollups.schedules import JOBS
from stats_platform.domain.grains import GRAINS, Grain
from stats_platform.partitions import PARTITIONS, raw_retention_horizon
from stats_platform.pipeline import missed_windows
from stats_platform.resources import PipelineSettings, PostgresResource

# Dagster's own tags for a single run over a partition range (what `--partition-range` sets).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    jobs=list(JOBS.values()),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Computes every window that was due but never computed (the daemon was down at its tick).",
)
def missed_windows_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, pipeline: PipelineSettings
):
    now = datetime.now(UTC)
    # Only windows already due at the previous tick: the schedules have had a whole interval
    # since (their catch-up ticks after a restart included) to launch them.
    if context.cursor is None:
        return dg.SensorResult(run_requests=[], cursor=now.isoformat())
    due_by = datetime.fromisoformat(context.cursor)
    since = max(
        now - timedelta(minutes=pipeline.missed_windows_lookback_minutes), raw_retention_horizon()
    )
    run_delay = pipeline.missed_window_run_delay
    requests = []
    with postgres.connect() as conn:
        for grain in GRAINS:
            unfinished = _unfinished_windows(context.instance, grain)
            missed = missed_windows.find_missed_windows(
                conn, grain, since=since, due_by=due_by, run_delay=run_delay
            )
            todo = [w for w in missed if w not in unfinished]
            requests += [
                _run_request(grain, start, end)
                for start, end in missed_windows.contiguous_ranges(todo, grain.length)
            ]
    return dg.SensorResult(run_requests=requests, cursor=now.isoformat())


def _unfinished_windows(instance: dg.DagsterInstance, grain: Grain) -> set[datetime]:
    """Window starts of queued or running runs of the grain's rollups, whoever launched them.

    That is the grain's job (schedules, sensors) and any run selecting its assets: an
    operator's `dagster asset materialize --partition-range` runs as `__ASSET_JOB`.
    """
    partitions_def = PARTITIONS[grain.name]
    snapshots = dg.AssetKey(grain.snapshots_asset)
    windows: set[datetime] = set()
    for run in instance.get_runs(dg.RunsFilter(statuses=UNFINISHED)):
        if run.job_name != JOBS[grain.name].name and snapshots not in (run.asset_selection or ()):
            continue
        first = run.tags.get(RANGE_START_TAG) or run.tags.get(PARTITION_TAG)
        last = run.tags.get(RANGE_END_TAG) or first
        if first is None or last is None:
            continue
        start = partitions_def.time_window_for_partition_key(first).start
        end = partitions_def.time_window_for_partition_key(last).end
        windows.update(start + grain.length * i for i in range((end - start) // grain.length))
    return windows


def _run_request(grain: Grain, start: datetime, end: datetime) -> dg.RunRequest:
    partitions_def = PARTITIONS[grain.name]
    first = partitions_def.get_partition_key_for_timestamp(start.timestamp())
    last = partitions_def.get_partition_key_for_timestamp((end - grain.length).timestamp())
    return dg.RunRequest(
        run_key=f"missed:{grain.name}:{first}:{last}",
        job_name=JOBS[grain.name].name,
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last, "stats/trigger": "missed_windows"},
    )
