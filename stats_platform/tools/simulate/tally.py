"""The simulator's own count of what it delivered, by the rules of contract §2.

Only events the API acknowledged (a 202, minus the ones it rejected) are counted, and each
batch once: a duplicate re-send or a retry carries the same ids and timestamps, which the API
stores once. Every event of a run lies in the run's window, so the window's numbers are the
whole run's. Voice time replays each member's VOICE_STATE_UPDATE events in (timestamp, arrival)
order, exactly as contract §2 says: a session opens on a channel, a same-channel update changes
nothing, another channel moves, a null channel closes, and no session outlasts the cap; one
still open ends at the window's end.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from stats_platform.domain.events import EventType
from stats_platform.tools.simulate.engine import Event

MINUTE_MS = 60_000


@dataclass
class MemberTally:
    messages: int = 0
    reactions_given: int = 0
    reactions_received: int = 0
    voice_ms: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "totalMessages": self.messages,
            "totalReactionsGiven": self.reactions_given,
            "totalReactionsReceived": self.reactions_received,
            "voiceMs": self.voice_ms,
        }


@dataclass
class GuildTally:
    guild_id: str
    messages: int = 0
    reactions: int = 0
    joins: int = 0
    leaves: int = 0
    voice_ms: int = 0
    users: set[str] = field(default_factory=set)
    members: dict[str, MemberTally] = field(default_factory=lambda: defaultdict(MemberTally))

    @property
    def active_users(self) -> int:
        return len(self.users)

    def top_members(self, n: int = 3) -> list[dict[str, Any]]:
        """Most messages first (at least one), ties by userId ascending: the dashboard's rule."""
        ranked = sorted(
            ((uid, m) for uid, m in self.members.items() if m.messages > 0),
            key=lambda item: (-item[1].messages, len(item[0]), item[0]),
        )
        return [
            {
                "userId": uid,
                "totalMessages": m.messages,
                "totalVoiceMinutes": m.voice_ms // MINUTE_MS,
            }
            for uid, m in ranked[:n]
        ]

    def dashboard(self) -> dict[str, Any]:
        """The contract §3 dashboard totals of the run's window, under the API's names."""
        return {
            "totalMessages": self.messages,
            "totalVoiceMinutes": self.voice_ms // MINUTE_MS,
            "totalReactions": self.reactions,
            "uniqueActiveUsers": self.active_users,
            "newMembers": self.joins,
            "leftMembers": self.leaves,
            "topMembers": self.top_members(),
        }


class Tally:
    def __init__(self, *, window_start_ms: int, window_end_ms: int | None, voice_cap_ms: int):
        self.window_start_ms = window_start_ms
        self.window_end_ms = window_end_ms
        self.voice_cap_ms = voice_cap_ms
        self.guilds: dict[str, GuildTally] = {}
        self.by_type: Counter[str] = Counter()
        self.unique_events = 0
        self._batches: set[int] = set()
        self._voice: dict[tuple[str, str], list[tuple[int, str | None]]] = defaultdict(list)
        self._voice_done = False

    def record(self, batch: int, events: Iterable[Event], rejected: Iterable[int] = ()) -> None:
        """Counts an acknowledged batch once, leaving out the events at the rejected indexes."""
        if batch in self._batches:
            return
        self._batches.add(batch)
        skip = set(rejected)
        for index, event in enumerate(events):
            if index not in skip:
                self._count(event)

    def finish(self, window_end_ms: int) -> None:
        """Closes the window and computes voice time; call once every batch is recorded."""
        if self._voice_done:
            raise RuntimeError("the tally is already finished")
        self.window_end_ms = window_end_ms
        for (guild_id, user_id), updates in self._voice.items():
            voice_ms = self._overlap(voice_sessions(updates, cap_ms=self.voice_cap_ms))
            guild = self.guilds[guild_id]
            guild.voice_ms += voice_ms
            guild.members[user_id].voice_ms += voice_ms
        self._voice_done = True

    def guild(self, guild_id: str) -> GuildTally:
        return self.guilds[guild_id]

    def to_json(self) -> dict[str, Any]:
        if not self._voice_done or self.window_end_ms is None:
            raise RuntimeError("finish() the tally before reading voice time")
        return {
            "windowStart": iso_ms(self.window_start_ms),
            "windowEnd": iso_ms(self.window_end_ms),
            "voiceCapMs": self.voice_cap_ms,
            "uniqueEvents": self.unique_events,
            "byType": dict(sorted(self.by_type.items())),
            "guilds": {
                gid: {
                    **g.dashboard(),
                    "voiceMs": g.voice_ms,
                    "members": {uid: m.to_json() for uid, m in sorted(g.members.items())},
                }
                for gid, g in sorted(self.guilds.items())
            },
        }

    def _count(self, event: Event) -> None:
        kind, guild_id, user_id = event["type"], event["guildId"], event.get("userId")
        guild = self.guilds.get(guild_id)
        if guild is None:
            guild = self.guilds[guild_id] = GuildTally(guild_id)
        self.unique_events += 1
        self.by_type[kind] += 1
        if kind == EventType.GUILD_MEMBER_ADD:
            guild.joins += 1
        elif kind == EventType.GUILD_MEMBER_REMOVE:
            guild.leaves += 1
        elif kind == EventType.VOICE_STATE_UPDATE and user_id is not None:
            self._voice[guild_id, user_id].append((event["timestamp"], event.get("channelId")))
        if user_id is None:
            return
        guild.users.add(user_id)
        if kind == EventType.MESSAGE_CREATE:
            guild.messages += 1
            guild.members[user_id].messages += 1
        elif kind == EventType.MESSAGE_REACTION_ADD:
            guild.reactions += 1
            guild.members[user_id].reactions_given += 1
            author = (event.get("data") or {}).get("messageAuthorId")
            if author is not None and author != user_id:
                guild.members[author].reactions_received += 1

    def _overlap(self, sessions: Iterator[tuple[int, int | None]]) -> int:
        assert self.window_end_ms is not None
        start, end = self.window_start_ms, self.window_end_ms
        total = 0
        for opened, closed in sessions:
            finish = min(opened + self.voice_cap_ms if closed is None else closed, end)
            total += max(0, finish - max(opened, start))
        return total


def voice_sessions(
    updates: list[tuple[int, str | None]], *, cap_ms: int
) -> Iterator[tuple[int, int | None]]:
    """(started, ended or None while open) of one member, from (timestamp, channel) in arrival order."""
    open_channel: str | None = None
    started = 0
    # sorted() is stable: equal timestamps keep their arrival order.
    for ts, channel in sorted(updates, key=lambda update: update[0]):
        if open_channel is not None and ts >= started + cap_ms:
            yield started, started + cap_ms
            open_channel = None
        if open_channel is not None and channel != open_channel:
            yield started, ts
            open_channel = None
        if channel is not None and open_channel is None:
            open_channel, started = channel, ts
    if open_channel is not None:
        yield started, None


def iso_ms(ms: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
