"""A backfill the way an operator runs it: `dagster asset materialize --partition-range`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from platform_testkit import MIN_MS, key, message, rows, stage_member_rows, voice

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).parent / "dagster")


def test_hourly_range_backfill_from_the_command_line(db, store, t, database_url, tmp_path):
    store(
        message(t(10, 5), "1"),
        voice(t(10, 30), "2", "900"),
        voice(t(11, 15), "2", None),
        message(t(11, 20), "1"),
        message(t(11, 21), "3"),
        message(t(12, 5), "1"),  # outside the range: left alone
    )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "STATS_DATABASE_URL": database_url,
    }
    command = [
        DAGSTER,
        "asset",
        "materialize",
        "-m",
        "stats_platform.definitions",
        "--select",
        "metrics_snapshots_hourly,member_activity_hourly",
        "--partition-range",
        f"{key('hourly', t(10))}...{key('hourly', t(11))}",
    ]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]

    assert rows(
        db,
        "SELECT period_start, total_events, total_messages, voice_ms, unique_active_users"
        " FROM metrics_snapshots WHERE period_type = 'hourly' ORDER BY period_start",
    ) == [
        (t(10), 2, 1, 30 * MIN_MS, 2),
        (t(11), 3, 2, 15 * MIN_MS, 3),
    ]
    stage_member_rows(db)
    assert rows(
        db,
        "SELECT period_start, user_id, messages, voice_ms FROM member_rows"
        " WHERE period_type = 'hourly' ORDER BY period_start, user_id",
    ) == [
        (t(10), "1", 1, 0),
        (t(10), "2", 0, 30 * MIN_MS),
        (t(11), "1", 1, 0),
        (t(11), "2", 0, 15 * MIN_MS),
        (t(11), "3", 1, 0),
    ]
    assert rows(
        db, "SELECT period_type, period_start FROM computed_windows ORDER BY period_start"
    ) == [("hourly", t(10)), ("hourly", t(11))]
