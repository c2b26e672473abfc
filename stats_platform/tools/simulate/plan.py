"""Batching like a bot: when each batch goes out, which ones are late and which are sent twice.

A batch closes when it holds `batch_size` events or `flush_ms` after its first event, whichever
comes first. A late batch is held back for minutes to hours (log-uniform, simulated time), as
by a bot that lost its connection or a shard that replays its queue; a duplicated batch is
sent again a little later with the same events, as by a bot that missed the acknowledgement.
The choices come from their own seeded generator, so a seed fixes the whole schedule.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import count

from stats_platform.tools.simulate.engine import Event

MINUTE_MS = 60_000


@dataclass(frozen=True)
class PlanConfig:
    seed: int
    batch_size: int = 500
    flush_ms: int = 5_000
    late_share: float = 0.05
    duplicate_share: float = 0.02
    late_min_ms: int = 2 * MINUTE_MS
    late_max_ms: int = 180 * MINUTE_MS
    duplicate_max_ms: int = 2 * MINUTE_MS


@dataclass(frozen=True)
class Batch:
    number: int  # a duplicate carries its original's number
    events: list[Event]
    send_at: int  # simulated epoch ms
    late: bool = False
    duplicate: bool = False

    def before(self, until_ms: int) -> Batch | None:
        """This batch sent at `until_ms` at the latest with its events before it; None if none are."""
        events = [e for e in self.events if e["timestamp"] < until_ms]
        if not events:
            return None
        return replace(self, events=events, send_at=min(self.send_at, until_ms))


class Planner:
    """Feed events oldest first with `add`; take what is due with `due`, the rest with `drain`."""

    def __init__(self, config: PlanConfig) -> None:
        self.config = config
        self._rng = random.Random(f"plan:{config.seed}")
        self._open: list[Event] = []
        self._held: list[tuple[int, int, Batch]] = []
        self._numbers = count()
        self._order = count()

    def add(self, event: Event) -> None:
        ts = event["timestamp"]
        if self._open and ts >= self._open[0]["timestamp"] + self.config.flush_ms:
            self._close(self._open[0]["timestamp"] + self.config.flush_ms)
        self._open.append(event)
        if len(self._open) >= self.config.batch_size:
            self._close(ts)

    def due(self, now_ms: int) -> Iterator[Batch]:
        """Batches to send at simulated time `now_ms`, in sending order, each taken when asked for."""
        while self._held and self._held[0][0] <= now_ms:
            yield heapq.heappop(self._held)[2]

    def drain(self, until_ms: int) -> list[Batch]:
        """Everything left, sent at `until_ms` at the latest, keeping only events before it."""
        if self._open:
            self._close(min(self._open[0]["timestamp"] + self.config.flush_ms, until_ms))
        held = [heapq.heappop(self._held)[2] for _ in range(len(self._held))]
        return [b for b in (batch.before(until_ms) for batch in held) if b is not None]

    def pending(self) -> int:
        return len(self._held) + bool(self._open)

    def _close(self, at: int) -> None:
        config, rng = self.config, self._rng
        events, self._open = self._open, []
        late = rng.random() < config.late_share
        send_at = at
        if late:
            low, high = math.log(config.late_min_ms), math.log(config.late_max_ms)
            send_at += int(math.exp(rng.uniform(low, high)))
        batch = Batch(next(self._numbers), events, send_at, late=late)
        self._hold(batch)
        if rng.random() < config.duplicate_share:
            again = send_at + rng.randint(1000, config.duplicate_max_ms)
            self._hold(replace(batch, send_at=again, duplicate=True))

    def _hold(self, batch: Batch) -> None:
        heapq.heappush(self._held, (batch.send_at, next(self._order), batch))
