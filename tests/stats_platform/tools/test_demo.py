"""The newcomer's path: a fresh clone, the README's first command, a working platform, a clean stop.

The committed HEAD is cloned into a temporary directory and the README's first command runs
there through bash, exactly as written (venv, install, `stats-platform demo`), against a database
of its own and free ports. The test waits for the API, the printed dashboard URL with data, the
Dagster webserver and the start of the backfills; then sends SIGINT to the process group, as
Ctrl-C in a terminal would, and checks that every process the command started is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from stats_platform.storage.database import create_database_if_missing, drop_database, with_database
from stats_platform.tools.launcher import dagster_database_url
from tests.testkit.api import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SERVER_URL = os.environ.get(
    "STATS_TEST_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("STATS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# The venv install is part of the path; pip's cache makes a second run faster.
READY_TIMEOUT_S = 8 * 60
STOP_TIMEOUT_S = 90
INSTALLED = "venv and install done"
T = TypeVar("T")
DASHBOARD = re.compile(
    r"curl -H 'Authorization: Bearer (sp_\w+)' '(http://\S+/stats/dashboard\S*)'"
)


def readme_first_command() -> str:
    """The first command of the README's first bash block."""
    block = re.search(r"```bash\n(.*?)```", (PROJECT_ROOT / "README.md").read_text(), re.S)
    assert block is not None, "README.md has no bash block"
    lines = [line.strip() for line in block.group(1).splitlines()]
    return next(line for line in lines if line and not line.startswith("#"))


@pytest.fixture
def clone() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="stats-demo-") as tmp:
        target = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(PROJECT_ROOT), str(target)], check=True)
        yield target


@pytest.fixture
def demo_database_url() -> Iterator[str]:
    """A database of its own; the demo puts Dagster's beside it (`<name>_dagster`)."""
    url = with_database(SERVER_URL, f"stats_test_demo_{uuid.uuid4().hex[:10]}")
    create_database_if_missing(url)
    yield url
    drop_database(url)
    drop_database(dagster_database_url(url))


def test_readme_first_command_runs_the_demo_from_a_fresh_clone_and_stops_clean(
    clone: Path, demo_database_url: str
) -> None:
    command = readme_first_command()
    assert command.endswith("stats-platform demo"), command
    api = f"http://127.0.0.1:{free_port()}"
    dagster = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "STATS_DATABASE_URL": demo_database_url,
        "STATS_REDIS_URL": REDIS_URL,
        "STATS_API_PORT": api.rsplit(":", 1)[1],
        "STATS_DAGSTER_PORT": dagster.rsplit(":", 1)[1],
        "STATS_DEMO_DAYS": "1",
        "STATS_DEMO_GUILDS": "3",
    }
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    run = CommandRun(command, cwd=clone, env=env, log=clone.parent / "demo.log")
    try:
        key, dashboard = run.wait_until(run.printed_dashboard, "URLs printed")
        assert dashboard.startswith(f"{api}/v1/guilds/")
        run.wait_until(lambda: get(f"{api}/healthz") == 200, "API healthy")
        body = run.wait_until(lambda: dashboard_with_messages(dashboard, key), "dashboard data")
        run.wait_until(lambda: get(f"{dagster}/server_info") == 200, "Dagster webserver")
        assert body["totalMessages"] > 0
        assert get(dashboard) == 401  # auth is on: the read key is needed
        guild = dashboard.removeprefix(f"{api}/v1/guilds/").split("/")[0]
        assert f"dashboard page  {api}/ui/guilds/{guild} " in run.log.read_text()
        assert get(f"{api}/ui/guilds/{guild}") == 200
        # Stopped with backfill runs under way, the harder case.
        run.wait_until(lambda: "backfill-5min" in run.tail(), "backfills started")
        # Below the demo (bash execs it): the API, the webserver and its code server, the daemon
        # and its code server, the simulator, each in a process group of its own.
        assert len(descendants(run.process.pid)) >= 6
        returncode = run.interrupt()
        assert returncode == 0, run.tail()
        assert run.survivors() == [], "still running after the stop"
        assert processes_in(clone) == [], "a process of the clone survived"
    finally:
        run.print_timings()
        run.kill_leftovers()


class CommandRun:
    """A shell command in a process group of its own; remembers every process below it."""

    def __init__(self, command: str, *, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}
        self.seen: set[tuple[int, str]] = set()
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=cwd,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until(self, check: Callable[[], T | None], step: str) -> T:
        """Polls `check` until it returns something truthy, collecting the command's processes."""
        while True:
            assert self.process.poll() is None, f"the command ended early:\n{self.tail()}"
            self.seen |= descendants(self.process.pid)
            result = check()
            if result:
                self.timings[step] = time.monotonic() - self.started
                return result
            elapsed = time.monotonic() - self.started
            assert elapsed < READY_TIMEOUT_S, f"{step}: not within {elapsed:.0f} s\n{self.tail()}"
            time.sleep(1)

    def printed_dashboard(self) -> tuple[str, str] | None:
        """(read key, dashboard URL) once printed; notes when the install was over."""
        text = self.log.read_text(errors="replace")
        if INSTALLED not in self.timings and "database:" in text:
            self.timings[INSTALLED] = time.monotonic() - self.started
        found = DASHBOARD.search(text)
        return (found.group(1), found.group(2)) if found else None

    def interrupt(self) -> int:
        """SIGINT to the process group, as Ctrl-C in a terminal; the command's exit code."""
        self.seen |= descendants(self.process.pid)
        stopping = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        returncode = self.process.wait(timeout=STOP_TIMEOUT_S)
        self.timings["stop (after SIGINT)"] = time.monotonic() - stopping
        return returncode

    def survivors(self) -> list[int]:
        deadline = time.monotonic() + 5
        while (alive := [pid for pid, start in self.seen if running(pid, start)]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.2)
        return alive

    def kill_leftovers(self) -> None:
        """Whatever the outcome, nothing of the command outlives the test."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid, start in self.seen:
            if running(pid, start):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def print_timings(self) -> None:
        print("\ndemo from a fresh clone, seconds since the README command started:")
        for step, seconds in self.timings.items():
            print(f"  {step:<28}{seconds:7.1f}")
        print(self.tail(20))


def dashboard_with_messages(url: str, key: str) -> dict | None:
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    except httpx.TransportError:
        return None
    assert response.status_code == 200, response.text
    body = response.json()
    return body if body["totalMessages"] > 0 else None


def get(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return None


def descendants(root: int) -> set[tuple[int, str]]:
    """(pid, start time) of every process below `root`, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := read_stat(int(entry.name))):
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    found, stack = set(), [root]
    while stack:
        for pid in children.get(stack.pop(), []):
            if stat := read_stat(pid):
                found.add((pid, stat[19]))
                stack.append(pid)
    return found


def read_stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: state, ppid, ... (start time at index 19)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def running(pid: int, start: str) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat[19] == start and stat[0] != "Z"


def processes_in(directory: Path) -> list[str]:
    """Command lines of live processes that run from `directory` or name it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if str(directory) in cmdline or cwd.startswith(str(directory)):
            found.append(f"{entry.name}: {cmdline}")
    return found
