from __future__ import annotations

import dagster as dg
import redis


class RedisResource(dg.ConfigurableResource):
    """Live state (voice presence, caches, rate limits): never the only copy of anything."""

    url: str

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)
