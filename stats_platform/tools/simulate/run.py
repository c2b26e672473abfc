"""A simulation run: the model's events, batched by the planner, delivered by the sender, tallied.

Historical mode replays a window of past days as fast as the API takes it (simulated time only
orders the batches); live mode starts the model at the wall clock and sends each batch when it
is due. Ctrl-C stops either: what was generated before the stop is still delivered (held late
and duplicate batches included), and the window ends there.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from tqdm import tqdm

from stats_platform.tools.simulate.engine import Event
from stats_platform.tools.simulate.model import ModelConfig, TrafficModel
from stats_platform.tools.simulate.plan import Batch, PlanConfig, Planner
from stats_platform.tools.simulate.sender import DeliveryError, Sender
from stats_platform.tools.simulate.tally import Tally, iso_ms

Mode = Literal["historical", "live"]
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
# A bot flushes every few seconds; a backfill packs batches fuller but still closes one after a
# few simulated minutes, so late and duplicated batches keep their meaning.
FLUSH_MS = {"live": 5_000, "historical": 5 * 60_000}
# A backfill stays this far inside the raw-event retention, so it is still inside when it lands.
RETENTION_MARGIN_MS = HOUR_MS
FUTURE_TOLERANCE_MS = 5 * 60_000
DEFAULT_MEMBERS_PER_GUILD = 100
# A live world sized to its rate stops growing here; past it members are just busier.
MAX_LIVE_MEMBERS = 300_000


@dataclass(frozen=True)
class SimulationConfig:
    mode: Mode = "historical"
    days: float = 7.0  # historical: the window's length
    # historical: the window's end (default now); fix it to replay a run exactly
    end_ms: int | None = None
    rate: float = 50.0  # live: events per second at the start (the rhythm moves it from there)
    duration: float | None = None  # live: seconds; None runs until Ctrl-C
    guilds: int = 20
    # None: 100 in historical mode; in live mode as many as make the rate at ordinary activity.
    members_per_guild: int | None = None
    seed: int = 1
    tz: str = "UTC"
    url: str = "http://127.0.0.1:8000"
    key: str | None = None
    gzip: bool = False
    batch_size: int = 500
    late_share: float = 0.05
    duplicate_share: float = 0.02
    max_retries: int = 8
    raw_retention_days: int = 30
    voice_session_cap_hours: int = 24
    progress: bool = True


@dataclass
class Summary:
    config: SimulationConfig
    tally: Tally
    members: int
    events_sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    late_batches: int = 0
    duplicate_batches: int = 0
    retries: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False
    error: str | None = None
    rejections: list[str] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events_sent / self.elapsed_s if self.elapsed_s else 0.0

    def render(self) -> str:
        c, t = self.config, self.tally
        assert t.window_end_ms is not None
        types = "\n".join(f"  {kind:<26}{n:>12,}" for kind, n in sorted(t.by_type.items()))
        lines = [
            f"mode       {c.mode}, seed {c.seed}, tz {c.tz}"
            + (" (interrupted)" if self.interrupted else ""),
            f"window     {iso_ms(t.window_start_ms)} .. {iso_ms(t.window_end_ms)}",
            f"guilds     {len(t.guilds):,} with events, of {c.guilds:,} ({self.members:,} members at the start)",
            f"sent       {self.events_sent:,} events in {self.batches:,} batches"
            f" ({self.late_batches:,} late, {self.duplicate_batches:,} re-sent duplicates), {self.retries:,} retries",
            f"answered   accepted {self.accepted:,}, duplicates {self.duplicates:,}, rejected {self.rejected:,}",
            f"stored     {t.unique_events:,} unique events by type:",
            types,
            f"elapsed    {self.elapsed_s:,.1f} s, {self.events_per_second:,.0f} events/s",
        ]
        lines += [f"rejection  {r}" for r in self.rejections]
        if self.error:
            lines.append(f"stopped    {self.error}")
        return "\n".join(lines)


def model_config(config: SimulationConfig, now: int) -> ModelConfig:
    """The model's window for this run, refusing one the API would reject."""
    world = ModelConfig(
        seed=config.seed,
        start_ms=now,
        end_ms=None,
        guilds=config.guilds,
        members_per_guild=config.members_per_guild or DEFAULT_MEMBERS_PER_GUILD,
        tz=config.tz,
    )
    if config.mode == "live":
        if config.rate <= 0 or (config.duration is not None and config.duration <= 0):
            raise ValueError("live mode needs a positive --rate and --duration")
        end = None if config.duration is None else now + int(config.duration * 1000)
        if config.members_per_guild is None:
            world = replace(world, members_per_guild=_live_scale(world, config.rate))
        return replace(world, end_ms=end, events_per_second=config.rate)
    if config.days <= 0:
        raise ValueError("--days must be positive")
    end = now if config.end_ms is None else config.end_ms
    start = end - int(config.days * DAY_MS)
    oldest = now - config.raw_retention_days * DAY_MS + RETENTION_MARGIN_MS
    if end > now + FUTURE_TOLERANCE_MS:
        raise ValueError("the window may not end in the future")
    if start < oldest:
        most = (end - oldest) / DAY_MS
        raise ValueError(
            f"{config.days:g} days reach past the raw-event retention ({config.raw_retention_days}"
            f" days, less {RETENTION_MARGIN_MS // 60_000} minutes): at most {most:.2f} days end there"
        )
    return replace(world, start_ms=start, end_ms=end)


