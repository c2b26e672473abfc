"""Lifetime member totals (member_stats) summed from daily member_activity rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from stats_platform.transforms.activity import lifetime_member_stats, member_activity

MS = pl.Datetime("ms", "UTC")
DAY = timedelta(days=1)


def day1(hour: int) -> datetime:
    return datetime(2024, 3, 1, hour, tzinfo=UTC)


def day2(hour: int) -> datetime:
    return datetime(2024, 3, 2, hour, tzinfo=UTC)


# (ts, type, user, message author), guild g1
EVENTS = [
    (day1(10), "GUILD_MEMBER_ADD", "u1", None),
    (day1(11), "MESSAGE_CREATE", "u1", None),
    (day1(12), "MESSAGE_REACTION_ADD", "u2", "u1"),
    (day2(9), "MESSAGE_CREATE", "u1", None),
    (day2(10), "GUILD_MEMBER_REMOVE", "u1", None),
    (day2(11), "GUILD_MEMBER_ADD", "u1", None),  # rejoined: joined_at stays the first join
    (day2(13), "MESSAGE_CREATE", "u2", None),
]
# (user, day, voice ms, last voice at), guild g1
VOICE = [
    ("u2", day1(0), 3_600_000, day1(23)),
    ("u1", day2(0), 600_000, day2(8)),
]


def daily_members() -> pl.LazyFrame:
    events = pl.LazyFrame(
        [
            (seq, ts, ts, "g1", kind, user, None, author)
            for seq, (ts, kind, user, author) in enumerate(EVENTS)
        ],
        schema={
            "seq": pl.Int64,
            "ts": MS,
            "received_at": MS,
            "guild_id": pl.String,
            "type": pl.String,
            "user_id": pl.String,
            "channel_id": pl.String,
            "message_author_id": pl.String,
        },
        orient="row",
    )
    voice = pl.LazyFrame(
        [("g1", user, start, ms, last) for user, start, ms, last in VOICE],
        schema={
            "guild_id": pl.String,
            "user_id": pl.String,
            "window_start": MS,
            "voice_ms": pl.Int64,
            "last_voice_at": MS,
        },
        orient="row",
    )
    return member_activity(events, voice, every=DAY)


def test_lifetime_totals_sum_the_daily_rows():
    got = lifetime_member_stats(daily_members()).collect().sort("user_id")
    expected = pl.DataFrame(
        [
            ("g1", "u1", 2, 600_000, 0, 1, day2(9), day2(8), day2(11), day1(10)),
            ("g1", "u2", 1, 3_600_000, 1, 0, day2(13), day1(23), day2(13), None),
        ],
        schema={
            "guild_id": pl.String,
            "user_id": pl.String,
            "total_messages": pl.Int64,
            "total_voice_ms": pl.Int64,
            "total_reactions_given": pl.Int64,
            "total_reactions_received": pl.Int64,
            "last_message_at": MS,
            "last_voice_at": MS,
            "last_seen": MS,
            "joined_at": MS,
        },
        orient="row",
    )
    assert_frame_equal(got, expected)


def test_lifetime_totals_ignore_extra_columns_such_as_period_type():
    with_type = daily_members().with_columns(period_type=pl.lit("daily"))
    assert_frame_equal(
        lifetime_member_stats(with_type).collect().sort("user_id"),
        lifetime_member_stats(daily_members()).collect().sort("user_id"),
    )
