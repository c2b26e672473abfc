"""`stats-platform up`: the API, the Dagster webserver and the Dagster daemon as child processes.

They share one environment (database URLs, DAGSTER_HOME) and stop together on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stats_api.core.config import PROJECT_ROOT
from stats_api.core.database import create_database_if_missing, with_database

BIN = Path(sys.executable).parent
DAGSTER_HOME = PROJECT_ROOT / "dagster_home"
WORKSPACE = PROJECT_ROOT / "workspace.yaml"


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]


def platform_environment(database_url: str) -> dict[str, str]:
    """What every process needs: the stats database, and Dagster's own database beside it."""
    dagster_url = with_database(database_url, "stats_dagster")
    create_database_if_missing(dagster_url)
    return {
        **os.environ,
        "STATS_DATABASE_URL": database_url,
        "DAGSTER_HOME": str(DAGSTER_HOME),
        # dagster-postgres writes psycopg2-style SQL; SQLAlchemy 2.1 would pick psycopg 3 for a
        # bare postgresql:// URL, so the driver is named.
        "DAGSTER_PG_URL": dagster_url.replace("postgresql://", "postgresql+psycopg2://", 1),
    }


def services(host: str, api_port: int, dagster_port: int) -> list[Service]:
    api = [
        str(BIN / "uvicorn"),
        "--factory",
        "stats_api.main:create_app",
        "--host",
        host,
        "--port",
        str(api_port),
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


def run_all(to_run: list[Service], env: Mapping[str, str]) -> int:
    """Starts every service and waits; the first to exit (or a signal) stops the rest."""
    procs = {s.name: subprocess.Popen(s.command, env=dict(env), cwd=PROJECT_ROOT) for s in to_run}
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping and all(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    exited = [name for name, p in procs.items() if p.poll() is not None]
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in procs.values():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 1 if exited and not stopping else 0
