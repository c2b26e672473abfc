"""API keys: `sp_<key_id>_<secret>`, shown once at creation; the database keeps only a SHA-256.

key_id is public (it names the key in logs, lists and rate limits); the hash covers the whole key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg
from psycopg.rows import class_row

from stats_platform.domain.snowflakes import normalize_snowflake

Scope = Literal["ingest", "read"]
SCOPES: tuple[Scope, ...] = ("ingest", "read")
PREFIX = "sp"

_COLUMNS = "key_id, scope, all_guilds, guild_ids, name, created_at, revoked_at"


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    scope: str
    all_guilds: bool
    guild_ids: list[str]
    name: str | None
    created_at: datetime
    revoked_at: datetime | None

    def denied_guilds(self, guild_ids: Iterable[str]) -> list[str]:
        """The guilds among guild_ids this key may not touch (normalized ids expected)."""
        if self.all_guilds:
            return []
        allowed = set(self.guild_ids)
        return [g for g in guild_ids if g not in allowed]


def hash_key(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def create_key(
    conn: psycopg.Connection,
    *,
    scope: Scope,
    guild_ids: Iterable[str] = (),
    all_guilds: bool = False,
    name: str | None = None,
) -> tuple[ApiKey, str]:
    """Stores a new key and returns it with its plaintext, which is not kept anywhere."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    guilds = _normalized_guilds(guild_ids)
    if all_guilds == bool(guilds):
        raise ValueError("give either guild ids or all_guilds, not both and not neither")
    key_id = secrets.token_hex(6)
    plaintext = f"{PREFIX}_{key_id}_{secrets.token_hex(24)}"
    with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        cur.execute(
            f"INSERT INTO api_keys (key_id, key_hash, scope, all_guilds, guild_ids, name)"
            f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (key_id, hash_key(plaintext), scope, all_guilds, guilds, name),
        )
        key = cur.fetchone()
    assert key is not None
    return key, plaintext


def list_keys(conn: psycopg.Connection) -> list[ApiKey]:
    with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, key_id"
        ).fetchall()


def revoke_key(conn: psycopg.Connection, key_id: str) -> bool:
    """Revokes an active key; False when there is no such active key."""
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL",
        (key_id,),
    )
    return cur.rowcount == 1


def authenticate(conn: psycopg.Connection, presented: str) -> ApiKey | None:
    """The active key `presented` is, or None (malformed, unknown, wrong secret or revoked)."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    row = conn.execute(
        f"SELECT key_hash, {_COLUMNS} FROM api_keys WHERE key_id = %s AND revoked_at IS NULL",
        (parts[1],),
    ).fetchone()
    if row is None or not hmac.compare_digest(row[0], hash_key(presented)):
        return None
    return ApiKey(*row[1:])


def _normalized_guilds(guild_ids: Iterable[str]) -> list[str]:
    normalized = []
    for raw in guild_ids:
        guild = normalize_snowflake(raw)
        if guild is None:
            raise ValueError(f"guild id {raw!r} is not a snowflake (1 to 20 digits)")
        normalized.append(guild)
    return sorted(set(normalized), key=lambda g: (len(g), g))
