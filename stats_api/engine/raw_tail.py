"""Activity of the spans no usable rollup window covers, computed from the raw events.

The numbers come from the same Polars transforms the pipeline runs (stats_platform.transforms),
so a bucket answered from raw events and one answered from rollups agree by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

import polars as pl
import psycopg

from stats_api.engine.frames import (
    BUCKET_AS_GUILD,
    COUNT_COLUMNS,
    GUILD_AS_BUCKET,
    MEMBER_SCHEMA,
    empty_counts,
    empty_members,
)
from stats_api.engine.plan import BucketPlan
from stats_platform.domain.grains import DAILY
from stats_platform.domain.instants import floor_to
from stats_platform.storage import warehouse
from stats_platform.transforms import activity as transforms
from stats_platform.transforms import voice

WHOLE_TIME = timedelta(days=365_000)
"""One window spanning every instant: raw spans are bucketed by a key column, not by time."""

RawSpan = tuple[int, datetime, datetime]  # (bucket, start, end)


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
    """Members and totals of every raw span, computed by the pipeline's transforms per bucket."""
    spans = raw_spans(plans)
    if not spans:
        return RawActivity(empty_members(), empty_counts(), None)
    events = _read_events(conn, guild_id, spans)
    in_voice = pl.concat(
        [
            frame
            for group in replay_groups(spans)
            for frame in _voice_by_span(conn, guild_id, group, now=now, cap=cap)
        ]
    )
    members = transforms.member_activity(
        events.lazy().with_columns(BUCKET_AS_GUILD),
        in_voice.with_columns(BUCKET_AS_GUILD),
        every=WHOLE_TIME,
    )
    totals = transforms.metrics_snapshots(
        events.lazy().with_columns(BUCKET_AS_GUILD), members, every=WHOLE_TIME
    )
    members_df, totals_df = pl.collect_all([members, totals])
    return RawActivity(
        members_df.with_columns(GUILD_AS_BUCKET).select(list(MEMBER_SCHEMA)),
        totals_df.select(GUILD_AS_BUCKET, *COUNT_COLUMNS),
        events["received_at"].max() if events.height else None,  # type: ignore[arg-type]
    )


def _read_events(conn: psycopg.Connection, guild_id: str, spans: list[RawSpan]) -> pl.DataFrame:
    """The guild's events in every span, each tagged with its span's bucket."""
    return pl.concat(
        [
            warehouse.read_events(conn, start=start, end=end, guild_ids=[guild_id]).with_columns(
                bucket=pl.lit(i)
            )
            for i, start, end in spans
        ]
    ).collect()


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


def _voice_by_span(
    conn: psycopg.Connection,
    guild_id: str,
    group: list[RawSpan],
    *,
    now: datetime,
    cap: timedelta,
) -> list[pl.LazyFrame]:
    """Voice per member in each span of a group, from one replay of the sessions overlapping them."""
    sessions = warehouse.load_voice_sessions(
        conn,
        start=min(s for _, s, _ in group),
        end=max(e for _, _, e in group),
        cap=cap,
        guild_ids=[guild_id],
    ).collect()
    return [
        voice.voice_by_window(
            sessions.lazy(), start=start, end=end, every=WHOLE_TIME, as_of=now, cap=cap
        ).with_columns(bucket=pl.lit(i))
        for i, start, end in group
    ]
