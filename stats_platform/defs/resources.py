import dagster as dg

from stats_platform.resources import (
    AlertResource,
    PipelineSettings,
    PostgresResource,
    RedisResource,
)
from stats_platform.settings import get_settings
from stats_platform.storage.database import resolve_database_url


@dg.definitions
def resources() -> dg.Definitions:
    settings = get_settings()
    # Configured URLs stay environment variables (they may hold secrets); unconfigured ones use
    # the platform's defaults, which hold none.
    database_url = (
        dg.EnvVar("STATS_DATABASE_URL") if settings.database_url else resolve_database_url(settings)
    )
    redis_url = (
        dg.EnvVar("STATS_REDIS_URL")
        if "redis_url" in settings.model_fields_set
        else settings.redis_url
    )
    webhook_url = dg.EnvVar("STATS_FAILURE_WEBHOOK_URL") if settings.failure_webhook_url else None
    return dg.Definitions(
        resources={
            "postgres": PostgresResource(url=database_url),
            "redis": RedisResource(url=redis_url),
            "alerts": AlertResource(webhook_url=webhook_url),
            "pipeline": PipelineSettings.from_settings(settings),
        }
    )
