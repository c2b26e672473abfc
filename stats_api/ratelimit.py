"""Request rate limits in Redis: a fixed one-minute window, counted per request.

Keys follow docs/architecture.md: `stats:rl:{key_id}:{minute}` per API key and
`stats:badkey:{address}:{minute}` per client address that presented bad keys, counters that
expire after two minutes (the window plus slack for clocks of different API processes).
"""

from __future__ import annotations

import math
import time

import redis

from stats_api.redis_gate import RedisGate

WINDOW_SECONDS = 60
KEY_TTL_SECONDS = 120


class RateLimiter:
    def __init__(self, gate: RedisGate, per_minute: int) -> None:
        self._gate = gate
        self._per_minute = per_minute

    def retry_after(self, key_id: str) -> int | None:
        """Seconds until the window resets when key_id is over its rate; None when allowed or Redis is down."""
        now = time.time()
        minute = int(now // WINDOW_SECONDS)
        count = self._gate.run(lambda client: _count(client, f"stats:rl:{key_id}:{minute}"))
        if count is None or count <= self._per_minute:
            return None
        return _rest_of_minute(now)


class BadKeyThrottle:
    """Guessing keys: an address that presented `per_minute` bad keys in a clock minute is
    refused (429) until the minute ends, whatever key it sends, so a guess cannot be confirmed."""

    def __init__(self, gate: RedisGate, per_minute: int) -> None:
        self._gate = gate
        self._per_minute = per_minute

    def retry_after(self, address: str) -> int | None:
        now = time.time()
        key = f"stats:badkey:{address}:{int(now // WINDOW_SECONDS)}"
        count = self._gate.run(lambda client: client.get(key))
        if count is None or int(count) < self._per_minute:
            return None
        return _rest_of_minute(now)

    def failed(self, address: str) -> None:
        key = f"stats:badkey:{address}:{int(time.time() // WINDOW_SECONDS)}"
        self._gate.run(lambda client: _count(client, key))


def _rest_of_minute(now: float) -> int:
    return max(1, math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS))


def _count(client: redis.Redis, key: str) -> int:
    pipe = client.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, KEY_TTL_SECONDS)
    count, _ = pipe.execute()
    return int(count)
