"""Speed probe, run by hand (not a test): synthetic events through the 5-minute rollups.

    .venv/bin/python tests/stats_platform/transforms/speed_probe.py [events] [repeats]

Prints the best wall time and CPU time of member_activity + metrics_snapshots (one collect_all)
as events per second, then the same with sessions rebuilt from the voice events. CPU time over
2 cores is the rate on an otherwise idle 2-core machine.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import polars as pl

from stats_platform.domain.grains import LENGTHS as GRAINS
from stats_platform.transforms.activity import member_activity, metrics_snapshots
from stats_platform.transforms.voice import sessionize, voice_by_window

START = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
TYPES = [
    "MESSAGE_CREATE",
    "MESSAGE_CREATE",
    "MESSAGE_CREATE",
    "MESSAGE_CREATE",
    "MESSAGE_CREATE",
    "MESSAGE_CREATE",
    "MESSAGE_REACTION_ADD",
    "MESSAGE_REACTION_ADD",
    "VOICE_STATE_UPDATE",
    "MESSAGE_DELETE",
    "GUILD_MEMBER_ADD",
    "TYPING_START",
]


def _pick(seed: int, modulo: int) -> pl.Expr:
    return (pl.col("seq").hash(seed) % modulo).cast(pl.Int64)


def _snowflake(number: pl.Expr) -> pl.Expr:
    return (number + 100_000_000_000_000_000).cast(pl.String)


def synthetic_events(
    count: int, *, guilds: int = 50, users: int = 20_000, voice_users: int = 1_000
) -> pl.DataFrame:
    """`count` events over one day: messages, reactions, voice, joins and unknown types.

    Times and users are uniform (the worst case for grouping: few events per member and
    window); voice comes from `voice_users` of them, in voice about three quarters of the day.
    """
    kind = pl.lit(pl.Series(TYPES)).gather(_pick(3, len(TYPES)))
    user = (
        pl.when(kind == "VOICE_STATE_UPDATE").then(_pick(2, voice_users)).otherwise(_pick(2, users))
    )
    return (
        pl.DataFrame({"seq": pl.int_range(count, eager=True)})
        .with_columns(
            ts=(pl.lit(int(START.timestamp() * 1000)) + _pick(1, 86_400_000)).cast(
                pl.Datetime("ms", "UTC")
            ),
            guild_id=_snowflake(user % guilds),
            type=kind,
            user_id=pl.when(_pick(4, 100) > 0).then(_snowflake(user)),
            channel_id=pl.when(_pick(5, 4) > 0).then(_snowflake(_pick(6, 30))),
            message_author_id=_snowflake(_pick(7, users)),
        )
        .with_columns(
            received_at=pl.col("ts"),
            message_author_id=pl.when(pl.col("type") == "MESSAGE_REACTION_ADD").then(
                "message_author_id"
            ),
        )
    )


def best_of(repeats: int, run) -> tuple[float, float]:
    """Best wall time and best CPU time (all threads) of `repeats` runs, in seconds."""
    walls, cpus = [], []
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def report(label: str, count: int, wall: float, cpu: float) -> None:
    print(
        f"{label}: wall {wall:.3f} s = {count / wall:,.0f} events/s; "
        f"CPU {cpu:.3f} s = {count / (cpu / 2):,.0f} events/s on 2 cores"
    )


def main(count: int, repeats: int) -> None:
    every = GRAINS["5min"]
    events = synthetic_events(count)
    voice_events = events.filter(pl.col("type") == "VOICE_STATE_UPDATE").select(
        "guild_id", "user_id", "channel_id", "ts", "seq"
    )
    carry_in = pl.LazyFrame(
        schema={
            "guild_id": pl.String,
            "user_id": pl.String,
            "channel_id": pl.String,
            "started_at": pl.Datetime("ms", "UTC"),
        }
    )

    def voice_windows() -> pl.LazyFrame:
        sessions = sessionize(voice_events.lazy(), carry_in, cap=DAY)
        return voice_by_window(
            sessions, start=START, end=START + DAY, every=every, as_of=START + DAY, cap=DAY
        )

    voice = voice_windows().collect()

    def rollups(voice_frame: pl.LazyFrame) -> list[pl.DataFrame]:
        members = member_activity(events.lazy(), voice_frame, every=every)
        snapshots = metrics_snapshots(events.lazy(), members, every=every)
        return pl.collect_all([members, snapshots])

    members, snapshots = rollups(voice.lazy())
    print(
        f"{count:,} events ({voice_events.height:,} voice) -> {members.height:,} member rows, "
        f"{snapshots.height:,} snapshot rows; {pl.thread_pool_size()} threads"
    )
    report(
        "member_activity + metrics_snapshots",
        count,
        *best_of(repeats, lambda: rollups(voice.lazy())),
    )
    report(
        "  + sessionize + voice_by_window  ",
        count,
        *best_of(repeats, lambda: rollups(voice_windows())),
    )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 5,
    )
