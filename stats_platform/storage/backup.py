"""Backups of the stats database with pg_dump's custom format, and their restore into a new one.

Dagster's own database (`<name>_dagster`: run history, schedule and sensor state) is not part of
it: the stats database alone holds every event, rollup and the record of computed windows.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import psycopg

from stats_platform.storage.database import create_database_if_missing
from stats_platform.storage.scripts import script

log = logging.getLogger("stats.backup")


class BackupError(RuntimeError):
    pass


def backup(url: str, path: Path) -> None:
    """Writes the whole database to `path` (pg_dump -Fc: compressed, restorable in parts)."""
    _run("pg_dump", "--format=custom", f"--file={path}", f"--dbname={url}")
    log.info("backed up the database to %s", path)


def restore(url: str, path: Path) -> bool:
    """Restores `path` into the database at `url`, created if missing and refused unless empty.

    Returns whether the backup holds TimescaleDB, restored between TimescaleDB's
    timescaledb_pre_restore() and timescaledb_post_restore(), as its documentation requires.
    """
    if not path.is_file():
        raise BackupError(f"no backup at {path}")
    create_database_if_missing(url)
    timescaledb = _holds_timescaledb(path)
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
        ).fetchone()
        if tables and tables[0]:
            raise BackupError("the database to restore into is not empty: name a new database")
        # Roles belong to the server, not the dump: the grants to stats_reader need it.
        conn.execute(script(__file__, "create_reader_role.sql"))  # type: ignore[call-overload]
        if timescaledb:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            conn.execute("SELECT timescaledb_pre_restore()")
        try:
            # No --jobs: TimescaleDB's catalog must be restored in order; --no-owner: the new
            # server's restoring role owns everything, whatever the old owner was called.
            flags = [] if timescaledb else ["--exit-on-error"]
            _run("pg_restore", "--no-owner", *flags, f"--dbname={url}", str(path))
        finally:
            if timescaledb:
                conn.execute("SELECT timescaledb_post_restore()")
    log.info("restored %s into the database", path)
    return timescaledb


def _holds_timescaledb(path: Path) -> bool:
    listing = _run("pg_restore", "--list", str(path))
    return any(" EXTENSION " in line and "timescaledb" in line for line in listing.splitlines())


def _run(tool: str, *args: str) -> str:
    binary = shutil.which(tool)
    if binary is None:
        raise BackupError(f"{tool} is not installed: it comes with the PostgreSQL client tools")
    done = subprocess.run([binary, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout
