"""`stats-platform keys`: API keys created, listed and revoked from the command line."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

import psycopg
import pytest
from click.testing import Result
from typer.testing import CliRunner

from stats_platform.storage.api_keys import authenticate, list_keys
from stats_platform.tools.cli import app as cli
from tests.testkit.api import KEY_FORMAT


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
