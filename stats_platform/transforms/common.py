"""Expressions shared by the transforms: epoch-aligned windows, instants, snowflake order."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from stats_platform.domain.instants import MS, epoch_ms_of

TIMESTAMP = pl.Datetime("ms", "UTC")


def _expr(col: str | pl.Expr) -> pl.Expr:
    return pl.col(col) if isinstance(col, str) else col


def duration_ms(span: timedelta) -> int:
    """Whole milliseconds of a span; windows and caps must be a positive whole number of ms."""
    ms, rest = divmod(span, MS)
    if ms <= 0 or rest:
        raise ValueError(f"expected a positive whole number of milliseconds, got {span!r}")
    return int(ms)


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


def snowflake_order(col: str | pl.Expr) -> list[pl.Expr]:
    """Sort keys [length, value]: for normalized digit strings this is numeric order."""
    expr = _expr(col)
    return [expr.str.len_bytes(), expr]
