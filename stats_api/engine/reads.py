"""Exact activity for any set of buckets: rollup rows where they are usable, raw events elsewhere.

Numbers come from the same Polars transforms the pipeline runs (stats_platform.transforms), so a
bucket answered from raw events and one answered from rollups agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
import psycopg

from stats_api.engine import plan
from stats_api.engine.plan import BucketPlan, Span, Window
from stats_platform.domain.instants import floor_to
from stats_platform.storage import warehouse
from stats_platform.storage.scripts import script
from stats_platform.transforms import activity as transforms
from stats_platform.transforms import voice

# One window spanning every instant: raw spans are bucketed by a key column, not by time.
WHOLE_TIME = timedelta(days=365_000)
DAY = timedelta(days=1)
RawSpan = tuple[int, datetime, datetime]  # (bucket, start, end)
COUNT_COLUMNS = ["total_events", "total_messages", "total_reactions", "joins", "leaves"]
MEMBER_SCHEMA = {
    "bucket": pl.Int64, "user_id": pl.String, "events": pl.Int64, "messages": pl.Int64,
    "reactions_given": pl.Int64, "reactions_received": pl.Int64, "voice_ms": pl.Int64,
    "joins": pl.Int64, "leaves": pl.Int64, "first_join_at": pl.Int64, "last_message_at": pl.Int64,
    "last_voice_at": pl.Int64, "last_seen": pl.Int64,
}  # fmt: skip
SNAPSHOT_SCHEMA = {"bucket": pl.Int64, **{c: pl.Int64 for c in COUNT_COLUMNS}}
LATEST = ["first_join_at", "last_message_at", "last_voice_at", "last_seen"]


@dataclass(frozen=True)
class Activity:
    """Per bucket (index into the buckets asked for): totals, and one row per active member."""

    totals: pl.DataFrame
    members: pl.DataFrame
    resolution: str
    data_as_of: datetime | None


def _sql(name: str) -> str:
    return script(__file__, f"{name}.sql")


def activity(
    conn: psycopg.Connection,
    *,
    guild_id: str,
    buckets: list[Span],
    now: datetime,
    cap: timedelta,
    raw_horizon: datetime,
) -> Activity:
    clamped = [(start, min(end, now)) if start < now else (start, start) for start, end in buckets]
    plans, newest = _plan(
        conn, guild_id=guild_id, buckets=clamped, cap=cap, raw_horizon=raw_horizon
    )
    rollup_members, rollup_totals = _read_rollups(conn, guild_id, plans)
    raw_members, raw_totals, raw_newest = _compute_raw(conn, guild_id, plans, now=now, cap=cap)
    members = _combine(pl.concat([rollup_members, raw_members], how="vertical_relaxed"))
    totals = _totals(
        len(buckets), pl.concat([rollup_totals, raw_totals], how="vertical_relaxed"), members
    )
    as_of = max((t for t in (newest, raw_newest) if t is not None), default=None)
    return Activity(totals, members, plan.coarsest(p.resolution for p in plans), as_of)


@dataclass(frozen=True)
class _Computed:
    """A computed window as this guild sees it."""

    window: Window
    covered_until: datetime
    last_received_at: datetime | None
    last_voice_received_at: datetime | None

    @property
    def late(self) -> bool:
        return self.last_received_at is not None and self.last_received_at >= self.covered_until

    @property
    def late_voice(self) -> bool:
        return (
            self.last_voice_received_at is not None
            and self.last_voice_received_at >= self.covered_until
        )


def _plan(
    conn: psycopg.Connection,
    *,
    guild_id: str,
    buckets: list[Span],
    cap: timedelta,
    raw_horizon: datetime,
) -> tuple[list[BucketPlan], datetime | None]:
    """Coverage of the coarse grains first; 5-minute windows are looked up only inside the gaps."""
    span = (min(s for s, _ in buckets) - cap, max(e for _, e in buckets))
    computed = _computed(conn, guild_id, grains=["daily", "hourly"], spans=[span])
    plans = _plan_with(buckets, computed, cap, raw_horizon)
    gaps = [gap for p in plans for gap in p.raw] + [
        (w.start, w.end) for p in plans if p.resolution != "exact" for w in p.windows
    ]
    if gaps:
        computed += _computed(conn, guild_id, grains=["5min"], spans=gaps)
        plans = _plan_with(buckets, computed, cap, raw_horizon)
    by_window = {c.window: c for c in computed}
    arrivals = [by_window[w].last_received_at for p in plans for w in p.windows]
    return plans, max((a for a in arrivals if a is not None), default=None)


def _plan_with(
    buckets: list[Span], computed: list[_Computed], cap: timedelta, raw_horizon: datetime
) -> list[BucketPlan]:
    late_voice = [(c.window.start, c.window.end) for c in computed if c.late_voice]
    usable = {
        c.window for c in computed if not c.late and not plan.voice_stale(c.window, late_voice, cap)
    }
    return plan.plan(
        buckets, usable=usable, kept={c.window for c in computed}, raw_horizon=raw_horizon
    )


def _computed(
    conn: psycopg.Connection, guild_id: str, *, grains: list[str], spans: list[Span]
) -> list[_Computed]:
    rows = conn.execute(
        _sql("select_coverage"),
        {
            "guild_id": guild_id,
            "grains": grains,
            "starts": [s for s, _ in spans],
            "ends": [e for _, e in spans],
        },
    ).fetchall()
    return [_Computed(Window(grain, start), *rest) for grain, start, *rest in rows]


def _picks(plans: list[BucketPlan]) -> dict[str, list]:
    picks = [(w.grain, w.start, i) for i, p in enumerate(plans) for w in p.windows]
    return {
        "types": [g for g, _, _ in picks],
        "starts": [s for _, s, _ in picks],
        "buckets": [i for _, _, i in picks],
    }


def _read_rollups(
    conn: psycopg.Connection, guild_id: str, plans: list[BucketPlan]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    params = {"guild_id": guild_id, **_picks(plans)}
    members = warehouse.copy_out(conn, _sql("select_member_rows"), params, MEMBER_SCHEMA)
    totals = warehouse.copy_out(conn, _sql("select_snapshot_rows"), params, SNAPSHOT_SCHEMA)
    return members.with_columns(warehouse.ms_to_datetime(*LATEST)), totals


def _compute_raw(
    conn: psycopg.Connection,
    guild_id: str,
    plans: list[BucketPlan],
    *,
    now: datetime,
    cap: timedelta,
) -> tuple[pl.DataFrame, pl.DataFrame, datetime | None]:
    """Members and totals of every raw span, computed by the pipeline's transforms per bucket."""
    spans = [(i, start, end) for i, p in enumerate(plans) for start, end in p.raw if start < end]
    if not spans:
        return _empty_members(), pl.DataFrame(schema=SNAPSHOT_SCHEMA), None
    events = pl.concat(
        [
            warehouse.read_events(conn, start=start, end=end, guild_ids=[guild_id]).with_columns(
                bucket=pl.lit(i)
            )
            for i, start, end in spans
        ]
    ).collect()
    in_voice = pl.concat(
        [
            frame
            for group in _replay_groups(spans)
            for frame in _voice_by_span(conn, guild_id, group, now=now, cap=cap)
        ]
    )
    # The transforms group by guild; one guild is read here, so the bucket takes the guild's place.
    as_guild = pl.col("bucket").cast(pl.String).alias("guild_id")
    members = transforms.member_activity(
        events.lazy().with_columns(as_guild), in_voice.with_columns(as_guild), every=WHOLE_TIME
    )
    totals = transforms.metrics_snapshots(
        events.lazy().with_columns(as_guild), members, every=WHOLE_TIME
    )
    members_df, totals_df = pl.collect_all([members, totals])
    back = pl.col("guild_id").cast(pl.Int64).alias("bucket")
    newest = events["received_at"].max() if events.height else None
    return (
        members_df.with_columns(back).select(list(MEMBER_SCHEMA)),
        totals_df.select(back, *COUNT_COLUMNS),
        newest,  # type: ignore[return-value]
    )


