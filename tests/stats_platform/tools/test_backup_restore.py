"""`stats-platform db backup` / `db restore`: a restored database answers exactly as the original.

The original has two guilds' events (messages, reactions, a voice session across midnight and
one never closed), their daily, hourly and 5-minute rollups and lifetime totals. Day 0 is
`base` (UTC midnight three days ago); day 1 is t(24 + h).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from platform_testkit import (
    DAILY_ASSETS,
    ROLLUPS,
    dump_tables,
    materialize,
    message,
    reaction,
    rows,
    voice,
)

from stats_api.engine.activity import activity
from stats_api.engine.lifetime import lifetime_members
from stats_platform.domain.blocks import SPANS
from stats_platform.domain.instants import floor_to
from stats_platform.partitions import raw_retention_horizon

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DAY = timedelta(days=1)
CAP = timedelta(hours=24)
GUILDS = ("100", "200")
RAW_TABLES = {
    "events": "SELECT seq, ts, received_at, guild_id, dedup_key, event_id, type, user_id,"
    " channel_id, data::text FROM events ORDER BY seq",
    "window_arrivals": "SELECT * FROM window_arrivals ORDER BY 1, 2, 3",
    "schema_migrations": "SELECT version, checksum FROM schema_migrations ORDER BY 1",
}


def cli(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "STATS_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "stats_platform.tools.cli", *args]
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def everything(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {
            **dump_tables(conn),
            **{table: rows(conn, query) for table, query in RAW_TABLES.items()},
        }


def answers(url: str, base: datetime) -> dict[str, object]:
    """The stats engine's lifetime rows and a three-day activity per guild, at a fixed now."""
    now = base + 2 * DAY + timedelta(hours=12)
    found: dict[str, object] = {}
    with psycopg.connect(url) as conn:
        for guild in GUILDS:
            window = dict(now=now, cap=CAP, raw_horizon=raw_retention_horizon())
            found[f"{guild} lifetime"] = (
                lifetime_members(conn, guild_id=guild, **window).sort("user_id").rows()
            )
            days = activity(
                conn,
                guild_id=guild,
                buckets=[(base + DAY * i, base + DAY * (i + 1)) for i in range(3)],
                **window,
            )
            found[f"{guild} days"] = days.totals.sort("bucket").rows()
    return found


@pytest.fixture
def original(db, store, t, base, resources, database_url) -> str:
    for guild in GUILDS:
        store(
            message(t(10), "1", guild_id=guild),
            message(t(10, 1), "2", guild_id=guild),
            reaction(t(10, 2), "2", author="1", guild_id=guild),
            voice(t(23, 30), "1", "900", guild_id=guild),
            voice(t(24, 15), "1", None, guild_id=guild),
            voice(t(30), "2", "901", guild_id=guild),  # never closed: capped at day 2 06:00
        )
    materialize(DAILY_ASSETS, resources, grain="daily", start=base, last=base + DAY)
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(10), last=t(24))
    materialize([ROLLUPS["5min"]], resources, grain="5min", start=t(23, 55), last=t(24, 10))
    return database_url


def test_a_restored_database_answers_exactly_as_the_original(
    original, fresh_database_url, tmp_path, base, start_api
):
    backup = tmp_path / "stats.dump"
    done = cli("db", "backup", str(backup), database_url=original)
    assert done.returncode == 0, done.stderr[-3000:]
    done = cli("db", "restore", str(backup), database_url=fresh_database_url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "0 newer migration(s)" in done.stdout

    before, after = everything(original), everything(fresh_database_url)
    assert after == before
    # Per guild: 2 days, the hours 10:00, 23:00 and 00:00, four 5-minute windows of voice;
    # member rows (in blocks) of users 1 and 2 on both days and at 10:00, user 1 in the other
    # windows: one block per guild and window, 4 per grain.
    # Spans: users 1 and 2 (both active on both days) in each span block, one block per span
    # length, or two where that length's epoch-aligned boundary falls between the two days
    # (it does for some lengths on some dates: base is three days before today).
    span_rows = sum(
        2 * len({floor_to(base, s.length), floor_to(base + DAY, s.length)}) for s in SPANS
    )
    assert {table: len(found) for table, found in after.items()} == {
        "metrics_snapshots": 2 * (2 + 3 + 4),
        "member_blocks": 2 * (4 + 4 + 4 + span_rows),
        "member_stats": 2 * 2,
        "computed_windows": 2 + 15 + 4,
        "voice_sessions": 2 * 2,
        "voice_checkpoints": 2 * 2,
        "voice_checkpoint_marks": 2
        + 14,  # midnights, and the 15 hourly windows' ends but one midnight
        "events": 2 * 6,
        "window_arrivals": 2 * (4 + 4 + 2),
        "schema_migrations": len(before["schema_migrations"]),
    }
    assert answers(fresh_database_url, base) == answers(original, base)

    api = start_api(auth="off")
    page = httpx.get(f"{api.url}/v1/guilds/100/stats/members", params={"sortBy": "voice"})
    assert page.status_code == 200
    assert [
        (m["userId"], m["totalMessages"], m["totalVoiceMinutes"], m["lastVoiceAt"])
        for m in page.json()["members"]
    ] == [
        ("2", 1, 24 * 60, (base + 2 * DAY + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%S.000Z")),
        ("1", 1, 45, (base + DAY + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%S.000Z")),
    ]


def test_restore_refuses_a_database_that_is_not_empty(original, tmp_path):
    backup = tmp_path / "stats.dump"
    assert cli("db", "backup", str(backup), database_url=original).returncode == 0
    done = cli("db", "restore", str(backup), database_url=original)
    assert done.returncode != 0
    assert "not empty" in done.stderr
    assert len(everything(original)["events"]) == 12


def test_restoring_a_missing_file_says_so(fresh_database_url, tmp_path):
    done = cli("db", "restore", str(tmp_path / "none.dump"), database_url=fresh_database_url)
    assert done.returncode != 0
    assert "no backup at" in done.stderr
