"""The three time grains of the rollups, each declared once.

Partitions, schedules, jobs, the late-data sensor, retention, the stats API's coverage plan,
the demo's backfills and ingest's window arithmetic are all derived from these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Grain:
    name: str
    """`period_type` in the tables, and the suffix of the grain's asset, job and schedule names."""
    length: timedelta
    resolution: str
    """How the stats API labels an answer read from this grain's rows past the raw horizon."""
    partition_format: str
    cron: str
    """When a window closes: the partitions' cron (UTC)."""
    schedule_minute: int
    """Minute (past the window's close) at which the schedule runs an hourly or daily window."""
    retention_setting: str
    """The Settings field giving how many days this grain's snapshot rows are kept."""
    freshness_fail: timedelta
    freshness_warn: timedelta | None = None
    member_rows_kept_forever: bool = False
    """Daily member blocks (and the spans merged from them) are what lifetime totals are merged
    from: retention never removes them."""
    also_in_job: tuple[str, ...] = ()
    """Assets other than this grain's rollups that its job materializes, in job order."""
    job_description: str = ""

    @property
    def snapshots_asset(self) -> str:
        return f"metrics_snapshots_{self.name}"

    @property
    def members_asset(self) -> str:
        return f"member_activity_{self.name}"

    @property
    def rollups_asset(self) -> str:
        return f"rollups_{self.name}"

    @property
    def job_name(self) -> str:
        return f"rollups_{self.name}_job"

    @property
    def schedule_name(self) -> str:
        return f"rollups_{self.name}_schedule"

    @property
    def job_assets(self) -> tuple[str, ...]:
        """The job's assets in the order a backfill lists them (voice first, totals last)."""
        before = tuple(a for a in self.also_in_job if a != "member_stats")
        after = tuple(a for a in self.also_in_job if a == "member_stats")
        return (*before, self.snapshots_asset, self.members_asset, *after)


FIVE_MINUTES = Grain(
    name="5min",
    length=timedelta(minutes=5),
    resolution="5min",
    partition_format="%Y-%m-%d-%H:%M",
    cron="*/5 * * * *",
    schedule_minute=0,
    retention_setting="five_minute_retention_days",
    # Due about a minute after closing (the run waits 45 s for the bot's batches): two missed
    # windows fail.
    freshness_fail=timedelta(minutes=15),
    freshness_warn=timedelta(minutes=10),
    job_description="5-minute snapshots and member activity for one window (or a range, in one run).",
)
HOURLY = Grain(
    name="hourly",
    length=timedelta(hours=1),
    resolution="hour",
    partition_format="%Y-%m-%d-%H:%M",
    cron="0 * * * *",
    schedule_minute=2,
    retention_setting="snapshot_retention_days",
    freshness_fail=timedelta(hours=2, minutes=10),
    job_description="Hourly snapshots and member activity.",
)
DAILY = Grain(
    name="daily",
    length=timedelta(days=1),
    resolution="day",
    partition_format="%Y-%m-%d",
    cron="0 0 * * *",
    schedule_minute=10,
    retention_setting="snapshot_retention_days",
    freshness_fail=timedelta(days=1, hours=2),
    member_rows_kept_forever=True,
    also_in_job=("voice_sessions", "member_stats"),
    job_description="Voice sessions and checkpoints, daily snapshots and member activity,"
    " lifetime member totals.",
)

GRAINS: tuple[Grain, ...] = (FIVE_MINUTES, HOURLY, DAILY)
"""Finest first."""
COARSE_TO_FINE: tuple[Grain, ...] = tuple(reversed(GRAINS))
GRAIN_NAMES: tuple[str, ...] = tuple(g.name for g in GRAINS)
RESOLUTIONS: tuple[str, ...] = ("exact", *(g.resolution for g in GRAINS))
"""Answer resolutions, finest first."""

_BY_NAME = {g.name: g for g in GRAINS}


def grain(name: str) -> Grain:
    """The grain called `name` (`5min`, `hourly`, `daily`)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown grain {name!r}; one of {', '.join(GRAIN_NAMES)}") from None


LENGTHS: dict[str, timedelta] = {g.name: g.length for g in GRAINS}
"""Window length per grain name."""
