"""Reading what the pipeline stored for the windows a plan picked: member blocks and event counts.

Member rows come as one block per picked window (a span of days is one block), merged per
bucket and member by the caller; event counts from the picked windows' snapshot rows, a span's
from its days.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import psycopg

from stats_api.engine.frames import COUNT_COLUMNS, PEOPLE_COLUMNS, SNAPSHOT_SCHEMA
from stats_api.engine.plan import BucketPlan, RollupWindow
from stats_platform.storage import blocks, warehouse
from stats_platform.storage.scripts import sql_script

SNAPSHOT_ROWS_SQL = sql_script(
    __file__,
    "select_snapshot_rows.sql",
    counts=warehouse.columns("s", COUNT_COLUMNS + PEOPLE_COLUMNS),
)
Pick = tuple[RollupWindow, int]
"""A window and the bucket its rows count for."""


def picks(plans: Sequence[BucketPlan]) -> list[Pick]:
    return [(w, i) for i, p in enumerate(plans) for w in p.windows]


def read_rollups(
    conn: psycopg.Connection,
    guild_id: str,
    plans: Sequence[BucketPlan],
    *,
    without_members: frozenset[int] = frozenset(),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Member rows of every picked window tagged with its bucket (none for the buckets
    `without_members`), and its snapshot rows."""
    chosen = picks(plans)
    members = read_member_blocks(conn, guild_id, [p for p in chosen if p[1] not in without_members])
    by_day = [(day, bucket) for window, bucket in chosen for day in window.days()]
    # At most a row per picked day or window: few enough to fetch as rows.
    totals = warehouse.select_frame(
        conn, SNAPSHOT_ROWS_SQL, _params(guild_id, by_day), SNAPSHOT_SCHEMA
    )
    return members, totals


def read_member_blocks(conn: psycopg.Connection, guild_id: str, chosen: list[Pick]) -> pl.DataFrame:
    """Member rows of the chosen windows' blocks, one row per window and member, with the bucket."""
    return blocks.read_picked(conn, guild_id, [(w.grain, w.start, i) for w, i in chosen])


def _params(guild_id: str, chosen: list[Pick]) -> dict[str, object]:
    return {
        "guild_id": guild_id,
        "types": [w.grain for w, _ in chosen],
        "starts": [w.start for w, _ in chosen],
        "buckets": [i for _, i in chosen],
    }
