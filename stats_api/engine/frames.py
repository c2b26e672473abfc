"""The frames the engine passes between its parts: member rows and event counts per bucket.

`bucket` is the index of a bucket in the list asked for. The pipeline's transforms group by
guild; the engine reads one guild at a time, so it lends them the bucket as the guild
(BUCKET_AS_GUILD) and takes it back after (GUILD_AS_BUCKET).
"""

from __future__ import annotations

import polars as pl

from stats_platform.domain.rollups import SNAPSHOT_EVENT_COUNTS, SNAPSHOT_FROM_MEMBERS
from stats_platform.storage import blocks

COUNT_COLUMNS = list(SNAPSHOT_EVENT_COUNTS)
PEOPLE_COLUMNS = list(SNAPSHOT_FROM_MEMBERS)
MEMBER_SCHEMA = {"bucket": pl.Int64, **blocks.MEMBER_BLOCK_SCHEMA}
"""A member's activity in a bucket: what a block holds, tagged with the bucket."""
SNAPSHOT_SCHEMA = {"bucket": pl.Int64, **{c: pl.Int64 for c in COUNT_COLUMNS + PEOPLE_COLUMNS}}
"""A picked window's snapshot row: event counts, and the people of that window alone."""

READ_ENGINE = pl.InMemoryEngine()
"""The engine of the answers' Polars queries. Their frames are small (a raw tail of minutes, a
period's member rows), and on small frames the default (streaming) engine costs a fixed 3-4 ms
a query to set up: a median guild's raw tail took 10.3 ms to collect, 4.9 ms in memory, and its
sessionize 4.3 ms, 0.9 ms in memory. A big guild's month of member rows (600k) combines as fast."""

BUCKET_AS_GUILD = pl.col("bucket").cast(pl.String).alias("guild_id")
GUILD_AS_BUCKET = pl.col("guild_id").cast(pl.Int64).alias("bucket")


def empty_members() -> pl.DataFrame:
    return pl.DataFrame(schema=MEMBER_SCHEMA)


def empty_counts() -> pl.DataFrame:
    return pl.DataFrame(schema=SNAPSHOT_SCHEMA)
