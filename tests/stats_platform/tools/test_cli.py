"""`stats-platform serve`: migrates, then serves the API (what `up` runs for the API)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from tests.testkit.api import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def test_serve_migrates_and_serves(fresh_database_url: str, redis_url: str) -> None:
    port = free_port()
    env = {**os.environ, "STATS_DATABASE_URL": fresh_database_url, "STATS_REDIS_URL": redis_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "stats_platform.tools.cli", "serve", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = wait_for(f"http://127.0.0.1:{port}/readyz")
        assert (ready.status_code, ready.json()["migrations"]) == (200, "current")
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT count(*) > 0 FROM schema_migrations").fetchone() == (True,)


def wait_for(url: str, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
