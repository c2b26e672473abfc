"""The frames the engine passes between its parts: member rows and event counts per bucket.

`bucket` is the index of a bucket in the list asked for. The pipeline's transforms group by
guild; the engine reads one guild at a time, so it lends them the bucket as the guild
(BUCKET_AS_GUILD) and takes it back after (GUILD_AS_BUCKET).
"""

from __future__ import annotations

import polars as pl

from stats_platform.storage import warehouse

COUNT_COLUMNS = ["total_events", "total_messages", "total_reactions", "joins", "leaves"]
MEMBER_INSTANTS = ["first_join_at", "last_message_at", "last_voice_at", "last_seen"]
"""Instants of a member row; read as epoch ms, then cast to datetimes."""
MEMBER_SCHEMA = {
    "bucket": pl.Int64, "user_id": pl.String, "events": pl.Int64, "messages": pl.Int64,
    "reactions_given": pl.Int64, "reactions_received": pl.Int64, "voice_ms": pl.Int64,
    "joins": pl.Int64, "leaves": pl.Int64, "first_join_at": pl.Int64, "last_message_at": pl.Int64,
    "last_voice_at": pl.Int64, "last_seen": pl.Int64,
}  # fmt: skip
SNAPSHOT_SCHEMA = {"bucket": pl.Int64, **{c: pl.Int64 for c in COUNT_COLUMNS}}

BUCKET_AS_GUILD = pl.col("bucket").cast(pl.String).alias("guild_id")
GUILD_AS_BUCKET = pl.col("guild_id").cast(pl.Int64).alias("bucket")


def empty_members() -> pl.DataFrame:
    return pl.DataFrame(schema=MEMBER_SCHEMA).with_columns(
        warehouse.ms_to_datetime(*MEMBER_INSTANTS)
    )


def empty_counts() -> pl.DataFrame:
    return pl.DataFrame(schema=SNAPSHOT_SCHEMA)
