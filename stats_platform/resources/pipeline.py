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
    missed_windows_lookback_minutes: int = 2 * 24 * 60
    missed_windows_grace_seconds: int = 120

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineSettings:
        return cls(**settings.model_dump(include=set(cls.model_fields)))

    @property
    def voice_cap(self) -> timedelta:
        return timedelta(hours=self.voice_session_cap_hours)

    @property
    def missed_window_run_delay(self) -> timedelta:
        """How long after its schedule tick a window's run has committed, or never will."""
        return timedelta(
            seconds=self.settle_seconds
            + self.batch_delay_seconds
            + self.missed_windows_grace_seconds
        )

    def retention_days(self, setting: str) -> int:
        """The value of a retention setting named by a grain (`Grain.retention_setting`)."""
        return int(getattr(self, setting))
