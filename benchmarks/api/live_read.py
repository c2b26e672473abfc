"""voice/live's read of the kept Redis hash: LivePresence.read beside the per-entry decode it replaced.

    .venv/bin/python -m benchmarks.api.live_read --size quick
    .venv/bin/python -m benchmarks.api.live_read --size full --doc docs/benchmarks.md

The hash of a guild holds an entry for every member with a voice event within the cap, and a
tombstone (channelId null) for each who left since; only those in a channel are answered. Each
size fills the hash of one scratch guild (Redis db 12) with ENTRIES entries, one in six in a
channel (the simulator's huge guild at 300,000 events a day had 7,377 entries, 1,209 in voice),
marks it built, and times, round by round in alternating order: `LivePresence.read` as the
route calls it (the begin script's HGETALL, then the decode), and the same read with the decode
it replaced (json.loads per entry, every entry kept). No PostgreSQL query runs: a fresh hash is
answered from Redis alone.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis
import typer

from benchmarks.harness import SERVER_URL
from benchmarks.report import DocOption, Size, SizeOption, command, doc_path, publish, table
from stats_api.live import presence
from stats_api.live.presence import Entry, LivePresence, live_key, marker_key
from stats_api.redis_gate import RedisGate
from stats_platform.domain.instants import epoch_ms_of, epoch_us_of

REDIS_URL = "redis://127.0.0.1:6379/12"
GUILD = "900000000000000001"
ENTRIES = {Size.quick: (1_000, 7_377), Size.full: (7_377, 50_000)}
IN_CHANNEL_EVERY = 6
ROUNDS, RUNS = 5, 20


def fill(client: redis.Redis, entries: int, now: datetime) -> int:
    """The guild's hash with `entries` entries, marked built; returns how many are in a channel."""
    client.delete(live_key(GUILD), marker_key(GUILD))
    at = epoch_ms_of(now) - 60_000
    mapping = {}
    for i in range(entries):
        channel = str(800 + i % 7) if i % IN_CHANNEL_EVERY == 0 else None
        mapping[str(10**17 + i)] = json.dumps({"channelId": channel, "since": at - i, "ts": at})
    client.hset(live_key(GUILD), mapping=mapping)
    client.hset(
        marker_key(GUILD), mapping={"state": "built", "asof": epoch_us_of(now), "filled": 1}
    )
    return sum(1 for v in mapping.values() if '"channelId": null' not in v)


def per_entry_read(self: LivePresence, conn, guild_id, *, now, newest_voice):  # type: ignore[no-untyped-def]
    """The read before b1a7d97: every entry json.loads'ed on its own, tombstones included."""
    keys = [live_key(guild_id), marker_key(guild_id)]
    began = self._redis.run(
        lambda client: self._begin(
            keys=keys, args=[epoch_us_of(newest_voice), "t", 30], client=client
        )
    )
    flat = began[1]
    entries = {
        user.decode(): presence._entry(json.loads(raw))
        for user, raw in zip(flat[::2], flat[1::2], strict=True)
    }
    return self._live(entries, now)


def main(
    size_name: Size = typer.Option(Size.quick, "--size", help=SizeOption.help),
    doc: Path | None = DocOption,
) -> None:
    started = datetime.now(UTC)
    client = redis.Redis.from_url(REDIS_URL)
    live = LivePresence(RedisGate.from_url(REDIS_URL), cap=timedelta(hours=24), future=timedelta(0))
    ways = {
        "per entry (before)": per_entry_read,
        "one document (LivePresence.read)": LivePresence.read,
    }
    rows = []
    with psycopg.connect(SERVER_URL) as conn:
        for entries in ENTRIES[size_name]:
            now = datetime.now(UTC)
            in_channel = fill(client, entries, now)
            found: dict[str, list[float]] = {name: [] for name in ways}
            answers: dict[str, list[tuple[str, Entry]]] = {}
            for round_no in range(ROUNDS):
                order = list(ways.items())
                for name, read in order if round_no % 2 else order[::-1]:
                    for _ in range(RUNS):
                        t0 = time.perf_counter()
                        answers[name] = read(live, conn, GUILD, now=now, newest_voice=now)
                        found[name].append(time.perf_counter() - t0)
            first, *others = answers.values()
            assert all(sorted(o) == sorted(first) for o in others), "the two reads disagree"
            assert len(first) == in_channel
            before = statistics.median(found["per entry (before)"]) * 1000
            for name, seconds in found.items():
                ms = statistics.median(seconds) * 1000
                rows.append(
                    [f"{entries:,}", f"{in_channel:,}", name, f"{ms:.2f}", f"{before / ms:.1f}x"]
                )
            print(rows[-2], rows[-1], flush=True)
    client.delete(live_key(GUILD), marker_key(GUILD))
    client.close()
    body = "\n".join(
        [
            f"Command: `{command('benchmarks.api.live_read')}`  ",
            f"Date: {started:%Y-%m-%d %H:%M} UTC; nproc 2, the machine shared with other work  ",
            f"Each cell: median of {ROUNDS} rounds x {RUNS} reads, the two ways alternating"
            " round by round; both answers checked equal.",
            "",
            table(["entries", "in a channel", "read", "ms", "speed-up"], rows, right=(0, 1, 3, 4)),
        ]
    )
    publish("Voice live: the kept hash", body, doc_path(size_name, doc))


if __name__ == "__main__":
    typer.run(main)
