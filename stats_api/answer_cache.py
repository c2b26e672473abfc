"""Cached stats answers in Redis, keyed so that new events make old entries unreachable.

A key is `stats:cache:{guild}:{newest}:{endpoint}:{params hash}`, where `newest` is the guild's
newest arrival (`max(last_received_at)` of its daily `window_arrivals` rows, read in the same
snapshot the answer is computed from). Every stored event raises it, so once a guild gets new
events no earlier entry is looked up again: that is how a guild's entries are dropped when new
events arrive, without a scan or a delete; the stale ones simply expire after their TTL.

Correctness never depends on Redis: a miss, an outage or a lost key only means computing the
answer. An entry can at most be the TTL old in the instants of a named period (`today`, `week`
... end at the moment they were computed), and when two ingest transactions of one guild
overlap, the one that started first may commit last with an older arrival time; the answer
cached in between is then served until its TTL runs out.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from stats_api.redis_gate import RedisGate
from stats_platform.domain.instants import epoch_ms_of, epoch_us_of


def cache_key(guild_id: str, newest: datetime | None, endpoint: str, params: dict[str, Any]) -> str:
    stamp = 0 if newest is None else epoch_us_of(newest)
    digest = hashlib.sha256(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    return f"stats:cache:{guild_id}:{stamp}:{endpoint}:{digest}"


class AnswerCache:
    def __init__(self, redis: RedisGate, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def get(self, key: str) -> bytes | None:
        if not self.enabled:
            return None
        return self._redis.run(lambda client: client.get(key))  # type: ignore[return-value]

    def put(self, key: str, body: bytes, *, true_until: datetime | None = None) -> None:
        """Kept for the TTL, or until `true_until` when the answer stops being true sooner by
        itself (an absolute expiry, so the time the answer took to compute does not extend it)."""
        if not self.enabled:
            return
        if true_until is None:
            self._redis.run(lambda client: client.set(key, body, ex=self._ttl))
            return
        ttl_end = datetime.now(UTC) + timedelta(seconds=self._ttl)
        at_ms = epoch_ms_of(min(true_until, ttl_end))
        self._redis.run(lambda client: client.set(key, body, pxat=at_ms))
