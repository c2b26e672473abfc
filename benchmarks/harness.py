"""What every benchmark needs: a fresh migrated database, a real ASGI server, CPU counters, the machine."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from stats_platform.settings import PROJECT_ROOT
from stats_platform.storage.database import create_database_if_missing, drop_database, with_database
from stats_platform.storage.migrations import migrate

SERVER_URL = os.environ.get(
    "STATS_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
OUT_DIR = PROJECT_ROOT / "benchmarks" / "out"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_SETTINGS = (
    "fsync", "jit", "max_parallel_workers_per_gather", "shared_buffers", "synchronous_commit",
    "work_mem",
)  # fmt: skip
# The API under test: no auth (local development mode) and no rate limit in the way.
SERVER_ENV = {
    "STATS_AUTH": "off",
    "STATS_ENV": "development",
    "STATS_RATE_LIMIT_PER_MINUTE": "1000000000",
}


@contextlib.contextmanager
def fresh_database(
    label: str, *, migrations: Path | None = None, template: str | None = None
) -> Iterator[str]:
    """A new migrated database named after this process and `label`, dropped on the way out.

    `migrations`: the sql/ directory of an older tree, for its schema (default: this tree's).
    `template`: the URL of a database (with no open connection) to copy, data and all, before
    this tree's migrations are applied to the copy.
    """
    url = with_database(SERVER_URL, f"stats_bench_{os.getpid()}_{label}")
    drop_database(url)
    if template is None:
        create_database_if_missing(url)
    else:
        copy_database(template, url)
    try:
        migrate(url, **({} if migrations is None else {"directory": migrations}))
        yield url
    finally:
        drop_database(url)


def copy_database(source: str, url: str) -> None:
    """CREATE DATABASE `url`'s name TEMPLATE `source`'s: a file copy, faster than a reload."""
    name, template = (str(conninfo_to_dict(u)["dbname"]) for u in (url, source))
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )


def run_in_tree(script: Path, tree: Path, job: dict) -> Any:
    """`script` run with `tree`'s packages first on PYTHONPATH, `job` as JSON on its stdin; its
    last line of output, as JSON. How a benchmark times an older tree beside this one."""
    done = subprocess.run(
        [sys.executable, str(script)], input=json.dumps(job).encode(), cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} failed in {tree}:\n{done.stderr.decode()[-3000:]}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path


@contextlib.contextmanager
def api_server(
    database_url: str,
    *,
    env: dict[str, str],
    command: list[str] | None = None,
    name: str = "api",
    workers: int = 1,
    ready_timeout: float = 60,
) -> Iterator[Server]:
    """uvicorn serving the app on a free 127.0.0.1 port; stopped (SIGINT, then SIGKILL) even on errors.

    `command` goes before `python -m uvicorn ...` (a profiler that runs the server).
    """
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = OUT_DIR / f"{name}.log"
    argv = [
        *(command or []),
        sys.executable, "-m", "uvicorn", "--factory", "stats_api.main:create_app",
        "--no-access-log", "--log-level", "warning", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip
    child_env = {**os.environ, **SERVER_ENV, **env, "STATS_DATABASE_URL": database_url}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=PROJECT_ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_serving(server, timeout=ready_timeout)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT to the server's own process group (uvicorn shuts down gracefully, a profiler writes
    its file), then SIGKILL to whatever of that group is still there after a grace period."""
    _signal_group(process.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _signal_group(process.pid, 0) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_group(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _signal_group(pgid: int, sig: int) -> bool:
    """Signals the process group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _wait_until_serving(server: Server, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the API server exited with {server.process.returncode}:\n{tail}")
        try:
            httpx.get(server.base_url + "/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"the API server did not answer within {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy so far (steal included: a noisy neighbour)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def backend_pids(conn: psycopg.Connection, database_url: str) -> list[int]:
    """PostgreSQL backends connected to the benchmark database (the API's pool, our own connection)."""
    dbname = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (dbname,)).fetchall()
    return [pid for (pid,) in rows]


class PostgresCpu:
    """CPU spent by the backends serving one database between `start()` and `stop()`."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.before: dict[int, float] = {}

    def _sample(self) -> dict[int, float]:
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            return {pid: cpu_seconds(pid) for pid in backend_pids(conn, self.database_url)}

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> float:
        after = self._sample()
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in after.items())


def machine() -> dict[str, str]:
    """The machine and the PostgreSQL settings every section names beside its figures."""
    info = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kib = next(int(ln.split()[1]) for ln in meminfo if ln.startswith("MemTotal:"))
    with psycopg.connect(SERVER_URL) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                (list(PG_SETTINGS),),
            ).fetchall()
        )
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "postgres": version[0] if version else "?",
        **settings,
        "polars": f"{pl.__version__} ({pl.thread_pool_size()} threads)",
        "python": platform.python_version(),
        "load": f"{os.getloadavg()[0]:.1f}",
        "commit": _commit(),
    }


def pg_settings(m: dict[str, str], names: Sequence[str]) -> str:
    return ", ".join(f"{name}={m.get(name, '?')}" for name in names)


def _commit() -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    return found.stdout.strip() or "unknown"
