"""Versioned SQL migrations from sql/: ordered, applied once, checksummed, serialized by an advisory lock.

Every migration runs under a `lock_timeout`: one that cannot take its locks gives up, lets the
statements queued behind it (ingest's INSERTs) through, and tries again after a backoff. A file
whose first line is `-- migration: no-transaction` is a list of steps (separated by
`-- step` lines) that each commit on their own; a `-- step: repeat` step runs again until it
changes no row, which is how a large table is backfilled in batches (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psycopg

from stats_platform.settings import PROJECT_ROOT, Settings, get_settings
from stats_platform.storage import blocks

log = logging.getLogger("stats.migrations")

MIGRATIONS_DIR = PROJECT_ROOT / "sql"
# Any constant works; it only has to be the same for every process that migrates this database.
MIGRATION_LOCK_ID = 0x57A75_0001
NO_TRANSACTION = "-- migration: no-transaction"
_STEP = re.compile(r"^-- step(: repeat)?[ \t]*$", re.MULTILINE)


DATA_STEPS: dict[str, Callable[[psycopg.Connection], object]] = {
    "0005_member_blocks": blocks.build_from_member_rows,
}
"""Data a migration moves, in Python, in the same transaction as its SQL."""


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class LockPolicy:
    """How long a statement waits for a lock, and how often a migration tries again."""

    lock_timeout_ms: int
    attempts: int
    backoff_ms: int = 500
    max_backoff_ms: int = 15_000

    @classmethod
    def from_settings(cls, settings: Settings) -> LockPolicy:
        return cls(
            lock_timeout_ms=settings.migration_lock_timeout_ms,
            attempts=settings.migration_lock_attempts,
        )

    def pause(self, attempt: int) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): doubling, bounded."""
        return min(self.backoff_ms * 2 ** (attempt - 1), self.max_backoff_ms) / 1000


@dataclass(frozen=True)
class Step:
    sql: str
    repeat: bool = False


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def transactional(self) -> bool:
        return not self.path.read_text().startswith(NO_TRANSACTION)

    def steps(self) -> list[Step]:
        """A no-transaction file's steps, in order (the text before the first `-- step` included)."""
        text = self.path.read_text()
        parts = _STEP.split(text)
        steps = [Step(parts[0])] + [
            Step(body, repeat=bool(marker))
            for marker, body in zip(parts[1::2], parts[2::2], strict=True)
        ]
        return [s for s in steps if _has_sql(s.sql)]


def _has_sql(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())


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


def migrate(
    url: str,
    *,
    timescaledb: str = "auto",
    directory: Path = MIGRATIONS_DIR,
    locks: LockPolicy | None = None,
) -> list[str]:
    """Apply every pending migration; returns the versions applied (empty when up to date)."""
    locks = locks or LockPolicy.from_settings(get_settings())
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
                _apply(conn, migration, timescaledb, locks)
            return [m.version for m in todo]
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))


def is_current(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> bool:
    try:
        return not pending(conn, directory)
    except MigrationError:
        return False


def _apply(
    conn: psycopg.Connection, migration: Migration, timescaledb: str, locks: LockPolicy
) -> None:
    if migration.transactional:
        _with_retries(
            migration.version, locks, partial(_run_whole, conn, migration, timescaledb, locks)
        )
        log.info("applied migration %s", migration.version)
        return
    for number, step in enumerate(migration.steps(), start=1):
        run = partial(_run_step, conn, step, locks)
        changed = None
        while changed is None or (step.repeat and changed):
            changed = _with_retries(f"{migration.version} step {number}", locks, run)
            log.info("migration %s step %d: %d rows", migration.version, number, changed)
    conn.execute(
        "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
        (migration.version, migration.checksum),
    )
    log.info("applied migration %s", migration.version)


def _run_whole(
    conn: psycopg.Connection, migration: Migration, timescaledb: str, locks: LockPolicy
) -> int:
    with conn.transaction():
        _set_lock_timeout(conn, locks, local=True)
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
    return 0


def _run_step(conn: psycopg.Connection, step: Step, locks: LockPolicy) -> int:
    """One step in autocommit (CREATE INDEX CONCURRENTLY needs that); returns the rows it changed."""
    _set_lock_timeout(conn, locks, local=False)
    try:
        return max(conn.execute(step.sql).rowcount, 0)  # type: ignore[call-overload]
    finally:
        conn.execute("RESET lock_timeout")


def _set_lock_timeout(conn: psycopg.Connection, locks: LockPolicy, *, local: bool) -> None:
    conn.execute("SELECT set_config('lock_timeout', %s, %s)", (f"{locks.lock_timeout_ms}ms", local))


def _with_retries(label: str, locks: LockPolicy, run: Callable[[], int]) -> int:
    """Runs `run` until it takes its locks in time, pausing longer after each failure."""
    for attempt in range(1, locks.attempts + 1):
        try:
            return run()
        except psycopg.errors.LockNotAvailable:
            if attempt == locks.attempts:
                raise MigrationError(
                    f"migration {label} could not take its locks in {locks.attempts} attempts"
                    f" of {locks.lock_timeout_ms} ms; find the long transaction holding them"
                    " (pg_stat_activity) and run `stats-platform db migrate` again"
                ) from None
            pause = locks.pause(attempt)
            log.warning(
                "migration %s: lock not available within %d ms (attempt %d of %d); retrying in %.1f s",
                label,
                locks.lock_timeout_ms,
                attempt,
                locks.attempts,
                pause,
            )
            time.sleep(pause)
    raise AssertionError("unreachable")


def _refuse_edited(migrations: list[Migration], done: dict[str, str]) -> None:
    for m in migrations:
        if m.version in done and done[m.version] != m.checksum:
            raise MigrationError(
                f"migration {m.version} was edited after it was applied "
                f"(recorded checksum {done[m.version][:12]}, file now {m.checksum[:12]}); "
                "add a new migration instead of changing an applied one"
            )
