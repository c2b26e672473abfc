"""Reading the rows the pipeline stored for the rollup windows a plan picked, summed per bucket."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import psycopg

from stats_api.engine.frames import COUNT_COLUMNS, MEMBER_INSTANTS, MEMBER_SCHEMA, SNAPSHOT_SCHEMA
from stats_api.engine.plan import BucketPlan, RollupWindow
from stats_platform.storage import warehouse
from stats_platform.storage.scripts import sql_script

MEMBER_ROWS_SQL = sql_script(
    __file__, "select_member_rows.sql", merged=warehouse.merged_member_columns("m")
)
SNAPSHOT_ROWS_SQL = sql_script(
    __file__,
    "select_snapshot_rows.sql",
    counts=warehouse.columns("s", COUNT_COLUMNS),
)
Pick = tuple[RollupWindow, int]
"""A window and the bucket its rows count for."""


def picks(plans: Sequence[BucketPlan]) -> list[Pick]:
    return [(w, i) for i, p in enumerate(plans) for w in p.windows]


def read_rollups(
    conn: psycopg.Connection, guild_id: str, plans: Sequence[BucketPlan]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Member rows and event counts of every picked window, summed per bucket (and member)."""
    chosen = picks(plans)
    members = read_member_rows(conn, guild_id, chosen)
    totals = warehouse.copy_out(conn, SNAPSHOT_ROWS_SQL, _params(guild_id, chosen), SNAPSHOT_SCHEMA)
    return members.with_columns(warehouse.ms_to_datetime(*MEMBER_INSTANTS)), totals


def read_member_rows(conn: psycopg.Connection, guild_id: str, chosen: list[Pick]) -> pl.DataFrame:
    """Member rows of the chosen windows, summed per bucket and member; instants as epoch ms."""
    return warehouse.copy_out(conn, MEMBER_ROWS_SQL, _params(guild_id, chosen), MEMBER_SCHEMA)


def _params(guild_id: str, chosen: list[Pick]) -> dict[str, object]:
    return {
        "guild_id": guild_id,
        "types": [w.grain for w, _ in chosen],
        "starts": [w.start for w, _ in chosen],
        "buckets": [i for _, i in chosen],
    }
