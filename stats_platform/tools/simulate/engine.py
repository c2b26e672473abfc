"""The simulation's clock and outbox: one heap of timed actions, arrivals, emitted events.

Actions sit in one heap ordered by (time, sequence), so events come out oldest first, and a
tie always breaks the same way. Arrival processes are Poisson, shaped by a rhythm through
thinning: candidates come at the peak rate and each is kept with probability level / peak.
Before the window's start the world runs unseen (warming): actions happen, nothing is emitted.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from stats_platform.tools.simulate.rhythm import DAY_MS, Rhythm
from stats_platform.tools.simulate.world import Guild

Event = dict[str, Any]
Action = Callable[[Any, int], None]
# Conversations last minutes: ten unseen minutes bring them to their usual number.
WARMUP_MS = 600_000


@dataclass
class Arrivals:
    """`per_day` arrivals a day on average, at `rhythm.level(t) / rhythm.mean` times that rate."""

    per_day: float
    rhythm: Rhythm
    events_each: float  # mean events an arrival leads to, for sizing to a rate
    fire: Callable[[int], None]
    warmup_ms: int = WARMUP_MS

    def peak_per_ms(self) -> float:
        return self.per_day / DAY_MS * self.rhythm.peak / self.rhythm.mean


class Engine:
    def __init__(self, rng: random.Random, *, start_ms: int, tag: str) -> None:
        self.rng = rng
        self.start_ms = start_ms
        self.warming = True
        self._tag = tag
        self._count = 0
        self._heap: list[tuple[int, int, Action, Any]] = []
        self._seq = 0
        self._out: list[Event] = []

    def at(self, ts: int, action: Action, arg: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (ts, self._seq, action, arg))

    def start(self, process: Arrivals) -> None:
        self._next_arrival(process, self.start_ms - process.warmup_ms)

    def run(self, end_ms: int | None, on_start: Callable[[int], None]) -> Iterator[Event]:
        """Events oldest first until end_ms; `on_start` runs once, at the window's start."""
        while self._heap:
            ts, _, action, arg = heapq.heappop(self._heap)
            if end_ms is not None and ts >= end_ms:
                return
            if self.warming and ts >= self.start_ms:
                self.warming = False
                on_start(self.start_ms)
            action(arg, ts)
            if self._out:
                yield from self._out
                self._out = []

    def emit(self, g: Guild, ts: int, kind: str, user_id: str, **fields: Any) -> None:
        if self.warming:
            return
        self._count += 1
        event: Event = {
            "id": f"sim-{self._tag}-{self._count:x}",
            # A plain str: events are JSON, and their types become dict keys in the tally.
            "type": str(kind),
            "guildId": g.guild_id,
            "userId": user_id,
            "shardId": g.shard_id,
            "timestamp": ts,
        }
        event.update(fields)
        self._out.append(event)

    def _next_arrival(self, process: Arrivals, after: int) -> None:
        peak = process.peak_per_ms()
        if peak > 0:
            self.at(after + int(self.rng.expovariate(peak)), self._arrival, process)

    def _arrival(self, process: Arrivals, ts: int) -> None:
        if self.rng.random() * process.rhythm.peak < process.rhythm.level(ts):
            process.fire(ts)
        self._next_arrival(process, ts)
