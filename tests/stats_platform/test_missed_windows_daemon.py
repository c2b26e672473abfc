"""Windows missed while the daemon was down are computed once it is back, each exactly once.

The outage runs from the latest UTC midnight at least 15 minutes ago until the test starts a
real `dagster-daemon`: long enough that a daily, an hourly and many 5-minute windows fell due
while nothing ran. Windows that fell due before it are recorded as computed, as the schedules
left them. A trigger on computed_windows counts every computation of every window.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from stats_platform.domain.grains import GRAINS, Grain
from stats_platform.domain.instants import ceil_to, floor_to
from stats_platform.tools.launcher import BIN, PROJECT_ROOT, WORKSPACE

# A window is due its schedule minute, settle (30 s), batch delay (15 s) and grace (120 s)
# after it closes.
RUN_DELAY = timedelta(seconds=30 + 15 + 120)
INSTANCE = """
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 4
telemetry:
  enabled: false
"""
COUNT_COMPUTATIONS = """
CREATE TABLE test_computations (period_type text, period_start timestamptz);
CREATE FUNCTION test_count_computation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_computations VALUES (NEW.period_type, NEW.period_start);
    RETURN NEW;
END $$;
CREATE TRIGGER test_count_computation AFTER INSERT OR UPDATE ON computed_windows
    FOR EACH ROW EXECUTE FUNCTION test_count_computation();
"""
STOP_COUNTING = """
DROP TRIGGER test_count_computation ON computed_windows;
DROP FUNCTION test_count_computation();
DROP TABLE test_computations;
"""


def due(grain: Grain, start: datetime) -> datetime:
    return start + grain.length + timedelta(minutes=grain.schedule_minute) + RUN_DELAY


def windows(grain: Grain, since: datetime, until: datetime) -> list[datetime]:
    first = ceil_to(since, grain.length)
    return [first + grain.length * i for i in range((until - first) // grain.length)]


@pytest.fixture
def counted(db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    db.execute(COUNT_COMPUTATIONS)
    yield db
    db.execute(STOP_COUNTING)


@pytest.fixture
def daemon(database_url, redis_url, tmp_path) -> Iterator[Callable[[int], None]]:
    processes: list[subprocess.Popen] = []

    def start(lookback_minutes: int) -> None:
        home = tmp_path / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text(INSTANCE)
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "DAGSTER_HOME": str(home),
            "STATS_DATABASE_URL": database_url,
            "STATS_REDIS_URL": redis_url,
            "STATS_MISSED_WINDOWS_LOOKBACK_MINUTES": str(lookback_minutes),
        }
        processes.append(
            subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)],
                cwd=PROJECT_ROOT,
                env=env,
                start_new_session=True,
                stdout=(tmp_path / "daemon.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )

    yield start
    for process in processes:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def computations(db: psycopg.Connection) -> dict[tuple[str, datetime], int]:
    return {
        (grain, start): n
        for grain, start, n in db.execute(
            "SELECT period_type, period_start, count(*) FROM test_computations GROUP BY 1, 2"
        ).fetchall()
    }


def test_every_window_missed_during_an_outage_is_computed_exactly_once(counted, daemon, tmp_path):
    now = datetime.now(UTC)
    outage_start = floor_to(now - timedelta(minutes=15), timedelta(days=1))
    since = outage_start - timedelta(days=1, hours=1)
    lookback = (now - since) // timedelta(minutes=1)
    computed_before: list[tuple[str, datetime]] = []
    missed: list[tuple[str, datetime]] = []
    for grain in GRAINS:
        for start in windows(grain, since, now):
            if due(grain, start) < outage_start:
                computed_before.append((grain.name, start))
            elif due(grain, start) <= now:
                missed.append((grain.name, start))
    with counted.transaction():
        counted.execute("ALTER TABLE computed_windows DISABLE TRIGGER test_count_computation")
        for grain_name, start in computed_before:
            every = next(g.length for g in GRAINS if g.name == grain_name)
            counted.execute(
                "INSERT INTO computed_windows (period_type, period_start, period_end, covered_until)"
                " VALUES (%s, %s, %s, %s)",
                (grain_name, start, start + every, outage_start),
            )
        counted.execute("ALTER TABLE computed_windows ENABLE TRIGGER test_count_computation")
    assert {g for g, _ in missed} == {"5min", "hourly", "daily"}

    daemon(lookback)
    deadline = time.monotonic() + 300
    while not set(missed) <= set(computations(counted)):
        assert time.monotonic() < deadline, (tmp_path / "daemon.log").read_text()[-5000:]
        time.sleep(1)

    counts = computations(counted)
    assert {w: counts[w] for w in missed} == {w: 1 for w in missed}
    assert [w for w in computed_before if w in counts] == []
    assert {w: n for w, n in counts.items() if n > 1} == {}
