"""Events and requests for the stats-route tests: instants in, epoch ms out, one GET helper."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from fastapi.testclient import TestClient

from stats_platform.domain.instants import iso_z
from tests.testkit.api import GUILD

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# What the pipeline writes; the API tests' db fixture only empties what the API writes.
ROLLUP_TABLES = (
    "metrics_snapshots", "member_blocks", "member_stats",
    "member_stats_blocks", "computed_windows",
    "voice_sessions", "voice_checkpoints", "voice_checkpoint_marks",
)  # fmt: skip


def clear_rollups(db: psycopg.Connection) -> None:
    for table in ROLLUP_TABLES:
        db.execute(f"DELETE FROM {table}")


def midnight(days_ago: int) -> datetime:
    """UTC midnight `days_ago` days before today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def random_guild() -> str:
    """A guild of its own, for state kept in the app's Redis (shared by concurrent test runs)."""
    return str(10**17 + secrets.randbelow(10**17))


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def z(at: datetime) -> str:
    return iso_z(at)


def ev(kind: str, at: datetime, user: str | None, guild: str = GUILD, **fields: Any) -> dict:
    return {"type": kind, "guildId": guild, "userId": user, "timestamp": ms(at), **fields}


def msg(at: datetime, user: str, guild: str = GUILD) -> dict:
    return ev("MESSAGE_CREATE", at, user, guild, channelId="500")


def react(at: datetime, user: str, author: str, guild: str = GUILD) -> dict:
    return ev("MESSAGE_REACTION_ADD", at, user, guild, data={"messageAuthorId": author})


def voice(at: datetime, user: str, channel: str | None, guild: str = GUILD) -> dict:
    return ev("VOICE_STATE_UPDATE", at, user, guild, channelId=channel)


def join(at: datetime, user: str, guild: str = GUILD) -> dict:
    return ev("GUILD_MEMBER_ADD", at, user, guild)


def leave(at: datetime, user: str, guild: str = GUILD) -> dict:
    return ev("GUILD_MEMBER_REMOVE", at, user, guild)


def get_stats(
    client: TestClient,
    key: str | None,
    path: str,
    *,
    guild: str = GUILD,
    span: tuple[datetime, datetime] | None = None,
    **params: Any,
) -> httpx.Response:
    """GET /v1/guilds/{guild}/stats/{path}; `span` gives from/to, None values are left out."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    query = {k: v for k, v in params.items() if v is not None}
    if span is not None:
        query.update({"from": z(span[0]), "to": z(span[1])})
    return client.get(f"/v1/guilds/{guild}/stats/{path}", params=query, headers=headers)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def fixed_events(d: datetime) -> list[dict]:
    """The hand-checked set. d = day P (UTC midnight), d + DAY = day C, d - 2 days = day E.

    P: "10" sends 8 messages and 2 reactions to "9"'s messages. Active: {10}.
    C: "2" joins 09:00, is in voice 10:00:00-10:30:40 (30m40s), sends 1 message, reacts once
       to "9". "9" sends 3 messages, reacts twice to "10", is in voice 23:49:30 to C+1 00:20:00
       (10m30s in C, 20m the next day). "10" sends 3 messages and leaves the guild at 23:00.
       Active: {2, 9, 10}. Voice 30m40s + 10m30s = 41m10s -> 41 minutes (floors 30 + 10 = 40).
    E: "12" is in voice 08:00:00-08:30:50 (30m50s).
    """
    c, e = d + DAY, d - 2 * DAY
    return [
        *(msg(d + 9 * HOUR + i * MIN, "10") for i in range(8)),
        react(d + 10 * HOUR, "10", author="9"),
        react(d + 10 * HOUR + MIN, "10", author="9"),
        join(c + 9 * HOUR, "2"),
        voice(c + 10 * HOUR, "2", "700"),
        voice(c + 10 * HOUR + 30 * MIN + timedelta(seconds=40), "2", None),
        *(msg(c + 12 * HOUR + i * MIN, "9") for i in range(3)),
        *(msg(c + 13 * HOUR + i * MIN, "10") for i in range(3)),
        msg(c + 14 * HOUR, "2"),
        react(c + 15 * HOUR, "2", author="9"),
        react(c + 15 * HOUR + 10 * MIN, "9", author="10"),
        react(c + 15 * HOUR + 11 * MIN, "9", author="10"),
        leave(c + 23 * HOUR, "10"),
        voice(c + 23 * HOUR + 49 * MIN + timedelta(seconds=30), "9", "701"),
        voice(c + DAY + 20 * MIN, "9", None),
        voice(e + 8 * HOUR, "12", "700"),
        voice(e + 8 * HOUR + 30 * MIN + timedelta(seconds=50), "12", None),
    ]
