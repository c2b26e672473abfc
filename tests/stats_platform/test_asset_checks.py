"""Asset checks pass on what the assets wrote and fail on a row that no longer matches.

metrics_snapshots_5min_matches_raw looks at the last day's 5-minute windows, so its windows
here start two hours ago (`recent`); member checks use `base` (UTC midnight three days ago).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from platform_testkit import DAILY_ASSETS, ROLLUPS, materialize, message, reaction, voice

from stats_platform.defs.members.checks import (
    member_stats_matches_blocks,
    member_stats_non_negative,
)
from stats_platform.defs.rollups.checks import (
    metrics_snapshots_5min_matches_raw,
    metrics_snapshots_5min_non_negative,
)
from stats_platform.partitions import five_minute_partitions

FIVE_MINUTE_CHECKS = [metrics_snapshots_5min_matches_raw, metrics_snapshots_5min_non_negative]
MEMBER_CHECKS = [member_stats_matches_blocks, member_stats_non_negative]


@pytest.fixture
def recent() -> datetime:
    """Start of the 5-minute window two hours ago."""
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    key = five_minute_partitions.get_partition_key_for_timestamp(two_hours_ago.timestamp())
    return five_minute_partitions.time_window_for_partition_key(key).start


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, dict]]:
    return {
        e.check_name: (e.passed, {name: value.value for name, value in e.metadata.items()})
        for e in result.get_asset_check_evaluations()
    }


def run_checks(assets, checks, resources) -> dict[str, tuple[bool, dict]]:
    """Only the checks, against what the tables hold now."""
    result = dg.materialize(
        [*assets, *checks], selection=dg.AssetSelection.checks(*checks), resources=resources
    )
    return evaluations(result)


def test_five_minute_snapshots_match_raw_until_a_row_is_corrupted(db, store, recent, resources):
    later = recent + timedelta(minutes=5)
    store(
        message(recent + timedelta(minutes=1), "1"),
        reaction(recent + timedelta(minutes=2), "2", author="1"),
        message(later + timedelta(minutes=1), "2"),
    )
    result = materialize(
        [ROLLUPS["5min"], *FIVE_MINUTE_CHECKS], resources, grain="5min", start=recent, last=later
    )
    assert evaluations(result) == {
        "metrics_snapshots_5min_matches_raw": (
            True,
            {"windows_compared": 2, "mismatched_rows": 0},
        ),
        "metrics_snapshots_5min_non_negative": (True, {"negative_rows": 0}),
    }

    # An event arriving after the window was computed is not a mismatch: it is not covered yet.
    store(message(recent + timedelta(minutes=3), "3", received_at=datetime.now(UTC)))
    checks = run_checks([ROLLUPS["5min"]], FIVE_MINUTE_CHECKS, resources)
    assert checks["metrics_snapshots_5min_matches_raw"] == (
        True,
        {"windows_compared": 2, "mismatched_rows": 0},
    )

    db.execute(
        "UPDATE metrics_snapshots SET total_messages = 2 WHERE period_type = '5min'"
        " AND period_start = %s",
        (recent,),
    )
    db.execute(
        "UPDATE metrics_snapshots SET total_reactions = -1 WHERE period_type = '5min'"
        " AND period_start = %s",
        (later,),
    )
    checks = run_checks([ROLLUPS["5min"]], FIVE_MINUTE_CHECKS, resources)
    assert checks == {
        "metrics_snapshots_5min_matches_raw": (
            False,
            {"windows_compared": 2, "mismatched_rows": 2},
        ),
        "metrics_snapshots_5min_non_negative": (False, {"negative_rows": 1}),
    }


def test_a_missing_snapshot_row_is_a_mismatch(db, store, recent, resources):
    store(message(recent + timedelta(minutes=1), "1"))
    materialize([ROLLUPS["5min"]], resources, grain="5min", start=recent)
    db.execute("DELETE FROM metrics_snapshots")

    checks = run_checks([ROLLUPS["5min"]], FIVE_MINUTE_CHECKS, resources)
    assert checks["metrics_snapshots_5min_matches_raw"] == (
        False,
        {"windows_compared": 1, "mismatched_rows": 1},
    )


def test_member_stats_match_the_blocks_until_a_total_is_corrupted(db, store, t, base, resources):
    store(
        message(t(10), "1"),
        reaction(t(10, 1), "2", author="1"),
        voice(t(11), "2", "900"),
        voice(t(11, 30), "2", None),
    )
    result = materialize([*DAILY_ASSETS, *MEMBER_CHECKS], resources, grain="daily", start=base)
    assert evaluations(result) == {
        "member_stats_matches_blocks": (True, {"members": 2, "mismatched": 0}),
        "member_stats_non_negative": (True, {"negative_rows": 0}),
    }

    db.execute("UPDATE member_stats SET total_reactions_received = 2 WHERE user_id = '1'")
    db.execute("UPDATE member_stats SET total_voice_ms = -1 WHERE user_id = '2'")
    checks = run_checks(DAILY_ASSETS, MEMBER_CHECKS, resources)
    assert checks == {
        "member_stats_matches_blocks": (False, {"members": 2, "mismatched": 2}),
        "member_stats_non_negative": (False, {"negative_rows": 1}),
    }

    # A member with rows in the blocks but no lifetime row is a mismatch too.
    db.execute("DELETE FROM member_stats WHERE user_id = '2'")
    checks = run_checks(DAILY_ASSETS, MEMBER_CHECKS, resources)
    assert checks["member_stats_matches_blocks"] == (False, {"members": 2, "mismatched": 2})
