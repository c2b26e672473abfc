"""Row-level security: a read as one guild sees that guild's rows only, whatever it forgets.

Two guilds have a row in every guild-keyed table. The tests connect as the tables' owner (a
superuser here), as migrations, ingestion and the pipeline do.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from platform_testkit import DAILY_ASSETS, materialize, message, rows, voice

from stats_platform.storage.tenant import as_guild_reader

DAY = timedelta(days=1)
GUILDS = ("100", "200")
GUILD_KEYED = (
    "events",
    "metrics_snapshots",
    "member_blocks",
    "member_stats",
    "member_stats_blocks",
    "window_arrivals",
    "voice_sessions",
    "voice_checkpoints",
)


@pytest.fixture
def two_guilds(db, store, t, base, resources) -> None:
    """A voice session across midnight and a message per guild, days 0 and 1 computed."""
    for guild in GUILDS:
        store(
            message(t(10), "1", guild_id=guild),
            voice(t(23), "1", "900", guild_id=guild),
            voice(t(25), "1", None, guild_id=guild),
        )
    materialize(DAILY_ASSETS, resources, grain="daily", start=base, last=base + DAY)


def guilds_of(conn: psycopg.Connection, table: str) -> list[str]:
    # Deliberately no guild filter: the bug row-level security is there to contain.
    return [g for (g,) in rows(conn, f"SELECT DISTINCT guild_id FROM {table} ORDER BY 1")]


def test_every_guild_keyed_table_has_rows_of_both_guilds(db, two_guilds):
    assert {table: guilds_of(db, table) for table in GUILD_KEYED} == {
        table: list(GUILDS) for table in GUILD_KEYED
    }


def test_a_read_that_forgets_its_guild_filter_sees_only_its_guild(db, two_guilds):
    with db.transaction():
        as_guild_reader(db, "200")
        assert {table: guilds_of(db, table) for table in GUILD_KEYED} == {
            table: ["200"] for table in GUILD_KEYED
        }
        assert rows(db, "SELECT count(*) FROM events") == [(3,)]
        # Tables without a guild stay readable: the read path needs them.
        assert rows(db, "SELECT count(*) FROM computed_windows") == [(2,)]


def test_the_reader_is_itself_again_after_the_transaction(db, two_guilds):
    with db.transaction():
        as_guild_reader(db, "100")
        assert guilds_of(db, "member_stats") == ["100"]
    assert rows(db, "SELECT current_user = session_user") == [(True,)]
    assert guilds_of(db, "member_stats") == list(GUILDS)


def test_a_reader_without_a_guild_sees_nothing(db, two_guilds):
    with db.transaction():
        db.execute("SET LOCAL ROLE stats_reader")
        assert {table: guilds_of(db, table) for table in GUILD_KEYED} == {
            table: [] for table in GUILD_KEYED
        }


def test_the_reader_cannot_write(db, two_guilds):
    with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
        as_guild_reader(db, "100")
        db.execute("DELETE FROM member_stats")
    assert guilds_of(db, "member_stats") == list(GUILDS)


def test_outside_a_transaction_the_helper_refuses(db):
    with pytest.raises(RuntimeError, match="needs an open transaction"):
        as_guild_reader(db, "100")


def test_the_pipeline_as_owner_still_computes_every_guild(db, store, t, base, resources):
    store(message(t(10), "1", guild_id="100"), message(t(11), "2", guild_id="200"))
    materialize(DAILY_ASSETS, resources, grain="daily", start=base)
    assert rows(db, "SELECT guild_id, total_messages FROM metrics_snapshots ORDER BY guild_id") == [
        ("100", 1),
        ("200", 1),
    ]
    assert rows(db, "SELECT guild_id, user_id FROM member_stats ORDER BY guild_id") == [
        ("100", "1"),
        ("200", "2"),
    ]
