"""Expressions shared by the transforms: epoch-aligned windows, snowflake order, event types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

TIMESTAMP = pl.Datetime("ms", "UTC")

GRAINS: dict[str, timedelta] = {
    "5min": timedelta(minutes=5),
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
}

MESSAGE_CREATE = "MESSAGE_CREATE"
MESSAGE_REACTION_ADD = "MESSAGE_REACTION_ADD"
GUILD_MEMBER_ADD = "GUILD_MEMBER_ADD"
GUILD_MEMBER_REMOVE = "GUILD_MEMBER_REMOVE"
VOICE_STATE_UPDATE = "VOICE_STATE_UPDATE"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _expr(col: str | pl.Expr) -> pl.Expr:
    return pl.col(col) if isinstance(col, str) else col


def duration_ms(span: timedelta) -> int:
    """Whole milliseconds of a span; windows and caps must be a positive whole number of ms."""
    ms, rest = divmod(span, _MS)
    if ms <= 0 or rest:
        raise ValueError(f"expected a positive whole number of milliseconds, got {span!r}")
    return int(ms)


def epoch_ms_of(instant: datetime) -> int:
    """Epoch milliseconds of an instant; a naive datetime is read as UTC."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return (instant - _EPOCH) // _MS


def epoch_ms(col: str | pl.Expr) -> pl.Expr:
    return _expr(col).dt.epoch("ms")


def from_epoch_ms(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Int64).cast(TIMESTAMP)


def instant(value: datetime) -> pl.Expr:
    """A Python datetime as a Datetime("ms", "UTC") literal (naive means UTC)."""
    return from_epoch_ms(pl.lit(epoch_ms_of(value), dtype=pl.Int64))


def window_start(col: str | pl.Expr, every: timedelta) -> pl.Expr:
    """Start of the epoch-aligned UTC window of size `every` that contains the timestamp."""
    step = duration_ms(every)
    return from_epoch_ms(epoch_ms(col).floordiv(step) * step)


def floor_to(at: datetime, every: timedelta) -> datetime:
    """Start of the epoch-aligned UTC window of size `every` containing `at` (window_start for one instant)."""
    return _EPOCH + ((at - _EPOCH) // every) * every


def ceil_to(at: datetime, every: timedelta) -> datetime:
    """The first epoch-aligned window boundary at or after `at`."""
    floor = floor_to(at, every)
    return floor if floor == at else floor + every


def snowflake_order(col: str | pl.Expr) -> list[pl.Expr]:
    """Sort keys [length, value]: for normalized digit strings this is numeric order."""
    expr = _expr(col)
    return [expr.str.len_bytes(), expr]
