import dagster as dg

from stats_platform.defs.windows import covered_until_for, refuse_expired_window
from stats_platform.domain.grains import DAILY, FIVE_MINUTES, HOURLY, Grain
from stats_platform.partitions import PARTITIONS
from stats_platform.pipeline import rollups
from stats_platform.resources import PipelineSettings, PostgresResource


def _specs(grain: Grain) -> list[dg.AssetSpec]:
    freshness = dg.FreshnessPolicy.time_window(
        fail_window=grain.freshness_fail, warn_window=grain.freshness_warn
    )
    return [
        dg.AssetSpec(
            grain.snapshots_asset,
            deps=["events"],
            description=f"Per-guild totals, voice, distinct active users, joins and leaves per {grain.name} window.",
            kinds={"polars", "postgres"},
            freshness_policy=freshness,
        ),
        dg.AssetSpec(
            grain.members_asset,
            deps=["events"],
            description=f"Per-member messages, voice, reactions and last activity per {grain.name} window.",
            kinds={"polars", "postgres"},
        ),
    ]


def build_rollup_assets(grain: Grain) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=grain.rollups_asset,
        specs=_specs(grain),
        partitions_def=PARTITIONS[grain.name],
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="rollups",
    )
    def _rollups(
        context: dg.AssetExecutionContext, postgres: PostgresResource, pipeline: PipelineSettings
    ):
        start, end = context.partition_time_window
        refuse_expired_window(start)
        covered_until = covered_until_for(end, pipeline)
        window = {"grain": grain.name, "start": start, "end": end, "covered_until": covered_until}
        with postgres.arrow_reader() as reader:
            result = rollups.compute_rollups(reader, **window, cap=pipeline.voice_cap)
        with postgres.connect() as conn:
            rollups.write_rollups(conn, result, **window)
        bounds = {
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "covered_until": covered_until.isoformat(),
        }
        yield dg.MaterializeResult(
            asset_key=grain.snapshots_asset,
            metadata={**bounds, "rows": result.snapshots.height, "events_read": result.events_read},
        )
        yield dg.MaterializeResult(
            asset_key=grain.members_asset, metadata={**bounds, "rows": result.members.height}
        )

    return _rollups


rollups_5min = build_rollup_assets(FIVE_MINUTES)
rollups_hourly = build_rollup_assets(HOURLY)
rollups_daily = build_rollup_assets(DAILY)
