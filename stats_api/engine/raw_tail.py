"""Activity of the spans no usable rollup window covers, computed from the raw events.

The numbers come from the same Polars transforms the pipeline runs (stats_platform.transforms),
so a bucket answered from raw events and one answered from rollups agree by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import polars as pl
import psycopg
from psycopg import sql

from stats_api.engine.frames import (
    BUCKET_AS_GUILD,
    COUNT_COLUMNS,
    GUILD_AS_BUCKET,
    MEMBER_SCHEMA,
    READ_ENGINE,
    empty_counts,
    empty_members,
)
from stats_api.engine.plan import BucketPlan
from stats_platform.domain.events import EventType
from stats_platform.domain.grains import DAILY
from stats_platform.domain.instants import floor_to
from stats_platform.storage import warehouse
from stats_platform.storage.scripts import script
from stats_platform.transforms import activity as transforms
from stats_platform.transforms import voice

WHOLE_TIME = timedelta(days=365_000)
"""One window spanning every instant: raw spans are bucketed by a key column, not by time."""

RawSpan = tuple[int, datetime, datetime]  # (bucket, start, end)
SPAN_EVENTS_SQL = sql.SQL(script(__file__, "select_span_events.sql"))  # type: ignore[arg-type]
VOICE_REPLAY_SQL = sql.SQL(script(__file__, "select_voice_replays.sql"))  # type: ignore[arg-type]
SPAN_EVENT_SCHEMA = {**warehouse.EVENT_SCHEMA, "bucket": pl.Int64}
REPLAY_SCHEMA = {
    "replay": pl.Int64,
    "source": pl.Int64,  # 0: a session open at the checkpoint, 1: a voice event after it
    "user_id": pl.String,
    "channel_id": pl.String,
    "ts": pl.Int64,
    "seq": pl.Int64,
}


class RawActivity(NamedTuple):
    members: pl.DataFrame
    totals: pl.DataFrame
    newest_arrival: datetime | None


def raw_spans(plans: Sequence[BucketPlan]) -> list[RawSpan]:
    return [(i, start, end) for i, p in enumerate(plans) for start, end in p.raw if start < end]


def compute_raw(
    conn: psycopg.Connection,
    guild_id: str,
    plans: Sequence[BucketPlan],
    *,
    now: datetime,
    cap: timedelta,
) -> RawActivity:
    """Members and totals of every raw span, computed by the pipeline's transforms per bucket.

    Three statements whatever the number of spans (their events; each replay's checkpoint;
    what replays their voice), and no transform at all when the spans hold no event and nobody
    was in voice in them: the usual case of a small guild, whose raw spans are a few minutes at
    each end of the period.
    """
    spans = raw_spans(plans)
    if not spans:
        return RawActivity(empty_members(), empty_counts(), None)
    events = _read_events(conn, guild_id, spans)
    groups = replay_groups(spans)
    sessions = _replayed_sessions(conn, guild_id, groups, cap=cap)
    if events.height == 0 and sessions.height == 0:
        return RawActivity(empty_members(), empty_counts(), None)
    in_voice = pl.concat(
        [
            voice.voice_by_window(
                sessions.lazy().filter(pl.col("guild_id") == str(replay)),
                start=start, end=end, every=WHOLE_TIME, as_of=now, cap=cap,
            ).with_columns(bucket=pl.lit(i))
            for replay, group in enumerate(groups)
            for i, start, end in group
        ]
    )  # fmt: skip
    members = transforms.member_activity(
        events.lazy().with_columns(BUCKET_AS_GUILD),
        in_voice.with_columns(BUCKET_AS_GUILD),
        every=WHOLE_TIME,
    )
    totals = transforms.metrics_snapshots(
        events.lazy().with_columns(BUCKET_AS_GUILD), members, every=WHOLE_TIME
    )
    members_df, totals_df = pl.collect_all([members, totals], engine=READ_ENGINE)
    return RawActivity(
        members_df.with_columns(GUILD_AS_BUCKET).select(list(MEMBER_SCHEMA)),
        totals_df.select(GUILD_AS_BUCKET, *COUNT_COLUMNS),
        events["received_at"].max() if events.height else None,  # type: ignore[arg-type]
    )


def _read_events(conn: psycopg.Connection, guild_id: str, spans: list[RawSpan]) -> pl.DataFrame:
    """The guild's events in every span, each tagged with its span's bucket (one COPY)."""
    branches = [
        {
            "bucket": bucket,
            "guild_id": guild_id,
            "start": start,
            "end": end,
            "reaction_type": EventType.MESSAGE_REACTION_ADD,
        }
        for bucket, start, end in spans
    ]
    frame = warehouse.select_or_copy(conn, _union(SPAN_EVENTS_SQL, branches), [], SPAN_EVENT_SCHEMA)
    return frame.with_columns(warehouse.ms_to_datetime("ts", "received_at"))


def _union(branch: sql.SQL, values: list[dict[str, object]]) -> sql.Composed:
    """One SELECT per dict, its values written in as literals, joined with UNION ALL."""
    return sql.SQL(" UNION ALL ").join(
        branch.format(**{name: sql.Literal(value) for name, value in one.items()}) for one in values
    )


def replay_groups(spans: list[RawSpan]) -> list[list[RawSpan]]:
    """Raw spans in time order, split wherever a UTC midnight lies between them.

    Each group's voice is replayed from the latest checkpoint at or before its start (the
    pipeline checkpoints voice at every UTC midnight, the daily grain's boundaries); the raw
    spans at the two ends of a long period would otherwise replay every voice event between.
    """
    groups: list[list[RawSpan]] = []
    reach = None
    for span in sorted(spans, key=lambda s: s[1]):
        if reach is None or floor_to(span[1], DAILY.length) >= reach:
            groups.append([])
        groups[-1].append(span)
        reach = span[2] if reach is None else max(reach, span[2])
    return groups


def _replayed_sessions(
    conn: psycopg.Connection, guild_id: str, groups: list[list[RawSpan]], *, cap: timedelta
) -> pl.DataFrame:
    """The sessions overlapping each group of spans, each group replayed from its own latest
    checkpoint (warehouse.load_voice_sessions's rule), in two reads and one sessionize: the
    group's index stands in for the guild (the guild is one), so replays never mix.
    """
    starts = [min(s for _, s, _ in group) for group in groups]
    checkpoints = warehouse.latest_checkpoints(conn, starts, [guild_id])
    replays = [
        {
            "replay": replay,
            "guild_id": guild_id,
            "voice_type": EventType.VOICE_STATE_UPDATE.value,
            # No checkpoint: from the first event kept (and no session carried in).
            "checkpoint": checkpoint or datetime.min.replace(tzinfo=UTC),
            "end": max(e for _, _, e in group),
        }
        for replay, (checkpoint, group) in enumerate(zip(checkpoints, groups, strict=True))
    ]
    rows = warehouse.select_or_copy(conn, _union(VOICE_REPLAY_SQL, replays), [], REPLAY_SCHEMA)
    if rows.height == 0:
        return voice.empty_sessions()
    replay = pl.col("replay").cast(pl.String).alias("guild_id")
    carry_in = rows.filter(pl.col("source") == 0).select(
        replay, "user_id", "channel_id", pl.col("ts").alias("started_at")
    )
    events = rows.filter(pl.col("source") == 1).select(replay, "user_id", "channel_id", "ts", "seq")
    carry_in = carry_in.with_columns(warehouse.ms_to_datetime("started_at"))
    if events.height == 0:
        return voice.open_sessions(carry_in)
    return voice.sessionize(
        events.lazy().with_columns(warehouse.ms_to_datetime("ts")),
        carry_in.lazy(),
        cap=cap,
        engine=READ_ENGINE,
    ).collect(engine=READ_ENGINE)
