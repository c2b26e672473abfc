"""Recomputing rollups for a range of windows: read once, compute with Polars, replace in one transaction.

No Dagster here, so the assets, the benchmarks and the tests run the very same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl
import psycopg
from psycopg import sql

from stats_platform.domain.blocks import WIDEST_SPAN
from stats_platform.domain.grains import DAILY, HOURLY, LENGTHS
from stats_platform.domain.instants import floor_to
from stats_platform.domain.rollups import MEMBER_STATS_COLUMNS, MEMBER_STATS_KEYS
from stats_platform.storage import blocks, warehouse
from stats_platform.storage.scripts import script, sql_script
from stats_platform.transforms import activity, voice
from stats_platform.transforms.common import TIMESTAMP


@dataclass(frozen=True)
class Rollups:
    snapshots: pl.DataFrame
    members: pl.DataFrame
    events_read: int
    checkpoint_at: list[datetime] = field(default_factory=list)
    """Hour starts in (start, end] other than midnights: the hourly grain checkpoints voice there."""
    checkpoints: pl.DataFrame | None = None
    """The sessions open at each of `checkpoint_at` (voice_checkpoints rows)."""


def compute_rollups(
    source: warehouse.Source,
    *,
    grain: str,
    start: datetime,
    end: datetime,
    covered_until: datetime,
    cap: timedelta,
) -> Rollups:
    """metrics_snapshots rows and member rows of every `grain` window in [start, end).

    It only reads, through `source`: an ArrowReader in the assets; the caller's connection where
    the reads must see what its open transaction wrote (voice checkpoints).
    """
    every = LENGTHS[grain]
    events = warehouse.read_events(
        source, start=start, end=end, received_before=covered_until
    ).collect()
    sessions = warehouse.load_voice_sessions(
        source, start=start, end=end, cap=cap, received_before=covered_until
    ).collect()
    voice_windows = voice.voice_by_window(
        sessions.lazy(), start=start, end=end, every=every, as_of=covered_until, cap=cap
    )
    members = activity.member_activity(events.lazy(), voice_windows, every=every)
    snapshots = activity.metrics_snapshots(events.lazy(), members, every=every)
    members_df, snapshots_df = pl.collect_all([members, snapshots])
    hours = _checkpoint_hours(grain, start, end)
    return Rollups(
        snapshots=snapshots_df,
        members=members_df,
        events_read=events.height,
        checkpoint_at=hours,
        checkpoints=_open_at_each(sessions, hours, cap) if hours else None,
    )


def _checkpoint_hours(grain: str, start: datetime, end: datetime) -> list[datetime]:
    """Where the hourly grain checkpoints voice: each hour end in (start, end] but midnights
    (the daily voice job's). A replay from the raw events then starts at most an hour back."""
    if grain != HOURLY.name:
        return []
    hour = HOURLY.length
    ends = (start + hour * i for i in range(1, (end - start) // hour + 1))
    return [at for at in ends if at != floor_to(at, DAILY.length)]


def write_rollups(
    conn: psycopg.Connection,
    rollups: Rollups,
    *,
    grain: str,
    start: datetime,
    end: datetime,
    covered_until: datetime,
) -> None:
    """Replaces the grain's rows and blocks in [start, end) and marks those windows computed, atomically."""
    with conn.transaction():
        _serialize_writers(conn, f"rollups:{grain}")
        warehouse.replace_window_rows(
            conn,
            "metrics_snapshots",
            period_type=grain,
            start=start,
            end=end,
            frame=rollups.snapshots,
        )
        # Member rows go in as one block per guild and window; the daily blocks are merged again
        # into the spans, from which lifetime totals (member_stats) are merged.
        blocks.replace_blocks(
            conn, period_type=grain, start=start, end=end, members=rollups.members
        )
        if grain == DAILY.name:
            blocks.rebuild_spans(conn, start=start, end=end)
        conn.execute(
            script(__file__, "upsert_computed_windows.sql"),
            {
                "period_type": grain,
                "start": start,
                "end": end,
                "every": LENGTHS[grain],
                "covered_until": covered_until,
            },
        )
        if rollups.checkpoints is not None:
            _replace_checkpoints(conn, rollups.checkpoint_at, rollups.checkpoints, covered_until)


def rebuild_voice_sessions(
    conn: psycopg.Connection,
    *,
    start: datetime,
    end: datetime,
    covered_until: datetime,
    cap: timedelta,
    reads: warehouse.Source | None = None,
) -> dict[str, int]:
    """Sessions that started in [start, end) (days) or were open at start, and the checkpoint at every midnight in (start, end].

    `reads` takes the read of the voice events (an ArrowReader in the asset); by default `conn`.
    """
    day = DAILY.length
    # Sessions last at most `cap`, so events up to `cap` after the range settle how they end.
    sessions = warehouse.load_voice_sessions(
        reads or conn,
        start=start,
        end=min(end + cap, covered_until),
        cap=cap,
        received_before=covered_until,
    ).collect()
    written = sessions.filter(pl.col("started_at") < end).with_columns(
        _settle_capped(covered_until, cap)
    )
    # Sessions opened on an earlier day (carried in at the checkpoint) were open, or capped for
    # want of a later event, when that day ran: this range's events say how they really ended.
    earlier = written.filter(pl.col("started_at") < start)
    midnights = [start + day * i for i in range(1, (end - start) // day + 1)]
    checkpoints = _open_at_each(sessions, midnights, cap)
    with conn.transaction():
        _replace_voice_rows(conn, start, end, written, earlier)
        _replace_checkpoints(conn, midnights, checkpoints, covered_until)
    return {
        "sessions": written.height - earlier.height,
        "earlier_sessions_rewritten": earlier.height,
        "checkpoints": len(midnights),
        "open_at_checkpoints": checkpoints.height,
    }


def _open_at_each(
    sessions: pl.DataFrame, midnights: list[datetime], cap: timedelta
) -> pl.DataFrame:
    """The checkpoint rows: the sessions open at each midnight."""
    return pl.concat(
        [
            voice.open_at(sessions.lazy(), at, cap=cap).with_columns(at=pl.lit(at).cast(TIMESTAMP))
            for at in midnights
        ]
        or [pl.LazyFrame(schema={**warehouse.CARRY_IN_SCHEMA, "at": TIMESTAMP})]
    ).collect()


def _replace_voice_rows(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    written: pl.DataFrame,
    earlier: pl.DataFrame,
) -> None:
    """Sessions of [start, end) replaced, inside the caller's transaction."""
    conn.execute(
        "DELETE FROM voice_sessions WHERE started_at >= %s AND started_at < %s", (start, end)
    )
    conn.execute(
        "DELETE FROM voice_sessions WHERE (guild_id, user_id, started_at) IN"
        " (SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[]))",
        [earlier[c].to_list() for c in ("guild_id", "user_id", "started_at")],
    )
    warehouse.copy_in(conn, "voice_sessions", written)


def _replace_checkpoints(
    conn: psycopg.Connection,
    at: list[datetime],
    checkpoints: pl.DataFrame,
    covered_until: datetime,
) -> None:
    """The checkpoints at these instants replaced and marked, inside the caller's transaction."""
    conn.execute("DELETE FROM voice_checkpoints WHERE at = ANY(%s)", (at,))
    warehouse.copy_in(conn, "voice_checkpoints", checkpoints)
    conn.execute(
        "INSERT INTO voice_checkpoint_marks (at, covered_until) SELECT unnest(%s::timestamptz[]), %s"
        " ON CONFLICT (at) DO UPDATE SET covered_until = EXCLUDED.covered_until, computed_at = now()",
        (at, covered_until),
    )


_UPSERT_MEMBER_STATS = sql_script(
    __file__,
    "upsert_member_stats.sql",
    columns=sql.SQL(", ").join(map(sql.Identifier, MEMBER_STATS_COLUMNS)),
    updates=sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
        for c in MEMBER_STATS_COLUMNS
        if c not in MEMBER_STATS_KEYS
    ),
)


def _serialize_writers(conn: psycopg.Connection, name: str) -> None:
    """A scheduled run and a late-data run may replace overlapping windows at once: one waits.

    Without this, two READ COMMITTED delete-then-insert transactions can both insert a window.
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))


def _settle_capped(covered_until: datetime, cap: timedelta) -> list[pl.Expr]:
    """A session whose cap has passed with no later event is over: record it as ended by the cap."""
    capped = pl.col("ended_at").is_null() & (pl.col("started_at") + cap <= covered_until)
    return [
        pl.when(capped)
        .then(pl.col("started_at") + cap)
        .otherwise(pl.col("ended_at"))
        .alias("ended_at"),
        pl.when(capped).then(pl.lit("cap")).otherwise(pl.col("end_reason")).alias("end_reason"),
    ]


def rebuild_member_stats(
    conn: psycopg.Connection, *, start: datetime, end: datetime, as_of: datetime, cap: timedelta
) -> int:
    """Lifetime totals of every member active in [start, end), merged again from their guild's
    widest span blocks.

    The daily blocks of [start, end) name the active members. Each widest span block is the
    merge of its days' daily blocks, so a guild's span blocks together hold every day it has,
    however long its history: a member's lifetime is the merge of their rows in them, a read
    of a few blocks per guild. Their latest voice comes from voice_sessions (written by the same
    daily job): a daily row's last_voice_at stops at its day's end, which is not a voice time of
    the member when the session runs on past the last computed day.
    """
    active = (
        blocks.read_blocks(conn, period_type=DAILY.name, start=start, end=end)
        .select("guild_id", "user_id")
        .unique()
    )
    spans = blocks.read_blocks(
        conn, period_type=WIDEST_SPAN.name, guild_ids=active["guild_id"].unique().to_list()
    )
    with conn.transaction():
        conn.execute(
            'CREATE TEMP TABLE active_members (guild_id text COLLATE "C", user_id text COLLATE "C")'
            " ON COMMIT DROP"
        )
        warehouse.copy_in(conn, "active_members", active)
        session_ends = warehouse.copy_out(
            conn,
            script(__file__, "select_member_last_voice.sql"),
            {"as_of": as_of, "cap": cap},
            LAST_VOICE_SCHEMA,
        ).with_columns(warehouse.ms_to_datetime("last_voice_at"))
        totals = activity.with_session_ends(
            activity.lifetime_member_stats(
                spans.lazy().join(active.lazy(), on=["guild_id", "user_id"], how="semi")
            ),
            session_ends.lazy(),
        ).collect()
        write_member_stats(conn, totals)
    return totals.height


LAST_VOICE_SCHEMA = {"guild_id": pl.String, "user_id": pl.String, "last_voice_at": pl.Int64}


def write_member_stats(conn: psycopg.Connection, totals: pl.DataFrame) -> None:
    """Upserts lifetime rows in one transaction, through a staging table filled by COPY."""
    with conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE member_stats_stage (LIKE member_stats INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        warehouse.copy_in(conn, "member_stats_stage", totals)
        conn.execute(_UPSERT_MEMBER_STATS)
        blocks.write_lifetime_blocks(conn, totals["guild_id"].unique().to_list())
