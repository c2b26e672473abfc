"""The dashboard against the simulator's own tally, through the served API, before and after Dagster.

A seeded simulation (late and re-sent batches included) goes through POST /v1/events into a fresh
database. For each guild the dashboard over exactly the simulation's window must equal what the
simulator counted by contract §2: first answered from the raw events, then again once every grain's
partitions over the window are computed (single-run backfills, as an operator would run them).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from platform_testkit import (
    DAILY_ASSETS,
    ROLLUPS,
    materialize,
    run_resources,
)

from stats_platform.domain.instants import iso_z
from stats_platform.tools.simulate import SimulationConfig, Tally, run_simulation
from tests.testkit.api import Api

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
COMPARED = (
    "totalMessages",
    "totalReactions",
    "totalVoiceMinutes",
    "uniqueActiveUsers",
    "newMembers",
    "leftMembers",
    "topMembers",
)


def test_dashboard_equals_the_simulators_tally_from_raw_events_and_from_rollups(
    start_api: Callable[..., Api],
) -> None:
    # No answer cache: the second round must be computed again, from the rollups.
    api = start_api(auth="off", STATS_CACHE_TTL_SECONDS="0")
    # Two days from noon to noon, ending yesterday: a whole day between two halves, all closed.
    end = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - DAY
    summary = run_simulation(
        SimulationConfig(
            mode="historical",
            days=2,
            end_ms=_ms(end),
            guilds=4,
            members_per_guild=80,
            seed=23,
            url=api.url,
            batch_size=300,
            late_share=0.2,
            duplicate_share=0.2,
            progress=False,
        )
    )
    tally = summary.tally
    assert (summary.error, summary.rejected) == (None, 0)
    assert summary.late_batches > 0 and summary.duplicate_batches > 0
    assert len(tally.guilds) == 4
    start = _instant(tally.window_start_ms)
    assert end - start == 2 * DAY

    assert _dashboards(api, tally, start, end) == _expected(tally)

    _compute_every_grain(api.database_url, start, end)
    with psycopg.connect(api.database_url) as conn:
        computed = dict(
            conn.execute("SELECT period_type, count(*) FROM computed_windows GROUP BY 1").fetchall()
        )
    assert computed == {"5min": 48 * 12, "hourly": 48, "daily": 3}
    assert _dashboards(api, tally, start, end) == _expected(tally)


def _compute_every_grain(database_url: str, start: datetime, end: datetime) -> None:
    """Every window of each grain that overlaps [start, end), one run per grain."""
    resources = run_resources(database_url)
    materialize(DAILY_ASSETS, resources, grain="daily", start=start, last=end)
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=start, last=end - HOUR)
    materialize(
        [ROLLUPS["5min"]], resources, grain="5min", start=start, last=end - timedelta(minutes=5)
    )


def _dashboards(api: Api, tally: Tally, start: datetime, end: datetime) -> dict[str, dict]:
    answers = {}
    for guild_id in tally.guilds:
        response = httpx.get(
            f"{api.url}/v1/guilds/{guild_id}/stats/dashboard",
            params={"from": iso_z(start), "to": iso_z(end)},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["periodStart"], body["periodEnd"]) == (iso_z(start), iso_z(end))
        answers[guild_id] = {name: body[name] for name in COMPARED}
    return answers


def _expected(tally: Tally) -> dict[str, dict[str, Any]]:
    expected = {gid: g.dashboard() for gid, g in tally.guilds.items()}
    # Every number is there to compare: no guild is so quiet that a field is trivially 0.
    assert all(
        e["totalMessages"] and e["totalReactions"] and e["totalVoiceMinutes"]
        for e in expected.values()
    )
    return expected


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _instant(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
