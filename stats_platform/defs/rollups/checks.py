from datetime import UTC, datetime, timedelta

import dagster as dg

from stats_platform.resources import PostgresResource
from stats_platform.storage.scripts import script


@dg.asset_check(
    asset="metrics_snapshots_5min",
    description="Totals of the last day's 5-minute windows equal counts from the raw events they cover.",
)
def metrics_snapshots_5min_matches_raw(postgres: PostgresResource) -> dg.AssetCheckResult:
    since = datetime.now(UTC) - timedelta(days=1)
    with postgres.connect() as conn:
        mismatched, compared = conn.execute(
            script(__file__, "check_snapshots_match_raw.sql"), {"since": since}
        ).fetchone()  # type: ignore[misc]
    return dg.AssetCheckResult(
        passed=mismatched == 0,
        metadata={"windows_compared": compared, "mismatched_rows": mismatched},
    )


def build_non_negative_check(grain: str) -> dg.AssetChecksDefinition:
    asset = f"metrics_snapshots_{grain}"

    @dg.asset_check(
        asset=asset,
        name=f"{asset}_non_negative",
        description="No count or voice total is negative.",
    )
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        with postgres.connect() as conn:
            negative = conn.execute(
                "SELECT count(*) FROM metrics_snapshots WHERE period_type = %s AND least("
                "total_events, total_messages, total_reactions, voice_ms, unique_active_users, joins, leaves) < 0",
                (grain,),
            ).fetchone()[0]  # type: ignore[index]
        return dg.AssetCheckResult(passed=negative == 0, metadata={"negative_rows": negative})

    return _check


metrics_snapshots_5min_non_negative = build_non_negative_check("5min")
metrics_snapshots_hourly_non_negative = build_non_negative_check("hourly")
metrics_snapshots_daily_non_negative = build_non_negative_check("daily")
