"""Versioned SQL migrations from sql/: ordered, applied once, checksummed, serialized by an advisory lock."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from stats_platform.settings import PROJECT_ROOT
from stats_platform.storage import blocks

log = logging.getLogger("stats.migrations")

MIGRATIONS_DIR = PROJECT_ROOT / "sql"
# Any constant works; it only has to be the same for every process that migrates this database.
MIGRATION_LOCK_ID = 0x57A75_0001


DATA_STEPS: dict[str, Callable[[psycopg.Connection], object]] = {
    "0005_member_blocks": blocks.build_from_member_rows,
}
"""Data a migration moves, in Python, in the same transaction as its SQL."""


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    files = sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    return [Migration(version=f.stem, path=f) for f in files]


def applied(conn: psycopg.Connection) -> dict[str, str]:
    """version -> checksum of every migration recorded in this database."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    return dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())


def pending(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    done = applied(conn)
    _refuse_edited(discover(directory), done)
    return [m for m in discover(directory) if m.version not in done]


def migrate(url: str, *, timescaledb: str = "auto", directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; returns the versions applied (empty when up to date)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            todo = pending(conn, directory)
            for migration in todo:
                _apply(conn, migration, timescaledb)
            return [m.version for m in todo]
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))


def is_current(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> bool:
    try:
        return not pending(conn, directory)
    except MigrationError:
        return False


def _apply(conn: psycopg.Connection, migration: Migration, timescaledb: str) -> None:
    with conn.transaction():
        # The DDL reads this to choose hypertables or native partitions (see sql/0001).
        conn.execute("SELECT set_config('stats.timescaledb', %s, true)", (timescaledb,))
        conn.execute(migration.path.read_text())  # type: ignore[call-overload]
        step = DATA_STEPS.get(migration.version)
        if step is not None:
            log.info("migration %s moved %s", migration.version, step(conn))
        conn.execute(
            "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
            (migration.version, migration.checksum),
        )
    log.info("applied migration %s", migration.version)


def _refuse_edited(migrations: list[Migration], done: dict[str, str]) -> None:
    for m in migrations:
        if m.version in done and done[m.version] != m.checksum:
            raise MigrationError(
                f"migration {m.version} was edited after it was applied "
                f"(recorded checksum {done[m.version][:12]}, file now {m.checksum[:12]}); "
                "add a new migration instead of changing an applied one"
            )
