"""Identical answers computed once at a time in a process: the first request computes, the
others that ask for the same cache key meanwhile wait for its body.

A dashboard shown to a whole community at once asks for one answer many times in the same
second; before this each request computed it on a reader connection of its own, so sixteen
cold requests for one big guild's week held ten connections for seconds and the last ones were
shed (docs/benchmarks.md, Stats API). The key is the answer cache's, so only requests that would
share a cache entry share a computation, also with the cache off: what a follower gets is at
most one computation old, as a cache entry is at most its TTL old. A follower waits with no
connection of its own. If the computation fails (its client left and cancelled it, a deadline),
its followers compute their own answer instead of inheriting the failure.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future


class SharedComputationFailed(Exception):
    """The computation a request waited for did not give a body."""


class InFlight:
    """The computations under way in this process, by cache key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, Future[bytes]] = {}

    def join(self, key: str) -> Future[bytes] | None:
        """The running computation of `key` to wait on, or None: then the caller leads it, and
        must call `finish` whatever happens."""
        with self._lock:
            running = self._running.get(key)
            if running is None:
                self._running[key] = Future()
            return running

    def finish(self, key: str, body: bytes | None) -> None:
        """Ends the computation of `key`: its body to everyone waiting, or None when it failed."""
        with self._lock:
            running = self._running.pop(key)
        if body is None:
            running.set_exception(SharedComputationFailed(key))
        else:
            running.set_result(body)
