"""Redis as an accelerator: while it is down callers get None and carry on without it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import redis

from stats_platform.logs import get_logger

log = get_logger("stats.redis")
T = TypeVar("T")

# A request must never wait long on an accelerator: a dead Redis costs at most this per call.
SOCKET_TIMEOUT_SECONDS = 0.5


class RedisGate:
    """A Redis client that, after a failure, is skipped for a few seconds instead of timing out on every request."""

    def __init__(self, client: redis.Redis, *, pause_seconds: float = 5.0) -> None:
        self.client = client
        self._pause_seconds = pause_seconds
        self._skip_until = 0.0
        self._down = False

    @classmethod
    def from_url(cls, url: str) -> RedisGate:
        client = redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        )
        return cls(client)

    def run(self, call: Callable[[redis.Redis], T]) -> T | None:
        """call(client), or None when Redis is unavailable (then a warning, once per outage)."""
        if time.monotonic() < self._skip_until:
            return None
        return self._call(call)

    def ping(self) -> bool:
        """Asks Redis now, ignoring the pause: readiness must report the current state."""
        return self._call(lambda client: client.ping()) is not None

    def _call(self, call: Callable[[redis.Redis], T]) -> T | None:
        try:
            result = call(self.client)
        except redis.RedisError as exc:
            self._mark_down(exc)
            return None
        self._mark_up()
        return result

    def close(self) -> None:
        self.client.close()

    def _mark_down(self, exc: Exception) -> None:
        self._skip_until = time.monotonic() + self._pause_seconds
        if not self._down:
            self._down = True
            log.warning("Redis unavailable: running without rate limits and caches", error=str(exc))

    def _mark_up(self) -> None:
        if self._down:
            self._down = False
            log.info("Redis is back")
