"""The columns of each rollup table, declared once with how rows of many windows merge.

Polars schemas, COPY column lists and the SQL that reads or upserts these tables are built
from these declarations (`sql/` defines the tables; a test checks them against this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stats_platform.domain.events import EventType

Merge = Literal["sum", "min", "max"]


@dataclass(frozen=True)
class Measure:
    name: str
    merge: Merge
    """How rows of non-overlapping windows combine: counts add, first join is the earliest, the rest the latest."""

    @property
    def is_instant(self) -> bool:
        return self.merge != "sum"


MEMBER_MEASURES: tuple[Measure, ...] = (
    Measure("events", "sum"),
    Measure("messages", "sum"),
    Measure("reactions_given", "sum"),
    Measure("reactions_received", "sum"),
    Measure("voice_ms", "sum"),
    Measure("joins", "sum"),
    Measure("leaves", "sum"),
    Measure("first_join_at", "min"),
    Measure("last_message_at", "max"),
    Measure("last_voice_at", "max"),
    Measure("last_seen", "max"),
)
"""Member rows (the member blocks' columns): one per (guild, grain, window, user) with any activity."""
MEMBER_KEYS = ("guild_id", "period_start", "user_id")
MEMBER_COUNTS = tuple(m.name for m in MEMBER_MEASURES if m.merge == "sum")
MEMBER_LATEST = tuple(m.name for m in MEMBER_MEASURES if m.merge == "max")
MEMBER_INSTANTS = tuple(m.name for m in MEMBER_MEASURES if m.is_instant)
MEMBER_ACTIVITY_COLUMNS = (*MEMBER_KEYS, *(m.name for m in MEMBER_MEASURES))

SNAPSHOT_TYPE_COUNTS: dict[str, EventType] = {
    "total_messages": EventType.MESSAGE_CREATE,
    "total_reactions": EventType.MESSAGE_REACTION_ADD,
    "joins": EventType.GUILD_MEMBER_ADD,
    "leaves": EventType.GUILD_MEMBER_REMOVE,
}
"""Snapshot columns that count the events of one type in the window."""
SNAPSHOT_COUNTS = (
    "total_events",
    "total_messages",
    "total_reactions",
    "voice_ms",
    "unique_active_users",
    "joins",
    "leaves",
)
"""metrics_snapshots: one row per (guild, grain, window) with any activity."""
SNAPSHOT_FROM_MEMBERS = ("voice_ms", "unique_active_users")
"""Computed from the window's member rows: over many windows they come from merged member rows."""
SNAPSHOT_EVENT_COUNTS = tuple(c for c in SNAPSHOT_COUNTS if c not in SNAPSHOT_FROM_MEMBERS)
"""Counts of events: they add up over windows."""
SNAPSHOT_COLUMNS = ("guild_id", "period_start", "period_end", *SNAPSHOT_COUNTS, "data")

LIFETIME_FROM_MEMBER = {
    "messages": "total_messages",
    "voice_ms": "total_voice_ms",
    "reactions_given": "total_reactions_given",
    "reactions_received": "total_reactions_received",
    "last_message_at": "last_message_at",
    "last_voice_at": "last_voice_at",
    "last_seen": "last_seen",
    "first_join_at": "joined_at",
}
"""member_stats (lifetime) column of each member measure it is merged from."""
LIFETIME_COUNTS = tuple(
    LIFETIME_FROM_MEMBER[name] for name in MEMBER_COUNTS if name in LIFETIME_FROM_MEMBER
)
LIFETIME_INSTANTS = tuple(
    LIFETIME_FROM_MEMBER[name] for name in MEMBER_INSTANTS if name in LIFETIME_FROM_MEMBER
)
LIFETIME_LATEST = tuple(
    LIFETIME_FROM_MEMBER[name] for name in MEMBER_LATEST if name in LIFETIME_FROM_MEMBER
)
MEMBER_STATS_KEYS = ("guild_id", "user_id")
MEMBER_STATS_COLUMNS = (*MEMBER_STATS_KEYS, *LIFETIME_FROM_MEMBER.values())
