"""`stats-platform up` and `demo`: the API, the Dagster webserver and daemon as child processes.

They share one environment (database URLs, DAGSTER_HOME) and stop together on Ctrl-C or SIGTERM.
Each child runs in a process group of its own, so stopping one also stops what it started (the
webserver's code server, the daemon's run workers), and the launcher decides the order: the
last started stops first, so the traffic simulator still reaches the API while it finishes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from psycopg.conninfo import conninfo_to_dict

from stats_platform.settings import PROJECT_ROOT, get_settings
from stats_platform.storage.database import create_database_if_missing, with_database

BIN = Path(sys.executable).parent
DAGSTER_HOME = PROJECT_ROOT / "dagster_home"
WORKSPACE = PROJECT_ROOT / "workspace.yaml"
STOP_TIMEOUT_S = 20.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]


def dagster_database_url(database_url: str) -> str:
    """Dagster's own database beside the stats one: `stats` -> `stats_dagster`."""
    name = conninfo_to_dict(database_url).get("dbname") or "stats"
    return with_database(database_url, f"{name}_dagster")


def metrics_environment() -> dict[str, str]:
    """With several API workers, Prometheus counters are kept in files all workers share
    (prometheus-client's multiprocess mode): one folder per serving process, emptied at start."""
    settings = get_settings()
    if settings.api_workers == 1 or "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        return {}
    folder = settings.data_dir / "prometheus" / str(os.getpid())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return {"PROMETHEUS_MULTIPROC_DIR": str(folder)}


def platform_environment(database_url: str) -> dict[str, str]:
    """What every process needs: the stats database, and Dagster's own database beside it."""
    dagster_url = dagster_database_url(database_url)
    create_database_if_missing(dagster_url)
    return {
        **os.environ,
        "STATS_DATABASE_URL": database_url,
        "DAGSTER_HOME": str(DAGSTER_HOME),
        # dagster-postgres writes psycopg2-style SQL; SQLAlchemy 2.1 would pick psycopg 3 for a
        # bare postgresql:// URL, so the driver is named.
        "DAGSTER_PG_URL": dagster_url.replace("postgresql://", "postgresql+psycopg2://", 1),
    }


def services(
    host: str, api_port: int, dagster_port: int, *, access_log: bool = True
) -> list[Service]:
    # `serve`, not uvicorn's own command: it passes what that command cannot (the protocol with
    # a deadline for request headers), and the workers and metrics folder from the settings.
    api = [
        str(BIN / "stats-platform"),
        "serve",
        "--host",
        host,
        "--port",
        str(api_port),
        *([] if access_log else ["--no-access-log"]),
    ]
    webserver = [
        str(BIN / "dagster-webserver"),
        "-w",
        str(WORKSPACE),
        "-h",
        host,
        "-p",
        str(dagster_port),
    ]
    daemon = [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)]
    return [
        Service("api", api),
        Service("dagster-webserver", webserver),
        Service("dagster-daemon", daemon),
    ]


class ServiceExited(RuntimeError):
    """A service stopped on its own while the others were still wanted."""


class Supervisor:
    """Child processes started in order and stopped in reverse order, each with its group.

    A service must keep running: its exit is an error (ServiceExited). A job (`job=True`) is a
    command that ends by itself; `on_finished(name, returncode)` hears when it does.
    """

    def __init__(
        self, env: Mapping[str, str], on_finished: Callable[[str, int], None] | None = None
    ) -> None:
        self.env = dict(env)
        self.on_finished = on_finished
        self.procs: dict[str, subprocess.Popen] = {}
        self.jobs: set[str] = set()

    def start(self, service: Service, log: Path | None = None, *, job: bool = False) -> None:
        """Starts a service or job; its output goes to `log` (appended) when given, else to ours."""
        output = None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            output = log.open("ab")
        try:
            self.procs[service.name] = subprocess.Popen(
                service.command,
                env=self.env,
                cwd=PROJECT_ROOT,
                start_new_session=True,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
            )
        finally:
            if output is not None:
                output.close()
        if job:
            self.jobs.add(service.name)

    def check(self) -> None:
        """Raises ServiceExited when a service is no longer running; reports finished jobs."""
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                continue
            if name not in self.jobs:
                raise ServiceExited(f"{name} exited with code {proc.returncode}")
            _stop_group(self.procs.pop(name))  # whatever the job left running in its group
            self.jobs.discard(name)
            if self.on_finished is not None:
                self.on_finished(name, proc.returncode)

    def wait(self, seconds: float | None = None) -> None:
        """For `seconds` (None: until a service exits or a signal interrupts), checking often."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while deadline is None or time.monotonic() < deadline:
            self.check()
            time.sleep(0.2)

    def stop(self) -> None:
        # A second Ctrl-C must not cut the stop short and leave children behind.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
        try:
            # Jobs depend on no service: they stop alongside, services one by one.
            jobs = [proc for name, proc in self.procs.items() if name in self.jobs]
            for proc in jobs:
                _signal_group(proc, signal.SIGINT)
            for name, proc in reversed(list(self.procs.items())):
                if name not in self.jobs:
                    _stop_group(proc)
            for proc in jobs:
                _stop_group(proc, interrupted=True)
            self.procs.clear()
            self.jobs.clear()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _stop_group(proc: subprocess.Popen, *, interrupted: bool = False) -> None:
    """SIGINT (what Ctrl-C would send) to the group, then SIGKILL to whatever is left of it."""
    if not interrupted:
        _signal_group(proc, signal.SIGINT)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_TIMEOUT_S)
    # The leader is gone or stuck; its children (code servers, run workers) may not be.
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM both raise KeyboardInterrupt, so either stops everything the same way.

    SIGINT is (re)installed too: a shell starts background jobs with it ignored, and children
    would inherit that, leaving the launcher's SIGINT to them unheard.
    """

    def _interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _interrupt) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_all(to_run: list[Service], env: Mapping[str, str]) -> int:
    """Starts every service and waits; the first to exit (or a signal) stops the rest."""
    supervisor = Supervisor(env)
    with stop_on_signals():
        try:
            for service in to_run:
                supervisor.start(service)
            supervisor.wait()
        except KeyboardInterrupt:
            return 0
        except ServiceExited as exc:
            print(exc, file=sys.stderr)
            return 1
        finally:
            supervisor.stop()
    return 0
