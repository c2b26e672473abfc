"""Fixes to the answer rules found while building the routes, checked without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from stats_api import figures, periods
from stats_api.engine.lifetime import LIFETIME_SCHEMA


def test_a_naive_to_is_a_period_error_naming_to() -> None:
    # Used to compare a naive `to` with an aware now: TypeError, a 500.
    with pytest.raises(periods.PeriodError) as refused:
        periods.resolve(
            period=None,
            start=datetime(2024, 5, 1, tzinfo=UTC),
            end=datetime(2024, 5, 2),
            zone=periods.zone_of("UTC"),
            now=datetime(2024, 6, 1, tzinfo=UTC),
            first_data=None,
        )
    assert refused.value.param == "to"


def test_members_with_the_same_voice_minutes_tie_and_go_by_user_id() -> None:
    # 30m50s, 30m40s and 30m30s are all shown as 30 minutes: sorted by userId, not by seconds.
    voice_ms = {"12": 1_850_000, "2": 1_840_000, "9": 1_830_000, "10": 0}
    lifetime = pl.DataFrame(
        [{**dict.fromkeys(LIFETIME_SCHEMA), "user_id": user, "total_messages": 0,
          "total_voice_ms": ms, "total_reactions_given": 0, "total_reactions_received": 0}
         for user, ms in voice_ms.items()],
        schema=LIFETIME_SCHEMA,
    ).with_columns(pl.col("last_message_at", "last_voice_at", "last_seen", "joined_at").cast(
        pl.Datetime("ms", "UTC")))  # fmt: skip
    page, total = figures.member_page(
        lifetime,
        guild_id="1",
        now=datetime(2024, 6, 1, tzinfo=UTC),
        sort_by="voice",
        descending=True,
        page=1,
        page_size=10,
        min_messages=None,
        min_voice_minutes=None,
        active_only=False,
    )
    assert [row["userId"] for row in page] == ["2", "9", "12", "10"] and total == 4
