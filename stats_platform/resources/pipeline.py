from __future__ import annotations

from datetime import timedelta

import dagster as dg


class PipelineSettings(dg.ConfigurableResource):
    """Rules and horizons of the computation (SPEC §2 and §4), configurable per deployment."""

    voice_cap_hours: int = 24
    # An ingest transaction lasts at most 20 s (statement_timeout), so every event that arrived
    # more than settle_seconds ago is committed and visible: that instant is covered_until.
    settle_seconds: int = 30
    # How long after a 5-minute window closes its run waits for the bot's batches to land.
    batch_delay_seconds: int = 15
    raw_retention_days: int = 30
    snapshot_retention_days: int = 365
    five_minute_retention_days: int = 90

    @property
    def voice_cap(self) -> timedelta:
        return timedelta(hours=self.voice_cap_hours)
