"""A configured database that does not exist: every command says so in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from stats_platform.storage.database import with_database
from tests.testkit.api import PROJECT_ROOT, free_port


@pytest.mark.parametrize(
    "command",
    [["db", "migrate"], ["keys", "list"], ["serve", "--port", "0"], ["env"]],
)
def test_a_missing_database_is_one_line_saying_what_to_do(
    database_url: str, command: list[str]
) -> None:
    name = f"stats_missing_{uuid.uuid4().hex[:8]}"
    url = with_database(database_url, name)
    if command[0] == "serve":
        command = ["serve", "--port", str(free_port())]
    done = subprocess.run(
        [sys.executable, "-m", "stats_platform.tools.cli", *command],
        cwd=PROJECT_ROOT,
        env={**os.environ, "STATS_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"STATS_DATABASE_URL names database '{name}', which does not exist on 127.0.0.1:5432:"
        f" create it (CREATE DATABASE {name}, or createdb), then run `stats-platform db migrate`;"
        " or unset STATS_DATABASE_URL to use the local default"
    ]
