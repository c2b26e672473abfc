"""Query parameters of the stats routes, as models so /docs describes each one.

Validation errors name the parameter (`loc: ["query", "<name>"]`); rules that involve two
parameters raise `periods.PeriodError` when the time range is resolved, answered with the same shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, field_validator

from stats_api import periods
from stats_api.figures import Category, SortBy
from stats_api.schemas import CamelModel

# Nothing happened on Discord before its epoch; earlier `from` values are typos, and would
# send the previous-period arithmetic past datetime's range.
DISCORD_EPOCH = datetime(2015, 1, 1, tzinfo=UTC)
DEFAULT_PERIOD: periods.Period = "week"
# Bounds far beyond any guild, chosen so every value stays exact in a JSON number (2^53) and
# its arithmetic (page offset, minutes in ms) stays within a 64-bit integer.
MAX_PAGE = 1_000_000_000
MAX_MIN_MESSAGES = 10**15
MAX_MIN_VOICE_MINUTES = 10**13
# The longest IANA name is 32 characters; the pattern keeps paths and NULs out of the zone lookup.
TZ_PATTERN = r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$"


class PeriodQuery(CamelModel):
    period: periods.Period | None = Field(
        default=None,
        description="`today` (from 00:00 in `tz`), `week` (last 7 days), `month` (last 30 days)"
        " or `all` (everything kept). Default `week` unless `from` is given; not with from/to.",
        examples=["week"],
    )
    start: datetime | None = Field(
        default=None,
        alias="from",
        description="window start, ISO-8601 with an offset (or Z); instead of `period`",
        examples=["2024-05-01T00:00:00Z"],
    )
    end: datetime | None = Field(
        default=None,
        alias="to",
        description="window end (exclusive), ISO-8601 with an offset; default and at most now",
        examples=["2024-05-08T00:00:00+05:30"],
    )
    tz: str = Field(
        default="UTC",
        min_length=1,
        max_length=64,
        pattern=TZ_PATTERN,
        description="IANA time zone: moves day and week boundaries, never instants",
        examples=["Asia/Kolkata"],
    )

    @field_validator("start", "end")
    @classmethod
    def _an_instant(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must be ISO-8601 with an offset or Z")
        if value < DISCORD_EPOCH:
            raise ValueError("must not be before 2015-01-01T00:00:00Z (the Discord epoch)")
        return value

    @field_validator("tz")
    @classmethod
    def _a_zone(cls, value: str) -> str:
        periods.zone_of(value)
        return value

    def resolve(
        self, *, now: datetime, first_data: datetime | None
    ) -> tuple[periods.TimeRange, periods.TimeRange | None]:
        """The time range asked for and the previous one (None for `all`)."""
        custom = self.start is not None or self.end is not None
        if custom and self.period is not None:
            raise periods.PeriodError("period", "give either period or from/to, not both")
        return periods.resolve(
            period=None if custom else self.period or DEFAULT_PERIOD,
            start=self.start,
            end=self.end,
            zone=periods.zone_of(self.tz),
            now=now,
            first_data=first_data,
        )

    @property
    def wants_first_data(self) -> bool:
        return self.period == "all" and self.start is None and self.end is None


class LeaderboardQuery(PeriodQuery):
    category: Category = Field(
        default="messages",
        description="score: messages, voice minutes, reactions given, or `overall` (their sum)",
        examples=["overall"],
    )
    limit: int = Field(default=10, ge=1, le=100, description="entries, at most 100", examples=[10])


class ActivityQuery(PeriodQuery):
    granularity: periods.Granularity = Field(
        default="day",
        description=f"bucket size, aligned to `tz` (weeks start on Monday); at most"
        f" {periods.MAX_BUCKETS} buckets per answer",
        examples=["day"],
    )


class MemberListQuery(CamelModel):
    page: int = Field(
        default=1,
        ge=1,
        le=MAX_PAGE,
        description="from 1; a page past the last is empty",
        examples=[1],
    )
    page_size: int = Field(default=20, ge=1, le=100, description="at most 100", examples=[20])
    sort_by: SortBy = Field(
        default="messages",
        description="lifetime messages, voice minutes, reactions given, or lastSeen;"
        " ties always by userId ascending",
        examples=["messages"],
    )
    sort_order: Literal["asc", "desc"] = Field(default="desc", examples=["desc"])
    min_messages: int | None = Field(
        default=None,
        ge=0,
        le=MAX_MIN_MESSAGES,
        description="only members with at least this many",
        examples=[10],
    )
    min_voice_minutes: int | None = Field(
        default=None,
        ge=0,
        le=MAX_MIN_VOICE_MINUTES,
        description="only members with at least this many",
        examples=[60],
    )
    active_only: bool = Field(
        default=False, description="only members seen in the last 7 days", examples=[True]
    )
