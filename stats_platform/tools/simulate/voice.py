"""Voice sessions: a join, mute and deafen updates in the same channel, moves, then a leave.

A member drawn by voice activity, not already in voice, joins a channel for a heavy-tailed
time (minutes to hours). Updates come every twenty minutes or so: mostly mute or deafen
toggles (same channel), sometimes a move to another channel. Now and then the leave is never
sent, a session the bot never saw close; the member is out all the same, and their next join
comes after the intended end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from stats_platform.domain.events import EventType
from stats_platform.tools.simulate.engine import Engine
from stats_platform.tools.simulate.world import Guild, Member

VOICE_SESSIONS_PER_VOICE_WEIGHT_DAY = 0.2
MOVE_SHARE = 0.3
ABANDONED_SHARE = 0.03
VOICE_UPDATE_GAP_MS = 20 * 60_000
VOICE_MEDIAN_MS = 35 * 60_000
VOICE_MAX_MS = 8 * 3_600_000
# Sessions last an hour or so: an unseen hour brings them to their usual number.
VOICE_WARMUP_MS = 3_600_000
EVENTS_PER_VOICE_SESSION = 2 + VOICE_MEDIAN_MS * math.exp(0.5) / VOICE_UPDATE_GAP_MS


def voice_sessions_per_day(g: Guild) -> float:
    return g.talkers.total * VOICE_SESSIONS_PER_VOICE_WEIGHT_DAY


@dataclass
class VoiceSession:
    guild: Guild
    member: Member
    channel_id: str
    ends_at: int
    abandoned: bool
    state: dict[str, bool] = field(default_factory=lambda: {"selfMute": False, "selfDeaf": False})


class Voice:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rng = engine.rng
        self._in_voice: dict[int, VoiceSession] = {}  # insertion order: a stable snapshot

    def join(self, g: Guild, ts: int) -> None:
        rng = self.rng
        for _ in range(4):
            member = g.talkers.pick(rng)
            if member is not None and member.voice_busy_until < ts:
                break
        else:
            return
        length = int(rng.lognormvariate(math.log(VOICE_MEDIAN_MS), 1.0))
        length = max(60_000, min(VOICE_MAX_MS, length))
        channel = rng.choice(g.voice_channels)
        session = VoiceSession(g, member, channel, ts + length, rng.random() < ABANDONED_SHARE)
        # Busy until the intended end, leave sent or not: the next join comes strictly after.
        member.voice_busy_until = session.ends_at
        self._in_voice[id(session)] = session
        self._send(session, ts)
        self._next_step(session, ts)

    def snapshot(self, ts: int) -> None:
        """What a starting bot reads: one update per member in voice, in their channel."""
        for session in self._in_voice.values():
            self._send(session, ts)

    def _send(self, s: VoiceSession, ts: int, *, leave: bool = False) -> None:
        self.engine.emit(
            s.guild,
            ts,
            EventType.VOICE_STATE_UPDATE,
            s.member.user_id,
            channelId=None if leave else s.channel_id,
            data=dict(s.state),
        )

    def _next_step(self, s: VoiceSession, ts: int) -> None:
        gap = max(1000, int(self.rng.expovariate(1 / VOICE_UPDATE_GAP_MS)))
        self.engine.at(min(ts + gap, s.ends_at), self._step, s)

    def _step(self, s: VoiceSession, ts: int) -> None:
        rng = self.rng
        if ts >= s.ends_at:
            del self._in_voice[id(s)]
            if not s.abandoned:
                self._send(s, ts, leave=True)
            return
        if len(s.guild.voice_channels) > 1 and rng.random() < MOVE_SHARE:
            s.channel_id = rng.choice([c for c in s.guild.voice_channels if c != s.channel_id])
        else:
            flag = "selfDeaf" if rng.random() < 0.25 else "selfMute"
            s.state[flag] = not s.state[flag]
        self._send(s, ts)
        self._next_step(s, ts)
