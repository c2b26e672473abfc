"""Discord event types the platform counts (contract §2); any other UPPER_SNAKE type is stored only."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    MESSAGE_CREATE = "MESSAGE_CREATE"
    MESSAGE_DELETE = "MESSAGE_DELETE"
    MESSAGE_REACTION_ADD = "MESSAGE_REACTION_ADD"
    MESSAGE_REACTION_REMOVE = "MESSAGE_REACTION_REMOVE"
    VOICE_STATE_UPDATE = "VOICE_STATE_UPDATE"
    GUILD_MEMBER_ADD = "GUILD_MEMBER_ADD"
    GUILD_MEMBER_REMOVE = "GUILD_MEMBER_REMOVE"


KNOWN_TYPES = frozenset(EventType)
