"""Migrations: applied once, in order, checksummed; concurrent runs serialize."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from stats_platform.domain.events import EventType
from stats_platform.storage.migrations import MigrationError, discover, is_current, migrate


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


def test_migrating_twice_applies_everything_once(fresh_database_url: str) -> None:
    every = [m.version for m in discover()]
    assert every[:3] == ["0001_events", "0002_api_keys", "0003_rollups"]
    assert migrate(fresh_database_url) == every
    assert migrate(fresh_database_url) == []
    with psycopg.connect(fresh_database_url) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        assert [r[0] for r in rows] == every
        assert is_current(conn)


def test_an_edited_applied_migration_is_refused(fresh_database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x int);")
    assert migrate(fresh_database_url, directory=tmp_path) == ["0001_a"]
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x bigint);")
    write(tmp_path, "0002_b.sql", "CREATE TABLE b (x int);")
    with pytest.raises(MigrationError, match="migration 0001_a was edited after it was applied"):
        migrate(fresh_database_url, directory=tmp_path)
    with psycopg.connect(fresh_database_url) as conn:
        assert not is_current(conn, tmp_path)
        assert conn.execute("SELECT to_regclass('b')").fetchone() == (None,)


def test_new_migration_files_are_applied_in_order(fresh_database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x int);")
    assert migrate(fresh_database_url, directory=tmp_path) == ["0001_a"]
    write(tmp_path, "0003_c.sql", "INSERT INTO b VALUES (3);")
    write(tmp_path, "0002_b.sql", "CREATE TABLE b (x int);")
    assert migrate(fresh_database_url, directory=tmp_path) == ["0002_b", "0003_c"]


def test_a_failing_migration_leaves_nothing_behind(fresh_database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x int); SELECT 1 / 0;")
    with pytest.raises(psycopg.errors.DivisionByZero):
        migrate(fresh_database_url, directory=tmp_path)
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT to_regclass('a')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (0,)


def test_concurrent_migrations_apply_once(fresh_database_url: str, tmp_path: Path) -> None:
    # The sleep keeps the first run inside its lock while the second arrives.
    write(tmp_path, "0001_slow.sql", "SELECT pg_sleep(0.5); CREATE TABLE once (x int);")
    start = threading.Barrier(2)
    results: list[list[str]] = []
    failures: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            results.append(migrate(fresh_database_url, directory=tmp_path))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(results) == [[], ["0001_slow"]]
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (1,)


def test_the_voice_events_index_is_built_on_existing_partitions_one_at_a_time(
    fresh_database_url: str, tmp_path: Path
) -> None:
    """A database at 0007 with three days of partitions, one voice event on the middle day."""
    for m in discover():
        if m.version < "0008":
            write(tmp_path, m.path.name, m.path.read_text())
    migrate(fresh_database_url, directory=tmp_path)
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute("SELECT stats_ensure_event_partitions('2026-01-01', '2026-01-03')")
        conn.execute(
            "INSERT INTO events (guild_id, ts, received_at, type, user_id, channel_id, dedup_key)"
            " VALUES ('1', '2026-01-02 10:00+00', now(), %s, '5', '800', 'k')",
            (EventType.VOICE_STATE_UPDATE,),
        )
        conn.commit()
        before = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass"
        ).fetchone()

    assert migrate(fresh_database_url) == ["0008_voice_events_index", "0009_drop_member_activity"]
    with psycopg.connect(fresh_database_url) as conn:
        attached = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events_voice_guild_ts'::regclass"
        ).fetchone()
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_voice_guild_ts'::regclass"
        ).fetchone()
        conn.execute("SET enable_seqscan = off")
        plan = conn.execute(
            "EXPLAIN SELECT user_id FROM events WHERE guild_id = '1' AND type = %s"
            " AND ts >= '2026-01-02' AND ts < '2026-01-03'",
            (EventType.VOICE_STATE_UPDATE.value,),
        ).fetchall()
        assert conn.execute("SELECT to_regproc('stats_index_voice_events')").fetchone() == (None,)
    assert before is not None and before[0] >= 3
    assert attached == before and valid == (True,)
    assert "events_p20260102_voice_guild_ts" in " ".join(line for (line,) in plan)


def test_the_voice_events_index_names_the_voice_type_as_the_domain_does(
    fresh_database_url: str,
) -> None:
    """sql/0008 writes the type out (a partial index's predicate is a literal); a renamed type
    would leave the index unused, not wrong, so this is where it shows."""
    migrate(fresh_database_url)
    with psycopg.connect(fresh_database_url) as conn:
        predicate = conn.execute(
            "SELECT pg_get_expr(indpred, indrelid), indisvalid FROM pg_index"
            " WHERE indexrelid = 'events_voice_guild_ts'::regclass"
        ).fetchone()
        # Built a partition at a time (see sql/0008): valid once every partition's is attached.
        unattached = conn.execute(
            "SELECT count(*) FROM pg_inherits i WHERE i.inhparent = 'events'::regclass"
            " AND NOT EXISTS (SELECT 1 FROM pg_inherits x JOIN pg_index ix"
            " ON ix.indexrelid = x.inhrelid WHERE x.inhparent = 'events_voice_guild_ts'::regclass"
            " AND ix.indrelid = i.inhrelid)"
        ).fetchone()
    assert predicate == (f"(type = '{EventType.VOICE_STATE_UPDATE}'::text)", True)
    assert unattached == (0,)
