"""Constants and helpers of the tests that talk to the API, in-process or served (fixtures: tests/conftest.py)."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

GUILD = "111111111111111111"
OTHER_GUILD = "222222222222222222"
FOREIGN_GUILD = "333333333333333333"
# Nothing listens here: an app pointed at it runs with Redis down.
UNUSED_REDIS_URL = "redis://127.0.0.1:6399/0"
DAY_MS = 86_400_000
# A plaintext API key as the key store hands it out; group 1 is the key id.
KEY_FORMAT = re.compile(r"sp_([0-9a-f]{12})_[0-9a-f]{48}")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Api:
    """An API served by `stats-platform serve` in a process of its own (tests/conftest.py's start_api)."""

    url: str
    database_url: str


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not become ready")
        time.sleep(0.2)
