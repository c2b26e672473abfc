import dagster as dg
import polars as pl
from psycopg import sql

from stats_platform.domain.blocks import WIDEST_SPAN
from stats_platform.domain.rollups import LIFETIME_COUNTS, MEMBER_STATS_KEYS
from stats_platform.resources import PostgresResource
from stats_platform.storage import blocks, warehouse
from stats_platform.transforms import activity

STORED_COLUMNS = (*MEMBER_STATS_KEYS, *LIFETIME_COUNTS)
STORED_SQL = sql.SQL("SELECT {} FROM member_stats m").format(warehouse.columns("m", STORED_COLUMNS))
STORED_SCHEMA = {c: pl.String if c in MEMBER_STATS_KEYS else pl.Int64 for c in STORED_COLUMNS}
NEGATIVE_SQL = sql.SQL("SELECT count(*) FROM member_stats WHERE least({}) < 0").format(
    sql.SQL(", ").join(map(sql.Identifier, LIFETIME_COUNTS))
)


def count_mismatched(merged: pl.DataFrame, stored: pl.DataFrame) -> tuple[int, int]:
    """(members whose stored totals differ from the merged ones or exist on one side only, members)."""
    both = merged.join(stored, on=MEMBER_STATS_KEYS, how="full", coalesce=True, suffix="_stored")
    differs = pl.any_horizontal(
        pl.col(c).ne_missing(pl.col(f"{c}_stored")) for c in LIFETIME_COUNTS
    )
    return both.filter(differs).height, both.height


@dg.asset_check(
    asset="member_stats",
    description="Lifetime totals equal the merge of each member's rows in the span blocks.",
)
def member_stats_matches_blocks(postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.connect() as conn:
        spans = blocks.read_blocks(conn, period_type=WIDEST_SPAN.name)
        stored = warehouse.copy_out(conn, STORED_SQL, (), STORED_SCHEMA)
    merged = activity.lifetime_member_stats(spans.lazy()).select(STORED_COLUMNS).collect()
    mismatched, members = count_mismatched(merged, stored)
    return dg.AssetCheckResult(
        passed=mismatched == 0, metadata={"members": members, "mismatched": mismatched}
    )


@dg.asset_check(asset="member_stats", description="No lifetime total is negative.")
def member_stats_non_negative(postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.connect() as conn:
        negative = conn.execute(NEGATIVE_SQL).fetchone()[0]  # type: ignore[index]
    return dg.AssetCheckResult(passed=negative == 0, metadata={"negative_rows": negative})
