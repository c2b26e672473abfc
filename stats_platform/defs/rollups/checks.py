from datetime import UTC, datetime, timedelta

import dagster as dg
from psycopg import sql

from stats_platform.domain.events import EventType
from stats_platform.domain.grains import DAILY, FIVE_MINUTES, HOURLY, Grain
from stats_platform.domain.rollups import SNAPSHOT_COUNTS
from stats_platform.resources import PostgresResource
from stats_platform.storage.scripts import script

TYPE_PARAMS = {
    "message": EventType.MESSAGE_CREATE,
    "reaction": EventType.MESSAGE_REACTION_ADD,
    "join": EventType.GUILD_MEMBER_ADD,
    "leave": EventType.GUILD_MEMBER_REMOVE,
}


@dg.asset_check(
    asset=FIVE_MINUTES.snapshots_asset,
    description="Totals of the last day's 5-minute windows equal counts from the raw events they cover.",
)
def metrics_snapshots_5min_matches_raw(postgres: PostgresResource) -> dg.AssetCheckResult:
    since = datetime.now(UTC) - timedelta(days=1)
    with postgres.connect() as conn:
        mismatched, compared = conn.execute(
            script(__file__, "check_snapshots_match_raw.sql"),
            {"since": since, "grain": FIVE_MINUTES.name, **TYPE_PARAMS},
        ).fetchone()  # type: ignore[misc]
    return dg.AssetCheckResult(
        passed=mismatched == 0,
        metadata={"windows_compared": compared, "mismatched_rows": mismatched},
    )


NEGATIVE_SQL = sql.SQL(
    "SELECT count(*) FROM metrics_snapshots WHERE period_type = %s AND least({}) < 0"
).format(sql.SQL(", ").join(map(sql.Identifier, SNAPSHOT_COUNTS)))


def build_non_negative_check(grain: Grain) -> dg.AssetChecksDefinition:
    asset = grain.snapshots_asset

    @dg.asset_check(
        asset=asset,
        name=f"{asset}_non_negative",
        description="No count or voice total is negative.",
    )
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        with postgres.connect() as conn:
            negative = conn.execute(NEGATIVE_SQL, (grain.name,)).fetchone()[0]  # type: ignore[index]
        return dg.AssetCheckResult(passed=negative == 0, metadata={"negative_rows": negative})

    return _check


metrics_snapshots_5min_non_negative = build_non_negative_check(FIVE_MINUTES)
metrics_snapshots_hourly_non_negative = build_non_negative_check(HOURLY)
metrics_snapshots_daily_non_negative = build_non_negative_check(DAILY)
