"""API keys in the key store: stored as hashes, given guilds or all guilds, authenticated exactly."""

from __future__ import annotations

import hashlib

import psycopg
import pytest

from stats_platform.storage.api_keys import authenticate, create_key, list_keys, revoke_key
from tests.testkit.api import GUILD, KEY_FORMAT


def test_only_the_hash_of_a_key_is_stored(db: psycopg.Connection) -> None:
    key, plaintext = create_key(db, scope="ingest", guild_ids=["0042", "7", "42"], name="bot")
    match = KEY_FORMAT.fullmatch(plaintext)
    assert match is not None and match.group(1) == key.key_id
    row = db.execute("SELECT key_id, key_hash, scope, all_guilds, guild_ids, name FROM api_keys")
    assert row.fetchall() == [
        (
            key.key_id,
            hashlib.sha256(plaintext.encode()).hexdigest(),
            "ingest",
            False,
            ["7", "42"],
            "bot",
        )
    ]


def test_key_needs_guilds_or_all_guilds_and_valid_ids(db: psycopg.Connection) -> None:
    with pytest.raises(ValueError, match="not both and not neither"):
        create_key(db, scope="read")
    with pytest.raises(ValueError, match="not both and not neither"):
        create_key(db, scope="read", guild_ids=[GUILD], all_guilds=True)
    with pytest.raises(ValueError, match="'12x' is not a snowflake"):
        create_key(db, scope="read", guild_ids=["12x"])
    assert list_keys(db) == []


def test_authenticate_accepts_only_the_exact_active_key(db: psycopg.Connection) -> None:
    key, plaintext = create_key(db, scope="read", all_guilds=True)
    assert authenticate(db, plaintext) == key
    assert authenticate(db, plaintext + "0") is None
    assert authenticate(db, plaintext.replace("sp_", "xx_", 1)) is None
    assert authenticate(db, "sp_only-two") is None
    assert revoke_key(db, key.key_id) is True
    assert revoke_key(db, key.key_id) is False
    assert authenticate(db, plaintext) is None
