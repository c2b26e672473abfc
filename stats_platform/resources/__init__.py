from stats_platform.resources.alerts import AlertResource
from stats_platform.resources.pipeline import PipelineSettings
from stats_platform.resources.postgres import PostgresResource
from stats_platform.resources.redis import RedisResource

__all__ = ["AlertResource", "PipelineSettings", "PostgresResource", "RedisResource"]
