from __future__ import annotations

from datetime import timedelta

import dagster as dg

from stats_platform.settings import Settings


class PipelineSettings(dg.ConfigurableResource):
    """Rules and horizons of the computation: the pipeline's share of Settings, under the same names."""

    voice_session_cap_hours: int = 24
    settle_seconds: int = 30
    batch_delay_seconds: int = 15
    raw_retention_days: int = 30
    snapshot_retention_days: int = 365
    five_minute_retention_days: int = 90

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineSettings:
        return cls(**settings.model_dump(include=set(cls.model_fields)))

    @property
    def voice_cap(self) -> timedelta:
        return timedelta(hours=self.voice_session_cap_hours)

    def retention_days(self, setting: str) -> int:
        """The value of a retention setting named by a grain (`Grain.retention_setting`)."""
        return int(getattr(self, setting))
