"""Migration 0005 moves the member rows of a database of the previous schema into blocks, in place,
and 0009 drops the daily rows that remained: afterwards it holds what the current pipeline
writes, the pipeline's lifetime totals merged from its spans equal what it wrote, and the engine
answers what it answers on a database built by the current pipeline from the same events."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from polars.testing import assert_frame_equal

from stats_api.engine.activity import activity
from stats_api.engine.lifetime import lifetime_members
from stats_platform.domain.grains import DAILY, GRAIN_NAMES, LENGTHS
from stats_platform.domain.voice import DEFAULT_CAP
from stats_platform.pipeline import rollups
from stats_platform.storage import warehouse
from stats_platform.storage.migrations import MIGRATIONS_DIR, migrate
from stats_platform.storage.scripts import script
from stats_platform.transforms.activity import lifetime_member_stats
from tests.stats_platform.platform_testkit import (
    Event,
    compute_everything,
    dump_tables,
    message,
    reaction,
    store_events,
    voice,
)

DAYS = 3


def _events(base: datetime) -> list[Event]:
    at = lambda day, hour, minute=0: base + timedelta(days=day, hours=hour, minutes=minute)  # noqa: E731
    return [
        message(at(0, 10), "1"),
        message(at(0, 10, 7), "2"),
        reaction(at(0, 11), "2", author="1"),
        voice(at(0, 23, 30), "1", "900"),
        voice(at(1, 0, 45), "1", None),
        message(at(1, 9), "3", guild_id="200"),
        voice(at(1, 12), "3", "901", guild_id="200"),  # never closed: ended by the cap
        Event("GUILD_MEMBER_ADD", at(2, 8), "4"),
        message(at(2, 8, 1), "4"),
        message(at(2, 20, 55), "1"),
    ]


def _write_as_the_previous_schema_did(
    conn: psycopg.Connection, *, start: datetime, end: datetime, now: datetime
) -> None:
    """The previous pipeline's writes: member rows of every grain in member_activity, member_stats
    summed from the daily rows, and no blocks (there was no such table)."""
    rollups.rebuild_voice_sessions(conn, start=start, end=end, covered_until=now, cap=DEFAULT_CAP)
    with conn.transaction():
        daily = None
        for grain in GRAIN_NAMES:
            window = {"grain": grain, "start": start, "end": end, "covered_until": now}
            computed = rollups.compute_rollups(conn, **window, cap=DEFAULT_CAP)
            for table, frame in (
                ("metrics_snapshots", computed.snapshots),
                ("member_activity", computed.members),
            ):
                warehouse.replace_window_rows(
                    conn, table, period_type=grain, start=start, end=end, frame=frame
                )
            conn.execute(
                script(rollups.__file__, "upsert_computed_windows.sql"),
                {**window, "period_type": grain, "every": LENGTHS[grain]},
            )
            if grain == DAILY.name:
                daily = computed.members
        assert daily is not None
        warehouse.copy_in(conn, "member_stats", lifetime_member_stats(daily.lazy()).collect())


def test_migrate_moves_member_rows_into_blocks_and_keeps_every_answer(
    db: psycopg.Connection, fresh_database_url: str, tmp_path: Path
) -> None:
    previous = tmp_path / "sql"
    previous.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("000[1-4]_*.sql")):
        shutil.copy(path, previous / path.name)
    migrate(fresh_database_url, directory=previous)

    now = datetime.now(UTC).replace(microsecond=0)
    start = now.replace(hour=0, minute=0, second=0) - DAILY.length * (DAYS + 1)
    end = start + DAILY.length * DAYS
    with psycopg.connect(fresh_database_url, autocommit=True) as old:
        store_events(old, _events(start))
        _write_as_the_previous_schema_did(old, start=start, end=end, now=now)
        before = old.execute(
            "SELECT period_type, count(*) FROM member_activity GROUP BY 1 ORDER BY 1"
        ).fetchall()
    # By hand: guild 100 has 22 five-minute member rows (16 of them voice 23:30-00:45), guild
    # 200 289 (a session ended by the 24 h cap); hourly 8 + 25; daily 5 + 2.
    assert before == [("5min", 311), ("daily", 7), ("hourly", 33)]
    store_events(db, _events(start))
    compute_everything(db, start=start, end=end, covered_until=now)

    applied = migrate(fresh_database_url)
    assert (applied[0], applied[-1]) == ("0005_member_blocks", "0009_drop_member_activity")

    with psycopg.connect(fresh_database_url, autocommit=True) as migrated:
        assert migrated.execute("SELECT to_regclass('member_activity')").fetchone() == (None,)
        theirs, ours = dump_tables(migrated), dump_tables(db)
        assert theirs["member_blocks"] == ours["member_blocks"]
        # The previous member_stats summed the daily rows; merged from the spans they are the same.
        before_rebuild = theirs["member_stats"]
        rollups.rebuild_member_stats(migrated, start=start, end=end, as_of=now, cap=DEFAULT_CAP)
        assert dump_tables(migrated)["member_stats"] == before_rebuild == ours["member_stats"]
        buckets = [(start, end), (start + timedelta(hours=10), start + timedelta(hours=35))]
        horizon = now - timedelta(days=30)
        for guild in ("100", "200"):
            answers = [
                (
                    activity(
                        conn, guild_id=guild, buckets=buckets, now=now, cap=DEFAULT_CAP,
                        raw_horizon=horizon,
                    ),
                    lifetime_members(
                        conn, guild_id=guild, now=now, cap=DEFAULT_CAP, raw_horizon=horizon
                    ),
                )
                for conn in (migrated, db)
            ]  # fmt: skip
            (after, lifetime_after), (fresh, lifetime_fresh) = answers
            assert_frame_equal(after.totals, fresh.totals)
            assert_frame_equal(
                after.members.sort("bucket", "user_id"), fresh.members.sort("bucket", "user_id")
            )
            assert_frame_equal(lifetime_after.sort("user_id"), lifetime_fresh.sort("user_id"))
        assert after.totals["total_messages"].to_list() == [1, 1]
