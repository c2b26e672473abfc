"""Voice sessions rebuilt from VOICE_STATE_UPDATE events (contract §2) and their time per window.

A replay takes the events of each (guild, user) in (ts, seq) order. Consecutive events with the
same non-null channel form a *run*; a run's first event always opens a session (nothing is open
before it, or the previous session is closed by it). Inside a run nothing changes (mute, deafen)
until the cap: the first event at or after `started_at + cap` finds the session ended at the cap
and opens a new one. The event after a run closes the run's last session: a null channel is a
`leave`, another channel a `move`; if that event comes after `started_at + cap`, the session
already ended at the cap. Sessions opened and closed in the same millisecond (ties broken by
seq) have no length and are not emitted, so `(guild_id, user_id, started_at)` stays unique.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from polars._typing import EngineType

from stats_platform.transforms.common import (
    TIMESTAMP,
    duration_ms,
    epoch_ms,
    epoch_ms_of,
    from_epoch_ms,
    instant,
)

SESSION_COLUMNS = ["guild_id", "user_id", "channel_id", "started_at", "ended_at", "end_reason"]
CARRY_IN_COLUMNS = ["guild_id", "user_id", "channel_id", "started_at"]
SESSION_SCHEMA: dict[str, Any] = {
    "guild_id": pl.String,
    "user_id": pl.String,
    "channel_id": pl.String,
    "started_at": TIMESTAMP,
    "ended_at": TIMESTAMP,
    "end_reason": pl.String,
}
"""What `sessionize` returns, column by column."""


def empty_sessions() -> pl.DataFrame:
    """No session: what `sessionize` makes of no event and nothing carried in."""
    return pl.DataFrame(schema=SESSION_SCHEMA)


def open_sessions(carry_in: pl.DataFrame) -> pl.DataFrame:
    """What `sessionize` makes of no event: every carried-in session, still open.

    Without the replay's sort and split (a few ms of Polars even for a handful of rows): the
    stats API's raw spans of a quiet guild have sessions carried in and often no voice event.
    """
    return carry_in.select(
        pl.col("guild_id", "user_id", "channel_id").cast(pl.String),
        pl.col("started_at").cast(TIMESTAMP),
        ended_at=pl.lit(None, TIMESTAMP),
        end_reason=pl.lit(None, pl.String),
    )


def _same_user(offset: int) -> pl.Expr:
    """The row `offset` rows away belongs to the same (guild, user) in the sorted replay."""
    return (
        (pl.col("guild_id").shift(offset) == pl.col("guild_id"))
        & (pl.col("user_id").shift(offset) == pl.col("user_id"))
    ).fill_null(False)


def _same_channel(offset: int) -> pl.Expr:
    return (pl.col("channel_id").shift(offset) == pl.col("channel_id")).fill_null(False)


def _replay_rows(
    voice_events: pl.LazyFrame, carry_in: pl.LazyFrame, cap: timedelta
) -> pl.LazyFrame:
    """Carry-in and events in replay order, each event marked with its run."""
    ids = pl.col("guild_id", "user_id", "channel_id").cast(pl.String)
    events = voice_events.filter(pl.col("user_id").is_not_null()).select(
        ids,
        pl.col("ts").cast(TIMESTAMP),
        pl.lit(1, pl.Int8).alias("source"),
        pl.col("seq").cast(pl.Int64),
    )
    # A carried session is an opening event at its started_at, replayed before any event of
    # the same millisecond.
    carried = carry_in.select(
        ids,
        pl.col("started_at").cast(TIMESTAMP).alias("ts"),
        pl.lit(0, pl.Int8).alias("source"),
        pl.lit(None, pl.Int64).alias("seq"),
    )
    in_run = pl.col("channel_id").is_not_null()
    new_run = in_run & ~(_same_user(1) & _same_channel(1))
    run_last = in_run & ~(_same_user(-1) & _same_channel(-1))
    return (
        pl.concat([carried, events])
        .sort("guild_id", "user_id", "ts", "source", "seq")
        .with_row_index("row")
        .with_columns(
            in_run=in_run,
            run_id=new_run.cum_sum(),
            run_start=pl.when(new_run).then(pl.col("ts")).forward_fill(),
            run_end=pl.when(run_last).then(pl.col("ts")).backward_fill(),
        )
        .with_columns(long_run=pl.col("in_run") & (pl.col("run_end") >= pl.col("run_start") + cap))
    )


def _split_long_runs(long_rows: pl.DataFrame, cap: timedelta) -> pl.DataFrame:
    """Session start of every row of runs that outlast the cap, one cap generation per pass.

    All rows of a run still being split share one start; the first of them at or after
    start + cap opens the next session. Each pass settles at least that row, so the loop ends
    after as many passes as the longest run has sessions.
    """
    settled = [long_rows.clear().select("row", "started_at")]
    active = long_rows
    while active.height:
        beyond = pl.col("ts") >= pl.col("started_at") + cap
        settled.append(active.filter(~beyond).select("row", "started_at"))
        active = active.filter(beyond).with_columns(started_at=pl.col("ts").min().over("run_id"))
    return pl.concat(settled, how="vertical")


def _session_end(cap: timedelta) -> tuple[pl.Expr, pl.Expr]:
    capped_at = pl.col("started_at") + cap
    no_next = ~_same_user(-1)
    capped = _same_channel(-1) | (pl.col("ts").shift(-1) > capped_at)
    ended_at = (
        pl.when(no_next)
        .then(pl.lit(None, TIMESTAMP))
        .when(capped)
        .then(capped_at)
        .otherwise(pl.col("ts").shift(-1))
    )
    end_reason = (
        pl.when(no_next)
        .then(pl.lit(None, pl.String))
        .when(capped)
        .then(pl.lit("cap"))
        .when(pl.col("channel_id").shift(-1).is_null())
        .then(pl.lit("leave"))
        .otherwise(pl.lit("move"))
    )
    return ended_at, end_reason


def sessionize(
    voice_events: pl.LazyFrame,
    carry_in: pl.LazyFrame,
    *,
    cap: timedelta,
    engine: pl.Engine | EngineType = "auto",
) -> pl.LazyFrame:
    """Voice sessions of the events replayed from `carry_in` (sessions open at the replay start).

    Returns guild_id, user_id, channel_id, started_at, ended_at (null while still open after
    the last event), end_reason ("leave" | "move" | "cap" | null while open). The replay rows
    are materialized once (one sort): splitting runs longer than the cap is a loop over cap
    generations, not rows, and it needs their values. `engine` runs that materialization.
    """
    duration_ms(cap)
    rows = _replay_rows(voice_events, carry_in, cap).collect(engine=engine)
    splits = _split_long_runs(
        rows.filter("long_run").select(
            "row", "run_id", "ts", pl.col("run_start").alias("started_at")
        ),
        cap,
    )
    started_at = rows["run_start"].scatter(splits["row"], splits["started_at"])
    ended_at, end_reason = _session_end(cap)
    session_last = pl.col("in_run") & ~(
        _same_user(-1)
        & _same_channel(-1)
        & (pl.col("started_at").shift(-1) == pl.col("started_at")).fill_null(False)
    )
    return (
        rows.lazy()
        .with_columns(started_at=pl.lit(started_at))
        .with_columns(session_last=session_last, ended_at=ended_at, end_reason=end_reason)
        .filter(
            pl.col("session_last")
            & (pl.col("ended_at").is_null() | (pl.col("ended_at") > pl.col("started_at")))
        )
        .select(SESSION_COLUMNS)
    )


def open_at(sessions: pl.LazyFrame, at: datetime, *, cap: timedelta) -> pl.LazyFrame:
    """Carry-in at `at`: the sessions a replay has open once every event before `at` is seen.

    That is started_at < at, not ended before `at` (ended_at null or >= at) and cap not expired
    before `at` (started_at + cap >= at). A replay of the events with ts >= at from this carry-in
    reproduces every session of a full replay that is open at `at` or starts at or after it:
    a session opened exactly at `at` is left out because its opening event is replayed, and one
    ending exactly at `at` is carried so the replayed closing event gives it its true end and
    reason. A session whose cap expired before `at` is not carried; wherever its ended_at is
    still null, its effective end is started_at + cap, so every number stays the same.
    """
    moment = instant(at)
    return sessions.filter(
        (pl.col("started_at") < moment)
        & (pl.col("ended_at").is_null() | (pl.col("ended_at") >= moment))
        & (pl.col("started_at") + cap >= moment)
    ).select(CARRY_IN_COLUMNS)


def voice_by_window(
    sessions: pl.LazyFrame,
    *,
    start: datetime,
    end: datetime,
    every: timedelta,
    as_of: datetime,
    cap: timedelta,
) -> pl.LazyFrame:
    """Voice time per (guild, user, epoch-aligned window of `every`) inside [start, end).

    A session counts from started_at to coalesce(ended_at, started_at + cap), never past
    `as_of` (the moment of computation). Returns guild_id, user_id, window_start, voice_ms,
    last_voice_at (latest instant of voice in that window); only windows with voice time.
    """
    step = duration_ms(every)
    begin = pl.max_horizontal(epoch_ms("started_at"), epoch_ms_of(start))
    finish = pl.min_horizontal(
        pl.coalesce(epoch_ms("ended_at"), epoch_ms("started_at") + duration_ms(cap)),
        epoch_ms_of(as_of),
        epoch_ms_of(end),
    )
    window = pl.col("bucket") * step
    return (
        sessions.select("guild_id", "user_id", begin.alias("begin"), finish.alias("finish"))
        .filter(pl.col("finish") > pl.col("begin"))
        .with_columns(
            bucket=pl.int_ranges(
                pl.col("begin").floordiv(step), (pl.col("finish") - 1).floordiv(step) + 1
            )
        )
        .explode("bucket")
        .with_columns(
            window=window,
            piece_end=pl.min_horizontal("finish", window + step),
            piece_start=pl.max_horizontal("begin", window),
        )
        .group_by("guild_id", "user_id", "window")
        .agg(
            voice_ms=(pl.col("piece_end") - pl.col("piece_start")).sum().cast(pl.Int64),
            last_voice_at=pl.col("piece_end").max(),
        )
        .select(
            "guild_id",
            "user_id",
            from_epoch_ms(pl.col("window")).alias("window_start"),
            "voice_ms",
            from_epoch_ms(pl.col("last_voice_at")).alias("last_voice_at"),
        )
    )
