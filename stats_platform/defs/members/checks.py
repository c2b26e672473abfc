import dagster as dg
from psycopg import sql

from stats_platform.domain.grains import DAILY
from stats_platform.domain.rollups import LIFETIME_COUNTS, LIFETIME_FROM_MEMBER
from stats_platform.resources import PostgresResource
from stats_platform.storage import warehouse
from stats_platform.storage.scripts import sql_script

_SUMMED = {lifetime: member for member, lifetime in LIFETIME_FROM_MEMBER.items()}
MATCH_DAILY_SQL = sql_script(
    __file__,
    "check_member_stats_match_daily.sql",
    sums=sql.SQL(", ").join(
        sql.SQL("sum({}) AS {}").format(sql.Identifier(_SUMMED[total]), sql.Identifier(total))
        for total in LIFETIME_COUNTS
    ),
    daily_totals=warehouse.columns("d", LIFETIME_COUNTS),
    stored_totals=warehouse.columns("m", LIFETIME_COUNTS),
)
NEGATIVE_SQL = sql.SQL("SELECT count(*) FROM member_stats WHERE least({}) < 0").format(
    sql.SQL(", ").join(map(sql.Identifier, LIFETIME_COUNTS))
)


@dg.asset_check(
    asset="member_stats", description="Lifetime totals equal the sum of each member's daily rows."
)
def member_stats_matches_daily_rows(postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.connect() as conn:
        mismatched, members = conn.execute(MATCH_DAILY_SQL, {"grain": DAILY.name}).fetchone()  # type: ignore[misc]
    return dg.AssetCheckResult(
        passed=mismatched == 0, metadata={"members": members, "mismatched": mismatched}
    )


@dg.asset_check(asset="member_stats", description="No lifetime total is negative.")
def member_stats_non_negative(postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.connect() as conn:
        negative = conn.execute(NEGATIVE_SQL).fetchone()[0]  # type: ignore[index]
    return dg.AssetCheckResult(passed=negative == 0, metadata={"negative_rows": negative})
