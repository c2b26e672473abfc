"""Instants as the platform stores and prints them: UTC, epoch milliseconds, ISO-8601 with Z."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def epoch_ms_of(instant: datetime) -> int:
    """Epoch milliseconds of an instant (floored); a naive datetime is read as UTC."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return (instant - EPOCH) // MS


def epoch_us_of(instant: datetime) -> int:
    """Epoch microseconds of an instant: PostgreSQL's precision, for arrival times."""
    return (instant - EPOCH) // timedelta(microseconds=1)


def from_epoch_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def iso_z(at: datetime) -> str:
    """UTC ISO-8601 with a Z, to the millisecond."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_z_ms(ms: int) -> str:
    """iso_z of an epoch-millisecond instant."""
    return iso_z(from_epoch_ms(ms))


def floor_to(at: datetime, every: timedelta) -> datetime:
    """Start of the epoch-aligned UTC window of size `every` containing `at`."""
    return EPOCH + ((at - EPOCH) // every) * every


def ceil_to(at: datetime, every: timedelta) -> datetime:
    """The first epoch-aligned window boundary at or after `at`."""
    floor = floor_to(at, every)
    return floor if floor == at else floor + every
