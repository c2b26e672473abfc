"""Synthetic Discord events for benchmarks: the same seed and clock give the same events.

The mix is a busy bot's: mostly messages, then reactions (with `data.messageAuthorId`), voice
state changes, joins and leaves, and a few types the platform stores without counting. Guild
activity is heavy-tailed (a Zipf-like share per guild) and so is member activity inside a guild.
Timestamps are epoch milliseconds, sorted, within the last few hours, so every event passes
ingest validation for as long as a benchmark runs.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
# Accounts and guilds created from early 2015 to 2025: their snowflakes have 17 to 19 digits.
CREATED_FROM_MS = 1_422_500_000_000
CREATED_TO_MS = 1_740_000_000_000

TYPE_MIX: tuple[tuple[str, float], ...] = (
    ("MESSAGE_CREATE", 70.0),
    ("MESSAGE_REACTION_ADD", 9.0),
    ("MESSAGE_REACTION_REMOVE", 1.0),
    ("MESSAGE_DELETE", 2.5),
    ("VOICE_STATE_UPDATE", 9.0),
    ("GUILD_MEMBER_ADD", 2.0),
    ("GUILD_MEMBER_REMOVE", 1.0),
    ("GUILD_MEMBER_UPDATE", 1.5),
    ("TYPING_START", 3.5),
    ("THREAD_CREATE", 0.5),
)
EMOJIS = ("👍", "😂", "❤️", "🔥", "🎉", "👀", "kekw:912345678901234567", "pog:823456789012345678")


def snowflake(ms: int, rng: random.Random) -> str:
    """A Discord snowflake created at epoch-ms `ms`, as a decimal string."""
    return str(((ms - DISCORD_EPOCH_MS) << 22) | rng.getrandbits(22))


@dataclass(frozen=True)
class Guild:
    guild_id: str
    shard_id: int
    members: tuple[str, ...]
    text_channels: tuple[str, ...]
    voice_channels: tuple[str, ...]
    roles: tuple[str, ...]


def make_guilds(rng: random.Random, count: int, largest: int) -> tuple[list[Guild], list[float]]:
    """Guilds of Zipf-like size (rank r has about largest / r**1.1 members) and their share of traffic."""

    def created() -> int:
        return rng.randrange(CREATED_FROM_MS, CREATED_TO_MS)

    guilds, weights = [], []
    for rank in range(1, count + 1):
        weight = 1.0 / rank**1.1
        members = max(30, int(largest * weight))
        guilds.append(
            Guild(
                guild_id=snowflake(created(), rng),
                shard_id=rank % 16,
                members=tuple(snowflake(created(), rng) for _ in range(members)),
                text_channels=tuple(snowflake(created(), rng) for _ in range(3 + members // 500)),
                voice_channels=tuple(snowflake(created(), rng) for _ in range(1 + members // 2000)),
                roles=tuple(snowflake(created(), rng) for _ in range(5 + members // 1000)),
            )
        )
        weights.append(weight)
    return guilds, weights


def generate(
    n: int,
    *,
    seed: int = 0,
    now_ms: int | None = None,
    span_hours: float = 3.0,
    guilds: int = 50,
    largest_guild: int = 40_000,
) -> list[dict[str, Any]]:
    """`n` events as the bot sends them (camelCase dicts), oldest first, each with a unique `id`."""
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    pool, weights = make_guilds(rng, guilds, largest_guild)
    guild_cum = list(accumulate(weights))
    type_names = [name for name, _ in TYPE_MIX]
    type_cum = list(accumulate(w for _, w in TYPE_MIX))

    # Columns first, drawn in bulk, then one pass assembles the events.
    span_ms = int(span_hours * 3_600_000)
    stamps = sorted(now_ms - 60_000 - int(span_ms * rng.random()) for _ in range(n))
    kinds = rng.choices(type_names, cum_weights=type_cum, k=n)
    picks = rng.choices(pool, cum_weights=guild_cum, k=n)
    # Member activity is heavy-tailed too: u**3 puts most events on a guild's first members.
    skew = [rng.random() ** 3 for _ in range(n)]
    other = [rng.random() ** 3 for _ in range(n)]
    coins = [rng.random() for _ in range(n)]
    tag = f"{seed & 0xFFFF:04x}"

    events = []
    for i in range(n):
        g, ts, kind, coin = picks[i], stamps[i], kinds[i], coins[i]
        members = g.members
        event: dict[str, Any] = {
            "id": f"{tag}{i:010x}{rng.getrandbits(72):018x}",
            "type": kind,
            "guildId": g.guild_id,
            "userId": members[int(len(members) * skew[i])],
            "shardId": g.shard_id,
            "timestamp": ts,
        }
        if kind == "MESSAGE_CREATE":
            event["channelId"] = g.text_channels[int(len(g.text_channels) * other[i])]
            event["messageId"] = snowflake(ts, rng)
            data: dict[str, Any] = {"length": 1 + int(400 * coin**2)}
            if coin > 0.9:
                data["attachments"] = 1 + int(coin * 10) % 3
            if coin < 0.05:
                data["mentions"] = [members[int(len(members) * other[i])]]
            event["data"] = data
        elif kind in ("MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE"):
            event["channelId"] = g.text_channels[int(len(g.text_channels) * other[i])]
            event["messageId"] = snowflake(ts - int(600_000 * coin), rng)
            author = event["userId"] if coin < 0.05 else members[int(len(members) * other[i])]
            event["data"] = {"messageAuthorId": author, "emoji": EMOJIS[int(coin * len(EMOJIS))]}
        elif kind == "MESSAGE_DELETE":
            event["channelId"] = g.text_channels[int(len(g.text_channels) * other[i])]
            event["messageId"] = snowflake(ts - int(3_600_000 * coin), rng)
        elif kind == "VOICE_STATE_UPDATE":
            # About a third of voice updates are leaves (channelId null).
            joined = coin >= 0.33
            event["channelId"] = (
                g.voice_channels[int(len(g.voice_channels) * other[i])] if joined else None
            )
            event["data"] = {"selfMute": coin > 0.8, "selfDeaf": coin > 0.95}
        elif kind == "GUILD_MEMBER_ADD":
            event["data"] = {"inviteCode": f"inv{int(coin * 1000):03d}"} if coin < 0.5 else None
        elif kind == "GUILD_MEMBER_UPDATE":
            event["roleId"] = g.roles[int(len(g.roles) * other[i])]
        elif kind in ("TYPING_START", "THREAD_CREATE"):
            event["channelId"] = g.text_channels[int(len(g.text_channels) * other[i])]
            if kind == "THREAD_CREATE":
                event["data"] = {"name": f"thread {i}", "autoArchiveMinutes": 1440}
        events.append(event)
    return events
