from datetime import timedelta

import dagster as dg

from stats_platform.defs.windows import covered_until_for, refuse_expired_window
from stats_platform.partitions import daily_partitions, five_minute_partitions, hourly_partitions
from stats_platform.pipeline import rollups
from stats_platform.resources import PipelineSettings, PostgresResource

# Each grain should be materialized about once per window; a 5-minute window is due within
# about a minute of closing (the run waits 45 s for the bot's batches), so two missed windows fail.
FRESHNESS = {
    "5min": dg.FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=15), warn_window=timedelta(minutes=10)
    ),
    "hourly": dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=2, minutes=10)),
    "daily": dg.FreshnessPolicy.time_window(fail_window=timedelta(days=1, hours=2)),
}

GRAIN_PARTITIONS = {
    "5min": five_minute_partitions,
    "hourly": hourly_partitions,
    "daily": daily_partitions,
}


def build_rollup_assets(grain: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    snapshots_key = f"metrics_snapshots_{grain}"
    members_key = f"member_activity_{grain}"

    @dg.multi_asset(
        name=f"rollups_{grain}",
        specs=[
            dg.AssetSpec(
                snapshots_key,
                deps=["events"],
                description=f"Per-guild totals, voice, distinct active users, joins and leaves per {grain} window.",
                kinds={"polars", "postgres"},
                freshness_policy=FRESHNESS[grain],
            ),
            dg.AssetSpec(
                members_key,
                deps=["events"],
                description=f"Per-member messages, voice, reactions and last activity per {grain} window.",
                kinds={"polars", "postgres"},
            ),
        ],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="rollups",
    )
    def _rollups(
        context: dg.AssetExecutionContext, postgres: PostgresResource, pipeline: PipelineSettings
    ):
        start, end = context.partition_time_window
        refuse_expired_window(start)
        covered_until = covered_until_for(end, pipeline)
        with postgres.connect() as conn:
            result = rollups.compute_rollups(
                conn,
                grain=grain,
                start=start,
                end=end,
                covered_until=covered_until,
                cap=pipeline.voice_cap,
            )
            rollups.write_rollups(
                conn, result, grain=grain, start=start, end=end, covered_until=covered_until
            )
        window = {
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "covered_until": covered_until.isoformat(),
        }
        yield dg.MaterializeResult(
            asset_key=snapshots_key,
            metadata={**window, "rows": result.snapshots.height, "events_read": result.events_read},
        )
        yield dg.MaterializeResult(
            asset_key=members_key, metadata={**window, "rows": result.members.height}
        )

    return _rollups


rollups_5min = build_rollup_assets("5min", five_minute_partitions)
rollups_hourly = build_rollup_assets("hourly", hourly_partitions)
rollups_daily = build_rollup_assets("daily", daily_partitions)
