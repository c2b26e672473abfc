"""Epoch-aligned windows and snowflake order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from stats_platform.domain.grains import LENGTHS as GRAINS
from stats_platform.domain.instants import epoch_ms_of
from stats_platform.transforms.common import snowflake_order, window_start

MS = pl.Datetime("ms", "UTC")


def starts(values: list[datetime], every: timedelta) -> list[datetime]:
    frame = pl.DataFrame({"ts": values}, schema={"ts": MS})
    out = frame.select(window_start("ts", every).alias("start"))
    assert out.schema["start"] == MS
    return out["start"].to_list()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_grains_are_five_minutes_an_hour_and_a_day():
    assert dict(GRAINS) == {
        "5min": timedelta(minutes=5),
        "hourly": timedelta(hours=1),
        "daily": timedelta(days=1),
    }


def test_window_start_is_the_epoch_aligned_window_containing_the_instant():
    values = [
        utc(2024, 3, 1, 0, 0),
        utc(2024, 3, 1, 0, 4, 59, 999_000),
        utc(2024, 3, 1, 0, 5),
        utc(2024, 3, 1, 23, 59, 59, 999_000),
    ]
    assert starts(values, GRAINS["5min"]) == [
        utc(2024, 3, 1, 0, 0),
        utc(2024, 3, 1, 0, 0),
        utc(2024, 3, 1, 0, 5),
        utc(2024, 3, 1, 23, 55),
    ]
    assert starts(values, GRAINS["hourly"]) == [
        utc(2024, 3, 1, 0),
        utc(2024, 3, 1, 0),
        utc(2024, 3, 1, 0),
        utc(2024, 3, 1, 23),
    ]
    assert starts(values, GRAINS["daily"]) == [utc(2024, 3, 1)] * 4


def test_window_start_accepts_an_expression_and_keeps_nulls():
    frame = pl.DataFrame({"ts": [utc(2024, 3, 1, 10, 7), None]}, schema={"ts": MS})
    out = frame.select(window_start(pl.col("ts") + timedelta(minutes=3), GRAINS["5min"]))
    assert out.to_series().to_list() == [utc(2024, 3, 1, 10, 10), None]


def test_window_size_must_be_whole_milliseconds():
    with pytest.raises(ValueError):
        window_start("ts", timedelta(microseconds=1500))
    with pytest.raises(ValueError):
        window_start("ts", timedelta(0))


def test_epoch_ms_of_reads_naive_datetimes_as_utc():
    assert epoch_ms_of(utc(1970, 1, 1, 0, 0, 1)) == 1000
    assert epoch_ms_of(datetime(1970, 1, 2)) == 86_400_000


def test_snowflake_order_is_numeric_order_even_beyond_64_bits():
    ids = ["18446744073709551616", "9", "10", "0", "99999999999999999999", "100", "11"]
    frame = pl.DataFrame({"user_id": ids})
    ordered = frame.sort(snowflake_order("user_id"))["user_id"].to_list()
    assert ordered == sorted(ids, key=int)
    assert ordered == [
        "0",
        "9",
        "10",
        "11",
        "100",
        "18446744073709551616",
        "99999999999999999999",
    ]
