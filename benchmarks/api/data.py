"""The stats API benchmark's data: days of events in a fresh database, rolled up as production has them.

Events are `benchmarks.events.day_events` (the simulator's model, its world scaled to the
count): one seeded day, generated once and shifted to every day, so the same
people come back day after day as lifetime totals need; ids get the day as a prefix. They fill
[oldest, newest]: `oldest` is the first whole hour after now - days + 1 h (inside the raw
retention, which starts at now - 30 days), `newest` two minutes before the build starts. Each row
is stored with `received_at` = ts + 1..10 s and `window_arrivals` as ingestion would leave them,
so no computed window is stale.

Beside that world of 50 guilds, one huge guild (`HUGE_GUILD_ID`): a world of one guild simulated
at `huge_per_day` events, its day shifted to every day the same way. It is loaded a day at a
time (COPY, then that day's window_arrivals, every window lying inside its day), so no more than
one day of it is ever in memory.

The rollups are Dagster backfills, one run per job over a partition range (what
`dagster asset materialize --partition-range` does, here `dg.materialize` with the range tags and
no settle or batch delay). Like production's, they cover the whole raw retention even where a
short dataset has no events (computed windows are global, so a guild's quiet days are computed
too): the daily job (voice_sessions, rollups_daily, member_stats) over every whole day, hourly
over every whole hour from the first after the retention instant + 1 h, 5-minute over the last
`five_min_days` days. The oldest day starts before the raw-retention instant, which the assets
may refuse to recompute; production computed it when it was fresh, so it is computed here by the
same library calls the daily assets make (stats_platform.pipeline.rollups), before the backfills.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import psycopg

from benchmarks.backfill import materialize as backfill
from benchmarks.events import DAY, DAY_MS, GUILDS, copy_frame, day_events, shifted, utc_midnight
from stats_platform.domain.instants import ceil_to, floor_to
from stats_platform.pipeline import rollups
from stats_platform.settings import get_settings
from stats_platform.storage import warehouse
from stats_platform.tools.simulate.world import CREATED_TO_MS, DISCORD_EPOCH_MS

HOUR = timedelta(hours=1)
FIVE_MINUTES = timedelta(minutes=5)
CAP = timedelta(hours=24)
VOICE = "VOICE_STATE_UPDATE"
# A guild created a day after the simulator's newest creation instant: every guild id the
# simulator draws is a smaller snowflake, so the huge guild's cannot be one of the world's.
HUGE_GUILD_ID = str((CREATED_TO_MS + DAY_MS - DISCORD_EPOCH_MS) << 22)


@dataclass(frozen=True)
class Span:
    """Where the events lie, [oldest, newest]; the rollups start at `first_hour`."""

    started: datetime
    oldest: datetime
    newest: datetime
    first_hour: datetime

    @classmethod
    def ending_now(cls, days: int, retention_days: int) -> Span:
        started = datetime.now(UTC).replace(microsecond=0)
        oldest = ceil_to(started - days * DAY + HOUR, HOUR)
        first_hour = ceil_to(started - retention_days * DAY + HOUR, HOUR)
        return cls(started, oldest, started - timedelta(minutes=2), first_hour)


def _days(span: Span) -> int:
    return (utc_midnight(span.newest) - utc_midnight(span.oldest)) // DAY + 1


def _in_span(frame: pl.DataFrame, span: Span) -> pl.DataFrame:
    """The rows with ts in [oldest, newest], each with its `received_at`."""
    frame = frame.filter(pl.col("ts").is_between(span.oldest, span.newest))
    # 1 to 10 s between a bot stamping an event and the API storing it, spread evenly.
    delay_ms = pl.int_range(pl.len(), dtype=pl.Int64) * 7919 % 9000 + 1000
    return frame.with_columns(received_at=pl.col("ts") + pl.duration(milliseconds=delay_ms))


def events_frame(span: Span, per_day: int, *, seed: int) -> pl.DataFrame:
    """Rows of `events` (received_at included) with ts in [oldest, newest], in ts order."""
    base = day_events(per_day, utc_midnight(span.oldest), seed=seed)
    return _in_span(pl.concat([shifted(base, i) for i in range(_days(span))]), span)


def huge_day(span: Span, per_day: int, *, seed: int) -> pl.DataFrame:
    """The huge guild's simulated day (the first day of the span), before any shift.

    A world of one guild: the simulator's single guild, its id replaced by HUGE_GUILD_ID.
    """
    base = day_events(per_day, utc_midnight(span.oldest), seed=seed, guilds=1)
    assert base["guild_id"].n_unique() == 1, "a world of one guild has one guild id"
    return base.with_columns(guild_id=pl.lit(HUGE_GUILD_ID))


def window_arrivals(frame: pl.DataFrame) -> pl.DataFrame:
    """Newest arrival per (guild, grain, window), and newest voice arrival: ingestion's upsert."""
    grains = {"5min": "5m", "hourly": "1h", "daily": "1d"}
    return pl.concat(
        [
            frame.group_by("guild_id", pl.col("ts").dt.truncate(every).alias("period_start"))
            .agg(
                last_received_at=pl.col("received_at").max(),
                last_voice_received_at=pl.col("received_at").filter(pl.col("type") == VOICE).max(),
            )
            .with_columns(period_type=pl.lit(grain))
            for grain, every in grains.items()
        ]
    )


