"""The simulated communities: guilds of heavy-tailed size, members of heavy-tailed activity.

Sizes and activity follow Pareto laws: most guilds are small and a few are large, most members
lurk and a few write most of the messages. Everything is drawn from the model's seeded
`random.Random`, in a fixed order, so a seed always builds the same world.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

DISCORD_EPOCH_MS = 1_420_070_400_000
# Guilds, channels and accounts created from 2015 to 2025: snowflakes of 17 to 19 digits.
CREATED_FROM_MS = 1_422_500_000_000
CREATED_TO_MS = 1_740_000_000_000

LURKER_SHARE = 0.35
LURKER_CHAT_WEIGHT = 0.03
VOICE_USER_SHARE = 0.35


def snowflake(ms: int, rng: random.Random) -> str:
    """A Discord snowflake created at epoch-ms `ms` (random worker, process and increment bits)."""
    return str(((ms - DISCORD_EPOCH_MS) << 22) | rng.getrandbits(22))


def created_snowflake(rng: random.Random, until_ms: int = CREATED_TO_MS) -> str:
    return snowflake(rng.randrange(CREATED_FROM_MS, until_ms), rng)


@dataclass(eq=False)  # identity: two members are never the same person
class Member:
    user_id: str
    chat: float  # relative message activity
    voice: float  # relative voice activity; 0 for those who never join voice
    present: bool = True
    voice_busy_until: int = 0  # the end of the voice session the member is in (or abandoned)


def draw_member(rng: random.Random, user_id: str) -> Member:
    chat = LURKER_CHAT_WEIGHT if rng.random() < LURKER_SHARE else min(rng.paretovariate(1.4), 200)
    voice = min(rng.paretovariate(1.5), 100) if rng.random() < VOICE_USER_SHARE else 0.0
    return Member(user_id=user_id, chat=chat, voice=voice)


class WeightedPicker:
    """Draws present members in proportion to one weight attribute.

    Append-only, so a join costs O(1) and a draw O(log n) however large the guild: members who
    left keep their slot and a draw that lands on one is redrawn.
    """

    def __init__(self, attribute: str, members: list[Member]) -> None:
        self._attribute = attribute
        self._members: list[Member] = []
        self._cum: list[float] = []
        for member in members:
            self.add(member)

    @property
    def total(self) -> float:
        return self._cum[-1] if self._cum else 0.0

    def add(self, member: Member) -> None:
        weight = getattr(member, self._attribute)
        if weight > 0:
            self._members.append(member)
            self._cum.append(self.total + weight)

    def pick(self, rng: random.Random) -> Member | None:
        for _ in range(8):
            if not self._members:
                return None
            index = bisect_right(self._cum, rng.random() * self.total)
            member = self._members[min(index, len(self._members) - 1)]
            if member.present:
                return member
        return None


@dataclass
class Guild:
    guild_id: str
    shard_id: int
    members: list[Member]
    text_channels: tuple[str, ...]
    voice_channels: tuple[str, ...]
    roles: tuple[str, ...]
    chatters: WeightedPicker = field(init=False)
    talkers: WeightedPicker = field(init=False)
    _text_cum: list[float] = field(init=False)

    def __post_init__(self) -> None:
        # Channel popularity is Zipf-like: #general first.
        self._text_cum = list(accumulate(1 / (r + 1) for r in range(len(self.text_channels))))
        self.chatters = WeightedPicker("chat", self.members)
        self.talkers = WeightedPicker("voice", self.members)

    def join(self, member: Member) -> None:
        self.members.append(member)
        self.chatters.add(member)
        self.talkers.add(member)

    def text_channel(self, rng: random.Random) -> str:
        index = bisect_right(self._text_cum, rng.random() * self._text_cum[-1])
        return self.text_channels[min(index, len(self.text_channels) - 1)]


def guild_size(rng: random.Random, scale: int) -> int:
    """Pareto(1.3) sizes with median about `scale`, at least 5 and at most 30 times `scale`."""
    return max(5, min(30 * scale, int(scale * 0.6 * rng.paretovariate(1.3))))


def build_guilds(rng: random.Random, count: int, members_per_guild: int) -> list[Guild]:
    shards = 1 + count // 25
    # Sizes first, so a guild's size does not depend on how many members came before it.
    sizes = [guild_size(rng, members_per_guild) for _ in range(count)]
    guilds = []
    for size in sizes:
        guild_id = created_snowflake(rng)
        members = [draw_member(rng, created_snowflake(rng)) for _ in range(size)]
        guilds.append(
            Guild(
                guild_id=guild_id,
                # Discord's sharding formula.
                shard_id=(int(guild_id) >> 22) % shards,
                members=members,
                text_channels=tuple(created_snowflake(rng) for _ in range(min(25, 2 + size // 80))),
                voice_channels=tuple(
                    created_snowflake(rng) for _ in range(min(8, 1 + size // 150))
                ),
                roles=tuple(created_snowflake(rng) for _ in range(min(30, 3 + size // 200))),
            )
        )
    return guilds
