"""Where no PostgreSQL answers, the platform starts an embedded one under its data folder."""

from __future__ import annotations

from pathlib import Path

import pgserver
import psycopg
import pytest

from stats_platform.settings import Settings
from stats_platform.storage import database
from stats_platform.storage.migrations import discover, migrate


def test_no_server_on_the_default_address_starts_an_embedded_one_that_migrates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on 5499: the same as a machine without PostgreSQL on 127.0.0.1:5432.
    monkeypatch.setattr(
        database, "DEFAULT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5499/stats"
    )
    data_dir = tmp_path / "fresh" / ".data"  # its parent folders do not exist yet either
    pgdata = data_dir / "postgres"
    try:
        url = database.resolve_database_url(Settings(data_dir=data_dir))
        applied = migrate(url)
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT current_database(), stats_storage_mode()").fetchone()
    finally:
        database._embedded_server_url.cache_clear()
        # get_server hands back the platform's own handle, made to outlive its process
        # (cleanup_mode None); the test's server must stop with the test.
        server = pgserver.get_server(pgdata)
        server.cleanup_mode = "stop"
        server.cleanup()

    assert url == f"postgresql://postgres@/stats?host={pgdata}&port=5432"
    assert applied == [m.version for m in discover()]
    assert row == ("stats", "native")
