"""Migrations never hold up ingestion: they wait at most lock_timeout for a lock, then retry.

A long transaction (here: an open read of `events`) holds a lock the migration needs. While the
migration waits for it, every INSERT into events queues behind the migration; lock_timeout
bounds that wait, and the migration tries again after a backoff until the lock is free.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from stats_platform.storage.migrations import LockPolicy, MigrationError, migrate

ADD_COLUMN = "ALTER TABLE events ADD COLUMN shard_group integer;"
RETRY_MESSAGE = "lock not available"
INSERT_EVENT = (
    "INSERT INTO events (ts, received_at, guild_id, dedup_key, type)"
    " VALUES (%s, now(), '100', %s, 'MESSAGE_CREATE')"
)


@pytest.fixture
def migrated(fresh_database_url: str) -> str:
    migrate(fresh_database_url)
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        today = datetime.now(UTC).date()
        conn.execute("SELECT stats_ensure_event_partitions(%s, %s)", (today, today))
    return fresh_database_url


@pytest.fixture
def long_reader(migrated: str) -> Iterator[psycopg.Connection]:
    """A transaction that has read `events` and stays open: it holds ACCESS SHARE on the table."""
    with psycopg.connect(migrated) as conn:
        conn.execute("SELECT count(*) FROM events").fetchone()
        yield conn


def retries(caplog: pytest.LogCaptureFixture) -> int:
    return sum(RETRY_MESSAGE in r.getMessage() for r in caplog.records)


def wait_for(condition: Callable[[], bool]) -> None:
    """Polls until `condition` holds; the deadline only stops a broken test from hanging."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.05)


def in_background(run: Callable[[], object]) -> tuple[threading.Thread, list]:
    outcome: list = []

    def target() -> None:
        try:
            outcome.append(run())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def test_a_blocked_migration_retries_and_then_succeeds(migrated, long_reader, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="stats.migrations")
    (tmp_path / "9001_add_shard_group.sql").write_text(ADD_COLUMN)
    locks = LockPolicy(lock_timeout_ms=50, attempts=1000, backoff_ms=20, max_backoff_ms=100)
    thread, outcome = in_background(lambda: migrate(migrated, directory=tmp_path, locks=locks))

    wait_for(lambda: retries(caplog) >= 3)
    long_reader.commit()
    thread.join()

    assert outcome == [["9001_add_shard_group"]]
    with psycopg.connect(migrated) as conn:
        assert conn.execute(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'events' AND column_name = 'shard_group'"
        ).fetchone() == (1,)


def test_a_migration_that_never_gets_its_lock_fails_and_records_nothing(
    migrated, long_reader, tmp_path
):
    (tmp_path / "9001_add_shard_group.sql").write_text(ADD_COLUMN)
    locks = LockPolicy(lock_timeout_ms=20, attempts=3, backoff_ms=10)
    with pytest.raises(MigrationError, match="could not take its locks in 3 attempts"):
        migrate(migrated, directory=tmp_path, locks=locks)
    long_reader.commit()
    with psycopg.connect(migrated) as conn:
        assert conn.execute(
            "SELECT count(*) FROM schema_migrations WHERE version = '9001_add_shard_group'"
        ).fetchone() == (0,)


def insert_with_lock_timeout(url: str, key: str, lock_timeout: str) -> None:
    """An ingest INSERT that fails (LockNotAvailable) if it waits for a lock longer than `lock_timeout`."""
    with psycopg.connect(url) as conn:
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (lock_timeout,))
        conn.execute(INSERT_EVENT, (datetime.now(UTC), key))


def test_ingest_waits_behind_a_blocked_migration_no_longer_than_its_lock_timeout(
    migrated, long_reader, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="stats.migrations")
    (tmp_path / "9001_add_shard_group.sql").write_text(ADD_COLUMN)
    locks = LockPolicy(lock_timeout_ms=200, attempts=1000, backoff_ms=20, max_backoff_ms=50)
    thread, outcome = in_background(lambda: migrate(migrated, directory=tmp_path, locks=locks))

    # Each INSERT is allowed to wait 5x the migration's lock_timeout for its own lock: without
    # the migration's timeout it would queue behind it until the long reader commits (below).
    for n in range(10):
        wait_for(lambda n=n: retries(caplog) > n)
        insert_with_lock_timeout(migrated, f"during-{n}", "1000ms")
    long_reader.commit()
    thread.join()

    assert outcome == [["9001_add_shard_group"]]
    with psycopg.connect(migrated) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (10,)


def test_without_a_lock_timeout_ingest_queues_behind_the_waiting_migration(
    migrated, long_reader, tmp_path
):
    """The failure the setting prevents: a migration waiting for ever blocks every INSERT."""
    (tmp_path / "9001_add_shard_group.sql").write_text(ADD_COLUMN)
    patient = LockPolicy(lock_timeout_ms=60_000, attempts=1)
    thread, outcome = in_background(lambda: migrate(migrated, directory=tmp_path, locks=patient))
    with psycopg.connect(migrated, autocommit=True) as watcher:
        wait_for(
            lambda: (
                watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE events%'"
                ).fetchone()
                == (1,)
            )
        )
    with pytest.raises(psycopg.errors.LockNotAvailable):
        insert_with_lock_timeout(migrated, "queued", "300ms")
    long_reader.commit()
    thread.join()
    assert outcome == [["9001_add_shard_group"]]


BATCHED = """-- migration: no-transaction
-- Expand: a nullable column with no default is instant, whatever the table's size.
ALTER TABLE member_stats ADD COLUMN IF NOT EXISTS active boolean;
-- step: repeat
UPDATE member_stats SET active = total_messages > 0
WHERE (guild_id, user_id) IN (
    SELECT guild_id, user_id FROM member_stats WHERE active IS NULL LIMIT 3);
-- step
CREATE INDEX CONCURRENTLY IF NOT EXISTS member_stats_active ON member_stats (active);
"""
SEED_MEMBER_ROWS = """
INSERT INTO member_stats (guild_id, user_id, total_messages)
SELECT '100', n::text, n % 2 FROM generate_series(1, 10) n
"""


def test_a_no_transaction_migration_backfills_in_batches_each_committed(migrated, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stats.migrations")
    with psycopg.connect(migrated) as conn:
        conn.execute(SEED_MEMBER_ROWS)
    (tmp_path / "9002_member_active_batched.sql").write_text(BATCHED)

    assert migrate(migrated, directory=tmp_path) == ["9002_member_active_batched"]

    # 10 rows in batches of 3, each its own transaction; the empty batch ends the step.
    assert [r.args for r in caplog.records if "rows" in r.getMessage()] == [
        ("9002_member_active_batched", 1, 0),
        ("9002_member_active_batched", 2, 3),
        ("9002_member_active_batched", 2, 3),
        ("9002_member_active_batched", 2, 3),
        ("9002_member_active_batched", 2, 1),
        ("9002_member_active_batched", 2, 0),
        ("9002_member_active_batched", 3, 0),
    ]
    with psycopg.connect(migrated) as conn:
        assert conn.execute(
            "SELECT count(*) FILTER (WHERE active), count(*) FILTER (WHERE NOT active)"
            " FROM member_stats"
        ).fetchone() == (5, 5)
        assert conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'member_stats_active'::regclass"
        ).fetchone() == (True,)
