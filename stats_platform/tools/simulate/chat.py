"""Conversations: bursts of messages from a few members in one channel, and what follows them.

A conversation starts with a member drawn by chat activity, pulls in a few others, and runs a
heavy-tailed number of messages tens of seconds apart (now and then a pause of minutes). Some
messages are preceded by typing; some get reactions from other members (with
`data.messageAuthorId`, a reaction now and then removed), an edit or a delete.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from stats_platform.domain.events import EventType
from stats_platform.tools.simulate.engine import Engine
from stats_platform.tools.simulate.world import Guild, Member, snowflake

MESSAGES_PER_CHAT_WEIGHT_DAY = 1.5
TYPING_SHARE = 0.1
REACTED_SHARE = 0.15
REACTIONS_AFTER_FIRST = 0.8  # 1 + floor(Exp(mean 0.8)) reactions on a reacted message
REACTION_REMOVED_SHARE = 0.06
EDITED_SHARE = 0.04
DELETED_SHARE = 0.02
THREAD_SHARE = 0.02
EMOJIS = ("👍", "😂", "❤️", "🔥", "🎉", "👀", "kekw:912345678901234567", "pog:823456789012345678")

# round(LogNormal(log 5, 0.9)) messages a conversation.
MEAN_MESSAGES = 5 * math.exp(0.9**2 / 2)
EVENTS_PER_MESSAGE = (
    1
    + TYPING_SHARE
    + EDITED_SHARE
    + DELETED_SHARE
    + REACTED_SHARE * (1 + 1 / math.expm1(1 / REACTIONS_AFTER_FIRST)) * (1 + REACTION_REMOVED_SHARE)
)
EVENTS_PER_CONVERSATION = MEAN_MESSAGES * EVENTS_PER_MESSAGE + THREAD_SHARE


def conversations_per_day(g: Guild) -> float:
    return g.chatters.total * MESSAGES_PER_CHAT_WEIGHT_DAY / MEAN_MESSAGES


@dataclass
class Conversation:
    guild: Guild
    channel_id: str
    participants: list[Member]
    remaining: int


class Chat:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rng = engine.rng

    def converse(self, g: Guild, ts: int) -> None:
        rng = self.rng
        starter = g.chatters.pick(rng)
        if starter is None:
            return
        others = (g.chatters.pick(rng) for _ in range(int(rng.expovariate(1 / 1.5))))
        participants = list(dict.fromkeys([starter, *(m for m in others if m is not None)]))
        size = max(1, min(150, round(rng.lognormvariate(math.log(5), 0.9))))
        conversation = Conversation(g, g.text_channel(rng), participants, size)
        if rng.random() < THREAD_SHARE:
            thread = {"parentId": conversation.channel_id, "autoArchiveMinutes": 1440}
            self.engine.emit(
                g, ts, "THREAD_CREATE", starter.user_id, channelId=snowflake(ts, rng), data=thread
            )
        self._speak(conversation, ts)

    def _speak(self, c: Conversation, ts: int) -> None:
        present = [m for m in c.participants if m.present]
        if not present:
            return
        # The earlier participants (the starter first) talk more.
        author = present[int(len(present) * self.rng.random() ** 1.5)]
        if self.rng.random() < TYPING_SHARE:
            self.engine.emit(c.guild, ts, "TYPING_START", author.user_id, channelId=c.channel_id)
            self.engine.at(ts + self.rng.randint(1500, 8000), self._message, (c, author))
        else:
            self._message((c, author), ts)

    def _message(self, speaker: tuple[Conversation, Member], ts: int) -> None:
        c, author = speaker
        rng, g = self.rng, c.guild
        message_id = snowflake(ts, rng)
        data = {"length": 1 + int(rng.lognormvariate(3.2, 1.0))}
        common = {"channelId": c.channel_id, "messageId": message_id}
        self.engine.emit(g, ts, EventType.MESSAGE_CREATE, author.user_id, **common, data=data)
        if not self.engine.warming:
            self._follow_ups(g, author, common, ts)
        c.remaining -= 1
        if c.remaining > 0:
            gap = 2000 + rng.expovariate(1 / 25_000)
            if rng.random() < 0.1:
                gap += rng.expovariate(1 / 240_000)
            self.engine.at(ts + int(gap), self._speak, c)

    def _follow_ups(self, g: Guild, author: Member, common: dict[str, str], ts: int) -> None:
        """Reactions by others, an edit, a delete: only for messages that were sent."""
        rng, at = self.rng, self.engine.at
        if rng.random() < REACTED_SHARE:
            for _ in range(1 + int(rng.expovariate(1 / REACTIONS_AFTER_FIRST))):
                reactor = g.chatters.pick(rng)
                if reactor is not None and reactor is not author:
                    emoji = rng.choice(EMOJIS)
                    later = ts + 1000 + int(rng.expovariate(1 / 120_000))
                    at(later, self._react, (g, reactor, author, common, emoji))
        if rng.random() < EDITED_SHARE:
            later = ts + 1000 + int(rng.expovariate(1 / 300_000))
            at(later, self._follow_up, (g, author, "MESSAGE_UPDATE", common))
        if rng.random() < DELETED_SHARE:
            later = ts + 1000 + int(rng.expovariate(1 / 1_200_000))
            at(later, self._follow_up, (g, author, EventType.MESSAGE_DELETE, common))

    def _react(self, reaction: tuple[Guild, Member, Member, dict[str, str], str], ts: int) -> None:
        g, reactor, author, common, emoji = reaction
        if not reactor.present:
            return
        data = {"messageAuthorId": author.user_id, "emoji": emoji}
        self.engine.emit(
            g, ts, EventType.MESSAGE_REACTION_ADD, reactor.user_id, **common, data=data
        )
        if self.rng.random() < REACTION_REMOVED_SHARE:
            later = ts + 1000 + int(self.rng.expovariate(1 / 600_000))
            removal = (g, reactor, EventType.MESSAGE_REACTION_REMOVE, common, data)
            self.engine.at(later, self._follow_up, removal)

    def _follow_up(self, what: tuple[Any, ...], ts: int) -> None:
        g, member, kind, common, *data = what
        if member.present:
            self.engine.emit(g, ts, kind, member.user_id, **common, data=data[0] if data else None)
