"""Named periods, custom ranges, previous periods and activity buckets (contract §3).

`tz` moves day and week boundaries, never instants: every time range here is a pair of UTC
instants, computed from local dates in the guild's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Period = Literal["today", "week", "month", "all"]
Granularity = Literal["hour", "day", "week"]
MAX_BUCKETS = 2000


class PeriodError(ValueError):
    """A parameter that does not make a time range; `param` names it for the 422."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class TimeRange:
    """An asked period: [start, end) in UTC."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> TimeRange:
        return TimeRange(self.start - self.length, self.start)


def resolve(
    *,
    period: Period | None,
    start: datetime | None,
    end: datetime | None,
    zone: ZoneInfo,
    now: datetime,
    first_data: datetime | None,
) -> tuple[TimeRange, TimeRange | None]:
    """The asked time range and the one before it (None for `all`, which has no previous period)."""
    if start is not None or end is not None:
        custom = _custom(start, end, now)
        return custom, custom.previous()
    if period == "today":
        local_midnight = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
        asked = TimeRange(local_midnight.astimezone(UTC), now)
    elif period == "week":
        asked = TimeRange(now - timedelta(days=7), now)
    elif period == "month":
        asked = TimeRange(now - timedelta(days=30), now)
    else:
        return TimeRange(min(first_data or now, now), now), None
    return asked, asked.previous()


def _custom(start: datetime | None, end: datetime | None, now: datetime) -> TimeRange:
    if start is None:
        raise PeriodError("from", "from is required when to is given")
    if start.tzinfo is None:
        raise PeriodError("from", "from must be ISO-8601 with an offset or Z")
    if end is not None and end.tzinfo is None:
        raise PeriodError("to", "to must be ISO-8601 with an offset or Z")
    end = min(end or now, now)
    if start >= end:
        raise PeriodError("to", "to must be later than from (and from earlier than now)")
    return TimeRange(start.astimezone(UTC), end.astimezone(UTC))


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError) as exc:
        # OSError: a folder of the zone database (`America`) or a name the filesystem refuses.
        raise PeriodError("tz", f"unknown IANA time zone {name[:64]!r}") from exc


def buckets(
    asked: TimeRange, granularity: Granularity, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """(label, end) per bucket: labels aligned in `zone` (weeks start on Monday).

    The first bucket may start before the range; it counts only from asked.start, so the
    buckets add up to the period's totals.
    """
    starts = _aligned_starts(asked, granularity, zone)
    if len(starts) > MAX_BUCKETS:
        raise PeriodError(
            "granularity",
            f"{granularity} gives {len(starts)} buckets for this period; at most {MAX_BUCKETS}",
        )
    ends = [*starts[1:], asked.end]
    return [(s, min(e, asked.end)) for s, e in zip(starts, ends, strict=True)]


def _aligned_starts(asked: TimeRange, granularity: Granularity, zone: ZoneInfo) -> list[datetime]:
    local_start = asked.start.astimezone(zone)
    if granularity == "hour":
        first = local_start.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        count = -(-(asked.end - first) // timedelta(hours=1))
        return [first + timedelta(hours=i) for i in range(count)]
    day = local_start.date()
    if granularity == "week":
        day -= timedelta(days=day.weekday())
    step = 7 if granularity == "week" else 1
    starts = []
    while (at := _midnight(day, zone)) < asked.end:
        starts.append(at)
        day += timedelta(days=step)
    return starts


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
