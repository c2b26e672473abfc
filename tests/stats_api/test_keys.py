"""API keys: stored as hashes, checked per scope and guild, managed from the command line."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator

import psycopg
import pytest
from click.testing import Result
from fastapi import APIRouter
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from stats_api.api.deps import ReadGuildDep
from stats_api.main import create_app
from stats_platform.settings import Settings
from stats_platform.storage.api_keys import authenticate, create_key, list_keys, revoke_key
from stats_platform.tools.cli import app as cli
from tests.testkit.api import FOREIGN_GUILD, GUILD, OTHER_GUILD

KEY_FORMAT = re.compile(r"sp_([0-9a-f]{12})_[0-9a-f]{48}")

probe = APIRouter(prefix="/v1/guilds/{guildId}", tags=["probe"])


@probe.get("/probe")
def read_probe(guild_id: ReadGuildDep) -> dict[str, str]:
    return {"guild": guild_id}


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


@pytest.fixture
def reader(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """An app with a probe route behind ReadGuildDep, as the stats routes use it."""
    started: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        app = create_app(settings.model_copy(update=overrides))
        app.include_router(probe)
        client = TestClient(app)
        client.__enter__()
        started.append(client)
        return client

    yield make
    for client in started:
        client.__exit__(None, None, None)


def test_read_key_sees_its_guilds_and_nothing_else(
    reader: Callable[..., TestClient], db: psycopg.Connection
) -> None:
    client = reader()
    _, read_key = create_key(db, scope="read", guild_ids=[GUILD, OTHER_GUILD])
    _, ingest_key = create_key(db, scope="ingest", guild_ids=[GUILD])

    def get(guild: str, key: str | None) -> tuple[int, object]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = client.get(f"/v1/guilds/{guild}/probe", headers=headers)
        return response.status_code, response.json()

    assert get(GUILD, read_key) == (200, {"guild": GUILD})
    assert get("00" + OTHER_GUILD, read_key) == (200, {"guild": OTHER_GUILD})
    assert get(FOREIGN_GUILD, read_key) == (404, {"detail": f"guild {FOREIGN_GUILD} not found"})
    assert get("not-a-guild", read_key) == (404, {"detail": "guild not-a-guild not found"})
    assert get(GUILD, None)[0] == 401
    assert get(GUILD, ingest_key)[0] == 403


def test_read_check_is_open_when_auth_is_off(reader: Callable[..., TestClient]) -> None:
    client = reader(auth="off")
    assert client.get(f"/v1/guilds/{FOREIGN_GUILD}/probe").json() == {"guild": FOREIGN_GUILD}


@pytest.fixture
def run_cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """Invokes `stats-platform` in-process against the test database; restores logging after."""
    monkeypatch.setenv("STATS_DATABASE_URL", database_url)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, list(args))
    root.handlers, root.level = handlers, level


def test_keys_cli_creates_lists_and_revokes(
    run_cli: Callable[..., Result], db: psycopg.Connection
) -> None:
    created = run_cli(
        "keys", "create", "--scope", "ingest", "--guild", "0042", "--guild", "7", "--name", "bot"
    )
    assert created.exit_code == 0
    plaintext = created.stdout.strip()
    match = KEY_FORMAT.fullmatch(plaintext)
    assert match is not None
    key_id = match.group(1)
    assert authenticate(db, plaintext) is not None

    listed = run_cli("keys", "list").stdout
    assert re.fullmatch(rf"{key_id}  ingest  guilds 7,42 'bot'  created \S+ \S+  active\n", listed)
    assert run_cli("keys", "revoke", key_id).stdout == f"revoked {key_id}\n"
    assert authenticate(db, plaintext) is None
    again = run_cli("keys", "revoke", key_id)
    assert again.exit_code == 1


def test_keys_cli_refuses_missing_or_doubled_guild_choice(
    run_cli: Callable[..., Result], db: psycopg.Connection
) -> None:
    assert run_cli("keys", "create", "--scope", "read").exit_code == 2
    both = run_cli("keys", "create", "--scope", "read", "--all-guilds", "--guild", "1")
    assert both.exit_code == 2
    assert run_cli("keys", "create", "--scope", "admin", "--all-guilds").exit_code == 2
    assert list_keys(db) == []
