"""The pipeline's rollups split into read (COPY out), Polars compute and write, each timed.

`compute` is `stats_platform.pipeline.rollups.compute_rollups` without its reads: the same transforms on
frames already in memory. `mirror_matches` proves it, comparing with a call of the real thing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import psycopg

from benchmarks.aggregate.sql_baseline import mismatched_rows
from stats_platform.domain.grains import LENGTHS as GRAINS
from stats_platform.pipeline import rollups
from stats_platform.storage import warehouse
from stats_platform.transforms import activity, voice


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    as_of: datetime
    cap: timedelta


@dataclass
class Inputs:
    events: pl.DataFrame
    voice_events: pl.DataFrame
    carry_in: pl.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[Any, float]:
    """The result of the last call and the best wall time of `repeat` calls."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return result, best


def read_inputs(conn: psycopg.Connection, w: Window) -> Inputs:
    """What compute_rollups reads: the events of the range, and the voice replay's events."""

    def events() -> pl.DataFrame:
        return warehouse.read_events(
            conn, start=w.start, end=w.end, received_before=w.as_of
        ).collect()

    def voice_replay() -> tuple[pl.DataFrame, pl.DataFrame]:
        checkpoint = warehouse.latest_checkpoint(conn, w.start, None)
        if checkpoint is None:
            carry_in = pl.DataFrame(schema=warehouse.CARRY_IN_SCHEMA).with_columns(
                warehouse.ms_to_datetime("started_at")
            )
        else:
            carry_in = warehouse.read_checkpoint(conn, checkpoint, None).collect()
        replay = warehouse.read_voice_events(
            conn, start=checkpoint, end=w.end, received_before=w.as_of
        ).collect()
        return replay, carry_in

    frame, events_s = timed(events)
    (replay, carry_in), voice_s = timed(voice_replay)
    return Inputs(frame, replay, carry_in, {"events": events_s, "voice events": voice_s})


def _sessions(inputs: Inputs, w: Window) -> pl.LazyFrame:
    return voice.sessionize(inputs.voice_events.lazy(), inputs.carry_in.lazy(), cap=w.cap)


def compute(inputs: Inputs, w: Window, grain: str) -> rollups.Rollups:
    """compute_rollups on frames in memory: sessions, voice per window, members, snapshots."""
    every = GRAINS[grain]
    voice_windows = voice.voice_by_window(
        _sessions(inputs, w), start=w.start, end=w.end, every=every, as_of=w.as_of, cap=w.cap
    )
    members = activity.member_activity(inputs.events.lazy(), voice_windows, every=every)
    snapshots = activity.metrics_snapshots(inputs.events.lazy(), members, every=every)
    members_df, snapshots_df = pl.collect_all([members, snapshots])
    return rollups.Rollups(
        snapshots=snapshots_df, members=members_df, events_read=inputs.events.height
    )


def profile(inputs: Inputs, w: Window, grain: str, repeat: int) -> dict[str, float]:
    """Each transform alone, its inputs already collected: where compute time goes."""
    every = GRAINS[grain]
    sessions, sessionize_s = timed(lambda: _sessions(inputs, w).collect(), repeat)
    windows, windows_s = timed(
        lambda: voice.voice_by_window(
            sessions.lazy(), start=w.start, end=w.end, every=every, as_of=w.as_of, cap=w.cap
        ).collect(),
        repeat,
    )
    members, members_s = timed(
        lambda: activity.member_activity(
            inputs.events.lazy(), windows.lazy(), every=every
        ).collect(),
        repeat,
    )
    _, snapshots_s = timed(
        lambda: activity.metrics_snapshots(
            inputs.events.lazy(), members.lazy(), every=every
        ).collect(),
        repeat,
    )
    return {
        "sessionize": sessionize_s,
        "voice_by_window": windows_s,
        "member_activity": members_s,
        "metrics_snapshots": snapshots_s,
    }


def sessions(inputs: Inputs, w: Window) -> pl.DataFrame:
    return _sessions(inputs, w).collect()


def mirror_matches(conn: psycopg.Connection, w: Window, grain: str, mine: rollups.Rollups) -> bool:
    """compute() gives exactly what stats_platform.pipeline.rollups.compute_rollups gives."""
    real = rollups.compute_rollups(
        conn, grain=grain, start=w.start, end=w.end, covered_until=w.as_of, cap=w.cap
    )
    return (
        mismatched_rows(real.members, mine.members) == 0
        and mismatched_rows(real.snapshots, mine.snapshots) == 0
    )


def write(conn: psycopg.Connection, w: Window, grain: str, result: rollups.Rollups) -> float:
    _, seconds = timed(
        lambda: rollups.write_rollups(
            conn, result, grain=grain, start=w.start, end=w.end, covered_until=w.as_of
        )
    )
    return seconds


def voice_sessions_rebuild(conn: psycopg.Connection, w: Window) -> tuple[dict[str, int], float]:
    """The voice_sessions asset's work (read, sessionize, write sessions and checkpoints)."""
    return timed(
        lambda: rollups.rebuild_voice_sessions(
            conn, start=w.start, end=w.end, covered_until=w.as_of, cap=w.cap
        )
    )


def member_stats(conn: psycopg.Connection, w: Window) -> dict[str, tuple[float, int]]:
    """The member_stats asset's work, after write_rollups wrote the day's blocks and spans: the
    day's active members, their rows in the widest spans merged, their sessions' ends, the upsert
    and the lifetime blocks. One step: its reads are a few blocks per guild."""
    members, seconds = timed(
        lambda: rollups.rebuild_member_stats(
            conn, start=w.start, end=w.end, as_of=w.as_of, cap=w.cap
        )
    )
    conn.commit()
    return {"rebuild (read blocks, merge, write)": (seconds, members)}
