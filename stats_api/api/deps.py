"""Per-request dependencies: settings, database, Redis, and the API-key checks routes declare.

`ReadGuildDep` is for the stats routes: it answers 401 without a valid key, 403 for a key of
another scope and 404 for a guild the key cannot see (so a key cannot probe for other guilds).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool

from stats_api.ingest.store import EventStore
from stats_api.ratelimit import BadKeyThrottle, RateLimiter
from stats_api.redis_gate import RedisGate
from stats_platform.domain.snowflakes import normalize_snowflake
from stats_platform.settings import Settings
from stats_platform.storage.api_keys import ApiKey, Scope, authenticate


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_pool(request: Request) -> ConnectionPool:
    """The stats readers' pool."""
    return request.app.state.pool  # type: ignore[no-any-return]


async def get_ingest_pool(request: Request) -> ConnectionPool:
    """Ingest's and the key lookups' pool, which readers never take from."""
    return request.app.state.ingest_pool  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[ConnectionPool, Depends(get_pool)]
IngestPoolDep = Annotated[ConnectionPool, Depends(get_ingest_pool)]


async def get_redis(request: Request) -> RedisGate:
    return request.app.state.redis  # type: ignore[no-any-return]


async def get_rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter  # type: ignore[no-any-return]


async def get_bad_key_throttle(request: Request) -> BadKeyThrottle:
    return request.app.state.bad_key_throttle  # type: ignore[no-any-return]


async def get_event_store(request: Request) -> EventStore:
    return request.app.state.event_store  # type: ignore[no-any-return]


RedisDep = Annotated[RedisGate, Depends(get_redis)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
EventStoreDep = Annotated[EventStore, Depends(get_event_store)]


# Declared for the OpenAPI document (either one authenticates); presented_key reads the headers.
BearerDep = Annotated[
    HTTPAuthorizationCredentials | None,
    Depends(
        HTTPBearer(
            auto_error=False,
            scheme_name="bearer",
            description="`Authorization: Bearer sp_<key_id>_<secret>`",
        )
    ),
]
ApiKeyHeaderDep = Annotated[
    str | None,
    Depends(
        APIKeyHeader(
            name="X-API-Key",
            auto_error=False,
            scheme_name="apiKey",
            description="`X-API-Key: sp_<key_id>_<secret>`, instead of Authorization",
        )
    ),
]


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer <key>`, else from `X-API-Key`."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key", "").strip() or None


def check_key(request: Request, pool: ConnectionPool, scope: Scope) -> ApiKey | None:
    """The caller's key of `scope`, counted against its rate; None when auth is off."""
    settings: Settings = request.app.state.settings
    if settings.auth == "off":
        return None
    presented = presented_key(request)
    if presented is None:
        raise _unauthorized("missing API key: send Authorization: Bearer <key> or X-API-Key")
    throttle: BadKeyThrottle = request.app.state.bad_key_throttle
    address = request.client.host if request.client else "unknown"
    blocked = throttle.retry_after(address)
    if blocked is not None:
        raise HTTPException(
            429,
            f"too many bad API keys from {address}; retry after {blocked} s",
            headers={"Retry-After": str(blocked)},
        )
    with pool.connection() as conn:
        key = authenticate(conn, presented)
    if key is None:
        throttle.failed(address)
        raise _unauthorized("invalid or revoked API key")
    if key.scope != scope:
        raise HTTPException(
            403, f"API key {key.key_id} has scope {key.scope}; this needs scope {scope}"
        )
    limiter: RateLimiter = request.app.state.rate_limiter
    retry_after = limiter.retry_after(key.key_id)
    if retry_after is not None:
        raise HTTPException(
            429,
            f"API key {key.key_id} is over its rate of {settings.rate_limit_per_minute} requests per minute",
            headers={"Retry-After": str(retry_after)},
        )
    return key


def require_ingest_key(
    request: Request, pool: IngestPoolDep, _bearer: BearerDep, _api_key: ApiKeyHeaderDep
) -> ApiKey | None:
    return check_key(request, pool, "ingest")


def require_read_guild(
    guild_id: Annotated[str, Path(alias="guildId")],
    request: Request,
    pool: IngestPoolDep,
    _bearer: BearerDep,
    _api_key: ApiKeyHeaderDep,
) -> str:
    """The path's guildId, normalized, once the caller's read key may see it."""
    key = check_key(request, pool, "read")
    guild = normalize_snowflake(guild_id)
    if guild is None or (key is not None and key.denied_guilds([guild])):
        raise HTTPException(404, f"guild {guild_id} not found")
    return guild


IngestKeyDep = Annotated[ApiKey | None, Depends(require_ingest_key)]
ReadGuildDep = Annotated[str, Depends(require_read_guild)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})