def load(url: str, span: Span, per_day: int, huge_per_day: int, *, seed: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    frame = events_frame(span, per_day, seed=seed)
    timings["generate_s"] = time.perf_counter() - started
    assert HUGE_GUILD_ID not in set(frame["guild_id"].unique()), "the huge guild's id is taken"
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        copy_frame(conn, frame)
        timings["copy_s"] = time.perf_counter() - started
        started = time.perf_counter()
        with conn.transaction():
            warehouse.copy_in(conn, "window_arrivals", window_arrivals(frame))
        timings["arrivals_s"] = time.perf_counter() - started
        timings["world_events"] = frame.height
        del frame
        timings |= load_huge(conn, span, huge_per_day, seed=seed)
        started = time.perf_counter()
        conn.execute("ANALYZE")
        conn.commit()
        timings["analyze_s"] = time.perf_counter() - started
    timings["events"] = timings["world_events"] + timings["huge_events"]
    return timings


def load_huge(conn: psycopg.Connection, span: Span, per_day: int, *, seed: int) -> dict:
    """The huge guild, a day at a time: its rows by COPY, then the day's window_arrivals.

    Every window (5 minutes, hour, UTC day) lies inside one UTC day, so a day's newest arrivals
    per window are the whole dataset's: the rows ingestion's upsert would leave.
    """
    started = time.perf_counter()
    base = huge_day(span, per_day, seed=seed)
    timings = {"huge_generate_s": time.perf_counter() - started, "huge_copy_s": 0.0,
               "huge_arrivals_s": 0.0, "huge_events": 0, "huge_day_events": base.height}  # fmt: skip
    for i in range(_days(span)):
        day = _in_span(shifted(base, i), span)
        started = time.perf_counter()
        copy_frame(conn, day)
        copied = time.perf_counter()
        with conn.transaction():
            warehouse.copy_in(conn, "window_arrivals", window_arrivals(day))
        timings["huge_copy_s"] += copied - started
        timings["huge_arrivals_s"] += time.perf_counter() - copied
        timings["huge_events"] += day.height
    return timings


def peak_rss_gib() -> float:
    """The benchmark process's peak resident memory so far (the backfills run in it)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def first_partial_day(url: str, day: datetime) -> float:
    """The daily job's three steps for the day the assets refuse (it starts before the horizon)."""
    started = time.perf_counter()
    end = day + DAY
    with psycopg.connect(url) as conn:
        covered = datetime.now(UTC)
        rollups.rebuild_voice_sessions(conn, start=day, end=end, covered_until=covered, cap=CAP)
        result = rollups.compute_rollups(
            conn, grain="daily", start=day, end=end, covered_until=covered, cap=CAP
        )
        rollups.write_rollups(
            conn, result, grain="daily", start=day, end=end, covered_until=covered
        )
        rollups.rebuild_member_stats(conn, start=day, end=end, as_of=covered, cap=CAP)
        conn.commit()
    return time.perf_counter() - started


def _backfill(*args: Any) -> dict:
    """One single-run backfill (benchmarks.backfill), with the process's peak memory after it."""
    run = {**backfill(*args), "peak_rss_gib": peak_rss_gib()}
    print(
        f"    {run['seconds']:.0f} s, peak memory so far {run['peak_rss_gib']:.1f} GiB", flush=True
    )
    return run


def materialize(url: str, span: Span, *, five_min_days: int) -> dict:
    from stats_platform.defs.members.assets import member_stats
    from stats_platform.defs.rollups.assets import rollups_5min, rollups_daily, rollups_hourly
    from stats_platform.defs.voice.assets import voice_sessions
    from stats_platform.partitions import (
        daily_partitions,
        five_minute_partitions,
        hourly_partitions,
    )

    now = datetime.now(UTC)
    first_day = utc_midnight(span.first_hour)
    today = utc_midnight(now)
    five_from = max(today - (five_min_days - 1) * DAY, span.first_hour)
    partial_s = first_partial_day(url, first_day)
    days = (first_day + DAY, today)
    runs = [
        _backfill(url, "daily job", [voice_sessions, rollups_daily, member_stats],
                  daily_partitions, DAY, *days),
        _backfill(url, "hourly", [rollups_hourly], hourly_partitions, HOUR,
                 span.first_hour, floor_to(now, HOUR)),
        _backfill(url, "5min", [rollups_5min], five_minute_partitions, FIVE_MINUTES,
                 five_from, floor_to(datetime.now(UTC), FIVE_MINUTES)),
    ]  # fmt: skip
    # As autovacuum would before long in a running deployment: the tables were analyzed when
    # they held a day's rows, and with those statistics a small guild's snapshot rows were read
    # through the (period_type, period_start) index, filtering every guild's rows (1.4 ms,
    # 0.3 ms through the primary key after ANALYZE).
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    analyze_after_s = time.perf_counter() - started
    print(f"  ANALYZE after the backfills {analyze_after_s:.0f} s", flush=True)
    return {
        "first_partial_day_s": partial_s,
        "analyze_after_s": analyze_after_s,
        "runs": runs,
        "five_min_from": five_from,
    }


def build(
    url: str, *, days: int, per_day: int, huge_per_day: int, seed: int, five_min_days: int
) -> dict:
    """Loads and rolls up the dataset; returns what was built and how long each step took."""
    span = Span.ending_now(days, get_settings().raw_retention_days)
    started = time.perf_counter()
    loaded = load(url, span, per_day, huge_per_day, seed=seed)
    print(
        f"  loaded {loaded['world_events']:,} events of {GUILDS} guilds: generate"
        f" {loaded['generate_s']:.0f} s, COPY {loaded['copy_s']:.0f} s; {loaded['huge_events']:,}"
        f" of the huge guild: generate {loaded['huge_generate_s']:.0f} s,"
        f" COPY {loaded['huge_copy_s']:.0f} s",
        flush=True,
    )
    loaded["loaded_peak_rss_gib"] = peak_rss_gib()
    built = materialize(url, span, five_min_days=five_min_days)
    return {
        "span": span,
        **loaded,
        **built,
        "total_s": time.perf_counter() - started,
    }


def catch_up(url: str) -> float:
    """The hourly and 5-minute rollups brought up to now, as a running deployment's schedules
    keep them; returns the seconds it took.

    Cold answers compute the raw tail after the newest computed window, and a run measures for
    most of an hour after the build: without this the tail grew to half an hour or more, where
    the schedules keep it to minutes.
    """
    from stats_platform.defs.rollups.assets import rollups_5min, rollups_hourly
    from stats_platform.partitions import five_minute_partitions, hourly_partitions

    started = time.perf_counter()
    for grain, asset, partitions, every in (
        ("hourly", rollups_hourly, hourly_partitions, HOUR),
        ("5min", rollups_5min, five_minute_partitions, FIVE_MINUTES),
    ):
        with psycopg.connect(url) as conn:
            newest = conn.execute(
                "SELECT max(period_start) FROM computed_windows WHERE period_type = %s", (grain,)
            ).fetchone()
        end = floor_to(datetime.now(UTC), every)
        if newest and newest[0] is not None and newest[0] + every < end:
            backfill(url, f"catch-up {grain}", [asset], partitions, every, newest[0] + every, end)
    return time.perf_counter() - started
