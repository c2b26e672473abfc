import dagster as dg

from stats_platform.resources import PostgresResource
from stats_platform.storage.scripts import script


@dg.asset_check(
    asset="member_stats", description="Lifetime totals equal the sum of each member's daily rows."
)
def member_stats_matches_daily_rows(postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.connect() as conn:
        mismatched, members = conn.execute(
            script(__file__, "check_member_stats_match_daily.sql")
        ).fetchone()  # type: ignore[misc]
    return dg.AssetCheckResult(
        passed=mismatched == 0, metadata={"members": members, "mismatched": mismatched}
    )


@dg.asset_check(asset="member_stats", description="No lifetime total is negative.")
def member_stats_non_negative(postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.connect() as conn:
        negative = conn.execute(
            "SELECT count(*) FROM member_stats WHERE least(total_messages, total_voice_ms,"
            " total_reactions_given, total_reactions_received) < 0"
        ).fetchone()[0]  # type: ignore[index]
    return dg.AssetCheckResult(passed=negative == 0, metadata={"negative_rows": negative})