def _replay_groups(spans: list[RawSpan]) -> list[list[RawSpan]]:
    """Raw spans in time order, split wherever a UTC midnight lies between them.

    Each group's voice is replayed from the latest checkpoint at or before its start; the raw
    spans at the two ends of a long period would otherwise replay every voice event between.
    """
    groups: list[list[RawSpan]] = []
    reach = None
    for span in sorted(spans, key=lambda s: s[1]):
        if reach is None or floor_to(span[1], DAY) >= reach:
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


def _empty_members() -> pl.DataFrame:
    return pl.DataFrame(schema=MEMBER_SCHEMA).with_columns(warehouse.ms_to_datetime(*LATEST))


def _combine(members: pl.DataFrame) -> pl.DataFrame:
    """One row per (bucket, user) over all the windows and spans that answered the bucket."""
    as_guild = members.rename({"bucket": "guild_id"}).with_columns(
        pl.col("guild_id").cast(pl.String)
    )
    combined = transforms.combine_members(as_guild.lazy()).collect()
    return combined.with_columns(pl.col("guild_id").cast(pl.Int64)).rename({"guild_id": "bucket"})


def _totals(n_buckets: int, counts: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """Every bucket, empty ones as zeros: event counts, voice and distinct active members."""
    people = members.group_by("bucket").agg(
        voice_ms=pl.col("voice_ms").sum(),
        unique_active_users=((pl.col("events") > 0) | (pl.col("voice_ms") > 0))
        .sum()
        .cast(pl.Int64),
    )
    summed = counts.group_by("bucket").agg(pl.col(COUNT_COLUMNS).sum())
    return (
        pl.DataFrame({"bucket": pl.int_range(n_buckets, eager=True, dtype=pl.Int64)})
        .join(summed, on="bucket", how="left")
        .join(people, on="bucket", how="left")
        .fill_null(0)
        .sort("bucket")
    )


LIFETIME_SCHEMA = {
    "user_id": pl.String, "total_messages": pl.Int64, "total_voice_ms": pl.Int64,
    "total_reactions_given": pl.Int64, "total_reactions_received": pl.Int64,
    "last_message_at": pl.Int64, "last_voice_at": pl.Int64, "last_seen": pl.Int64, "joined_at": pl.Int64,
}  # fmt: skip
TOTALS_FROM_ACTIVITY = {
    "messages": "total_messages",
    "voice_ms": "total_voice_ms",
    "reactions_given": "total_reactions_given",
    "reactions_received": "total_reactions_received",
    "first_join_at": "joined_at",
}


def lifetime_members(
    conn: psycopg.Connection, *, guild_id: str, now: datetime, cap: timedelta, raw_horizon: datetime
) -> pl.DataFrame:
    """Lifetime totals per member: member_stats, corrected for days it does not cover exactly.

    member_stats sums the daily rows. Days inside the raw retention whose daily window is not
    computed yet (today) or is stale (late events) are answered by `activity` instead; a stale
    day's old daily rows are taken out of the sums first.
    """
    stored = warehouse.copy_out(
        conn, _sql("select_member_stats"), {"guild_id": guild_id}, LIFETIME_SCHEMA
    )
    stored = stored.with_columns(
        warehouse.ms_to_datetime(*LIFETIME_SCHEMA.keys() - _COUNTS - {"user_id"})
    )
    day = timedelta(days=1)
    days = [
        (raw_horizon + day * i, raw_horizon + day * (i + 1))
        for i in range((now - raw_horizon) // day + 1)
    ]
    computed = {
        c.window.start: c
        for c in _computed(conn, guild_id, grains=["daily"], spans=[(days[0][0], days[-1][1])])
    }
    late_voice = [(c.window.start, c.window.end) for c in computed.values() if c.late_voice]
    redo = [
        span for span in days
        if span[0] not in computed or computed[span[0]].late or plan.voice_stale(computed[span[0]].window, late_voice, cap)
    ]  # fmt: skip
    if not redo:
        return stored
    fresh = activity(
        conn, guild_id=guild_id, buckets=redo, now=now, cap=cap, raw_horizon=raw_horizon
    ).members
    stale_days = [start for start, _ in redo if start in computed]
    old = warehouse.copy_out(
        conn, _sql("select_member_rows"),
        {"guild_id": guild_id, "types": ["daily"] * len(stale_days), "starts": stale_days, "buckets": [0] * len(stale_days)},
        MEMBER_SCHEMA,
    )  # fmt: skip
    return _apply_corrections(stored, fresh, old)


_COUNTS = {"total_messages", "total_voice_ms", "total_reactions_given", "total_reactions_received"}


def _apply_corrections(
    stored: pl.DataFrame, fresh: pl.DataFrame, old: pl.DataFrame
) -> pl.DataFrame:
    """stored + fresh - old per member; latest instants are the latest of stored and fresh."""

    def as_totals(frame: pl.DataFrame, sign: int) -> pl.LazyFrame:
        return frame.lazy().select(
            "user_id",
            *(
                pl.col(a).mul(sign).alias(t)
                for a, t in TOTALS_FROM_ACTIVITY.items()
                if t in _COUNTS
            ),
        )

    counts = (
        pl.concat(
            [stored.lazy().select("user_id", *_COUNTS), as_totals(fresh, 1), as_totals(old, -1)],
            how="diagonal_relaxed",
        )
        .group_by("user_id")
        .agg(pl.col(sorted(_COUNTS)).sum())
    )
    latest = (
        pl.concat([stored.lazy().select("user_id", "last_message_at", "last_voice_at", "last_seen", "joined_at"),
                   fresh.lazy().select("user_id", "last_message_at", "last_voice_at", "last_seen", pl.col("first_join_at").alias("joined_at"))],
                  how="vertical_relaxed")
        .group_by("user_id")
        .agg(pl.col("last_message_at", "last_voice_at", "last_seen").max(), pl.col("joined_at").min())
    )  # fmt: skip
    return counts.join(latest, on="user_id").select(list(LIFETIME_SCHEMA)).collect()
