"""The traffic model: a seeded discrete-event simulation of Discord guilds, as bot events.

Each guild runs Poisson arrival processes shaped by the daily and weekly rhythm: conversations
(`chat`), voice sessions (`voice`), member joins and leaves, and role changes. The world runs
unseen for a warm-up before the window (an hour for voice, ten minutes for the rest), so the
window opens mid-conversation at the usual rate; like a bot that starts and reads its guilds'
voice states, the first events are one VOICE_STATE_UPDATE per member already in voice.
Messages from the warm-up get no reactions, edits or deletes later.

The same config always yields the same events: nothing reads the clock, every draw comes from
one `random.Random(seed)`, and ties in time break by scheduling order.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

from stats_platform.domain.events import EventType
from stats_platform.tools.simulate.chat import EVENTS_PER_CONVERSATION, Chat, conversations_per_day
from stats_platform.tools.simulate.engine import Arrivals, Engine, Event
from stats_platform.tools.simulate.rhythm import DAY_MS, Rhythm
from stats_platform.tools.simulate.voice import (
    EVENTS_PER_VOICE_SESSION,
    VOICE_WARMUP_MS,
    Voice,
    voice_sessions_per_day,
)
from stats_platform.tools.simulate.world import Guild, build_guilds, created_snowflake, draw_member

JOINS_PER_MEMBER_DAY = 0.02
LEAVES_PER_MEMBER_DAY = 0.012
ROLE_UPDATES_PER_MEMBER_DAY = 0.01

__all__ = ["Event", "ModelConfig", "TrafficModel", "generate"]


@dataclass(frozen=True)
class ModelConfig:
    seed: int
    start_ms: int
    end_ms: int | None  # None: no end (live mode until stopped)
    guilds: int = 20
    members_per_guild: int = 100
    tz: str = "UTC"
    # None: each guild's own activity; else every rate is scaled to this at start_ms.
    events_per_second: float | None = None


class TrafficModel:
    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.guilds = build_guilds(self.rng, config.guilds, config.members_per_guild)
        # Ids differ between configs, so two runs can never collide in the API's dedup.
        tag = hashlib.sha256(repr(config).encode()).hexdigest()[:8]
        self.engine = Engine(self.rng, start_ms=config.start_ms, tag=tag)
        self.chat = Chat(self.engine)
        self.voice = Voice(self.engine)
        text, voice = Rhythm(config.tz), Rhythm(config.tz, sharpness=1.6)
        self.processes = [p for g in self.guilds for p in self._guild_processes(g, text, voice)]
        if config.events_per_second is not None:
            expected = self.expected_events_per_second(config.start_ms)
            if expected <= 0:
                raise ValueError("these guilds have no activity to scale to a rate")
            for process in self.processes:
                process.per_day *= config.events_per_second / expected
        for process in self.processes:
            self.engine.start(process)

    def expected_events_per_second(self, ts: int) -> float:
        return sum(
            p.per_day * p.events_each * p.rhythm.level(ts) / p.rhythm.mean for p in self.processes
        ) / (DAY_MS / 1000)

    def events(self) -> Iterator[Event]:
        """Events oldest first, until end_ms (forever when it is None)."""
        return self.engine.run(self.config.end_ms, on_start=self.voice.snapshot)

    def _guild_processes(self, g: Guild, text: Rhythm, voice: Rhythm) -> list[Arrivals]:
        size = len(g.members)
        return [
            Arrivals(
                conversations_per_day(g),
                text,
                EVENTS_PER_CONVERSATION,
                lambda t: self.chat.converse(g, t),
            ),
            Arrivals(
                voice_sessions_per_day(g),
                voice,
                EVENTS_PER_VOICE_SESSION,
                lambda t: self.voice.join(g, t),
                VOICE_WARMUP_MS,
            ),
            Arrivals(size * JOINS_PER_MEMBER_DAY, text, 1, lambda t: self._member_join(g, t)),
            Arrivals(size * LEAVES_PER_MEMBER_DAY, text, 1, lambda t: self._member_leave(g, t)),
            Arrivals(size * ROLE_UPDATES_PER_MEMBER_DAY, text, 1, lambda t: self._role(g, t)),
        ]

    def _member_join(self, g: Guild, ts: int) -> None:
        rng = self.rng
        member = draw_member(rng, created_snowflake(rng, until_ms=ts))
        g.join(member)
        invite = {"inviteCode": f"inv{rng.randrange(36**4):x}"} if rng.random() < 0.6 else None
        self.engine.emit(g, ts, EventType.GUILD_MEMBER_ADD, member.user_id, data=invite)

    def _member_leave(self, g: Guild, ts: int) -> None:
        # Nobody leaves from a voice channel: the bot would have seen them leave it first.
        for _ in range(4):
            member = self.rng.choice(g.members)
            if member.present and member.voice_busy_until < ts:
                member.present = False
                self.engine.emit(g, ts, EventType.GUILD_MEMBER_REMOVE, member.user_id)
                return

    def _role(self, g: Guild, ts: int) -> None:
        member = g.chatters.pick(self.rng)
        if member is not None:
            role = self.rng.choice(g.roles)
            self.engine.emit(
                g, ts, "GUILD_MEMBER_UPDATE", member.user_id, roleId=role, data={"roles": [role]}
            )


def generate(config: ModelConfig) -> list[Event]:
    """Every event of a bounded run, oldest first."""
    if config.end_ms is None:
        raise ValueError("generate needs an end; iterate TrafficModel(config).events() instead")
    return list(TrafficModel(config).events())