def _live_scale(world: ModelConfig, rate: float) -> int:
    """The guild-size scale whose members, at their ordinary activity, send `rate` events/s.

    Expected traffic and member count both grow linearly with the scale; a probe world at
    the default scale gives the factors.
    """
    probe = TrafficModel(world)
    per_scale = probe.expected_events_per_second(world.start_ms) / world.members_per_guild
    members_per_scale = sum(len(g.members) for g in probe.guilds) / world.members_per_guild
    if per_scale <= 0:
        return world.members_per_guild
    return max(1, min(round(rate / per_scale), int(MAX_LIVE_MEMBERS / members_per_scale)))


def run_simulation(config: SimulationConfig) -> Summary:
    model_cfg = model_config(config, now_ms())
    model = TrafficModel(model_cfg)
    planner = Planner(
        PlanConfig(
            seed=config.seed,
            batch_size=config.batch_size,
            flush_ms=FLUSH_MS[config.mode],
            late_share=config.late_share,
            duplicate_share=config.duplicate_share,
        )
    )
    tally = Tally(
        window_start_ms=model_cfg.start_ms,
        window_end_ms=model_cfg.end_ms,
        voice_cap_ms=config.voice_session_cap_hours * HOUR_MS,
    )
    summary = Summary(config, tally, members=sum(len(g.members) for g in model.guilds))
    delivery = _Delivery(summary, model_cfg)
    started = time.monotonic()
    try:
        stop_ms = delivery.run(model.events(), planner)
    finally:
        delivery.close()
        summary.elapsed_s = time.monotonic() - started
    tally.finish(stop_ms)
    return summary


class _Delivery:
    """Sends the planner's batches (in live mode when due), records answers, shows progress."""

    def __init__(self, summary: Summary, model: ModelConfig) -> None:
        config = summary.config
        self.summary = summary
        self.sender = Sender(
            config.url, key=config.key, compress=config.gzip, max_retries=config.max_retries
        )
        self.live = config.mode == "live"
        self.start_ms, self.end_ms = model.start_ms, model.end_ms
        self.in_flight: Batch | None = None
        self._clock_ms = model.start_ms
        span = None if model.end_ms is None else (model.end_ms - model.start_ms) // 1000
        self.bar = tqdm(
            total=span,
            desc=f"simulating ({config.mode})",
            unit="s",
            disable=not config.progress,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}"
            if span
            else "{desc}: {elapsed}{postfix}",
        )

    def run(self, events: Iterator[Event], planner: Planner) -> int:
        """Delivers every batch and returns where the window ends (earlier when stopped)."""
        last_ms = self.start_ms
        try:
            for event in events:
                last_ms = event["timestamp"]
                planner.add(event)
                for batch in planner.due(last_ms):
                    self.send(batch)
            stop_ms = self.end_ms if self.end_ms is not None else last_ms + 1
            for batch in planner.drain(stop_ms):
                self.send(batch)
            return stop_ms
        except KeyboardInterrupt:
            self.summary.interrupted = True
            stop_ms = now_ms() if self.live else last_ms + 1
            self.live = False  # what is left goes now
            unfinished = self.in_flight.before(stop_ms) if self.in_flight else None
            rest = ([unfinished] if unfinished else []) + planner.drain(stop_ms)
            try:
                for batch in rest:
                    self.send(batch)
            except DeliveryError as exc:
                self.summary.error = str(exc)
            return stop_ms
        except DeliveryError as exc:
            self.summary.error = str(exc)
            return now_ms() if self.live else last_ms + 1

    def send(self, batch: Batch) -> None:
        self.in_flight = batch
        if self.live:
            wait_ms = batch.send_at - now_ms()
            if wait_ms > 0:
                time.sleep(wait_ms / 1000)
        ack = self.sender.send(batch.events)
        s = self.summary
        s.tally.record(batch.number, batch.events, ack.rejected_indexes)
        # Cleared only once counted: a batch stopped before this is sent again (the tally
        # counts each batch once, the API stores it once).
        self.in_flight = None
        s.events_sent += len(batch.events)
        s.accepted += ack.accepted
        s.duplicates += ack.duplicates
        s.rejected += ack.rejected
        s.batches += 1
        s.late_batches += batch.late and not batch.duplicate
        s.duplicate_batches += batch.duplicate
        if ack.errors and len(s.rejections) < 5:
            s.rejections.extend(f"{e['field']}: {e['message']}" for e in ack.errors[:5])
        self._advance(batch.send_at)

    def close(self) -> None:
        self.summary.retries = self.sender.retries
        self.sender.close()
        self.bar.close()

    def _advance(self, clock_ms: int) -> None:
        seconds = (clock_ms - self._clock_ms) // 1000
        if seconds > 0:
            self.bar.update(seconds)
            self._clock_ms += seconds * 1000
        self.bar.set_postfix_str(
            f"{self.summary.events_sent:,} events, {self.summary.batches:,} batches", refresh=False
        )


def now_ms() -> int:
    return time.time_ns() // 1_000_000
