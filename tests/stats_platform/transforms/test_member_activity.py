"""Per-member and per-guild counts of a hand-made event set, checked against numbers worked out by hand.

Guild g1 has two 5-minute windows starting 00:00 and 00:05 on 2024-03-01 (UTC); g2 has one
message; g3 only has voice. Voice rows are given as voice_by_window would give them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from stats_platform.transforms.activity import (
    combine_members,
    member_activity,
    metrics_snapshots,
)

MS = pl.Datetime("ms", "UTC")
FIVE_MIN = timedelta(minutes=5)
HOUR = timedelta(hours=1)
EVENT_SCHEMA = {
    "seq": pl.Int64,
    "ts": MS,
    "received_at": MS,
    "guild_id": pl.String,
    "type": pl.String,
    "user_id": pl.String,
    "channel_id": pl.String,
    "message_author_id": pl.String,
}
MEMBER_SCHEMA = {
    "guild_id": pl.String,
    "period_start": MS,
    "user_id": pl.String,
    "events": pl.Int64,
    "messages": pl.Int64,
    "reactions_given": pl.Int64,
    "reactions_received": pl.Int64,
    "voice_ms": pl.Int64,
    "joins": pl.Int64,
    "leaves": pl.Int64,
    "first_join_at": MS,
    "last_message_at": MS,
    "last_voice_at": MS,
    "last_seen": MS,
}
SNAPSHOT_SCHEMA = {
    "guild_id": pl.String,
    "period_start": MS,
    "period_end": MS,
    "total_events": pl.Int64,
    "total_messages": pl.Int64,
    "total_reactions": pl.Int64,
    "voice_ms": pl.Int64,
    "unique_active_users": pl.Int64,
    "joins": pl.Int64,
    "leaves": pl.Int64,
    "data": pl.String,
}


def t(minute: int, second: float = 0) -> datetime:
    return datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=minute, seconds=second)


# (ts, guild, type, user, message author)
EVENTS = [
    (t(0, 10), "g1", "MESSAGE_CREATE", "u1", None),
    (t(1), "g1", "MESSAGE_CREATE", "u1", None),
    (t(1, 30), "g1", "MESSAGE_REACTION_ADD", "u2", "u1"),  # u1 receives it
    (t(2), "g1", "MESSAGE_REACTION_ADD", "u1", "u1"),  # self-reaction: given, not received
    (t(2, 30), "g1", "MESSAGE_REACTION_ADD", "u3", None),  # author unknown: given only
    (t(3), "g1", "MESSAGE_REACTION_ADD", None, "u4"),  # reactor unknown: u4 receives it
    (t(3, 30), "g1", "MESSAGE_CREATE", None, None),  # no user: totals only
    (t(4), "g1", "CUSTOM_THING", "u2", None),  # unknown type: an event, not a message
    (t(4, 59.999), "g1", "GUILD_MEMBER_ADD", "u5", None),
    (t(5), "g1", "GUILD_MEMBER_ADD", "u5", None),
    (t(6), "g1", "GUILD_MEMBER_REMOVE", "u5", None),
    (t(7), "g1", "MESSAGE_DELETE", "u1", None),  # stored, not subtracted
    (t(8), "g1", "MESSAGE_REACTION_REMOVE", "u2", "u1"),  # not a reaction received
    (t(9), "g1", "VOICE_STATE_UPDATE", "u1", None),
    (t(1), "g2", "MESSAGE_CREATE", "u1", None),
]

# (guild, user, window start, voice ms, last voice at), per 5 minutes and per hour
VOICE_5MIN = [
    ("g1", "u1", t(5), 60_000, t(10)),
    ("g1", "u6", t(5), 30_000, t(9, 30)),
    ("g3", "u7", t(0), 1_000, t(0, 1)),
]
VOICE_HOURLY = [
    ("g1", "u1", t(0), 60_000, t(10)),
    ("g1", "u6", t(0), 30_000, t(9, 30)),
    ("g3", "u7", t(0), 1_000, t(0, 1)),
]


def events() -> pl.LazyFrame:
    return pl.LazyFrame(
        [
            (seq, ts, ts, guild, kind, user, None, author)
            for seq, (ts, guild, kind, user, author) in enumerate(EVENTS)
        ],
        schema=EVENT_SCHEMA,
        orient="row",
    )


def voice(rows: list[tuple]) -> pl.LazyFrame:
    return pl.LazyFrame(
        rows,
        schema={
            "guild_id": pl.String,
            "user_id": pl.String,
            "window_start": MS,
            "voice_ms": pl.Int64,
            "last_voice_at": MS,
        },
        orient="row",
    )


def members(every: timedelta, voice_rows: list[tuple]) -> pl.LazyFrame:
    return member_activity(events(), voice(voice_rows), every=every)


def by_key(frame: pl.LazyFrame | pl.DataFrame, *keys: str) -> pl.DataFrame:
    collected = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    return collected.sort(*keys)


def test_member_activity_per_five_minutes():
    got = by_key(members(FIVE_MIN, VOICE_5MIN), "guild_id", "period_start", "user_id")
    # guild, window, user, events, messages, given, received, voice_ms, joins, leaves,
    # first_join_at, last_message_at, last_voice_at, last_seen
    expected = [
        ("g1", t(0), "u1", 3, 2, 1, 1, 0, 0, 0, None, t(1), None, t(2)),
        ("g1", t(0), "u2", 2, 0, 1, 0, 0, 0, 0, None, None, None, t(4)),
        ("g1", t(0), "u3", 1, 0, 1, 0, 0, 0, 0, None, None, None, t(2, 30)),
        ("g1", t(0), "u4", 0, 0, 0, 1, 0, 0, 0, None, None, None, None),
        ("g1", t(0), "u5", 1, 0, 0, 0, 0, 1, 0, t(4, 59.999), None, None, t(4, 59.999)),
        ("g1", t(5), "u1", 2, 0, 0, 0, 60_000, 0, 0, None, None, t(10), t(10)),
        ("g1", t(5), "u2", 1, 0, 0, 0, 0, 0, 0, None, None, None, t(8)),
        ("g1", t(5), "u5", 2, 0, 0, 0, 0, 1, 1, t(5), None, None, t(6)),
        ("g1", t(5), "u6", 0, 0, 0, 0, 30_000, 0, 0, None, None, t(9, 30), t(9, 30)),
        ("g2", t(0), "u1", 1, 1, 0, 0, 0, 0, 0, None, t(1), None, t(1)),
        ("g3", t(0), "u7", 0, 0, 0, 0, 1_000, 0, 0, None, None, t(0, 1), t(0, 1)),
    ]
    assert_frame_equal(got, pl.DataFrame(expected, schema=MEMBER_SCHEMA, orient="row"))


def test_metrics_snapshots_per_five_minutes():
    got = by_key(
        metrics_snapshots(events(), members(FIVE_MIN, VOICE_5MIN), every=FIVE_MIN),
        "guild_id",
        "period_start",
    )
    # g1 00:00: 9 events (one without a user), messages 1, 2 and 7, reactions 3-6, active users
    # u1, u2, u3, u5 (u4 only received a reaction). g1 00:05: u1, u2, u5 and u6 (voice only).
    first = {
        "CUSTOM_THING": 1,
        "GUILD_MEMBER_ADD": 1,
        "MESSAGE_CREATE": 3,
        "MESSAGE_REACTION_ADD": 4,
    }
    second = {
        "GUILD_MEMBER_ADD": 1,
        "GUILD_MEMBER_REMOVE": 1,
        "MESSAGE_DELETE": 1,
        "MESSAGE_REACTION_REMOVE": 1,
        "VOICE_STATE_UPDATE": 1,
    }
    expected = [
        ("g1", t(0), t(5), 9, 3, 4, 0, 4, 1, 0, by_type(first)),
        ("g1", t(5), t(10), 5, 0, 0, 90_000, 4, 1, 1, by_type(second)),
        ("g2", t(0), t(5), 1, 1, 0, 0, 1, 0, 0, by_type({"MESSAGE_CREATE": 1})),
        ("g3", t(0), t(5), 0, 0, 0, 1_000, 1, 0, 0, by_type({})),
    ]
    assert_frame_equal(got, pl.DataFrame(expected, schema=SNAPSHOT_SCHEMA, orient="row"))


def by_type(counts: dict[str, int]) -> str:
    return json.dumps({"by_type": dict(sorted(counts.items()))}, separators=(",", ":"))


def test_by_type_is_compact_json_with_sorted_types():
    got = by_key(
        metrics_snapshots(events(), members(FIVE_MIN, VOICE_5MIN), every=FIVE_MIN),
        "guild_id",
        "period_start",
    )
    assert got["data"][0] == (
        '{"by_type":{"CUSTOM_THING":1,"GUILD_MEMBER_ADD":1,"MESSAGE_CREATE":3,'
        '"MESSAGE_REACTION_ADD":4}}'
    )
    assert got["data"][3] == '{"by_type":{}}'


def test_hourly_active_users_are_distinct_over_the_hour_not_a_sum_of_five_minute_counts():
    got = by_key(metrics_snapshots(events(), members(HOUR, VOICE_HOURLY), every=HOUR), "guild_id")
    # g1: u1, u2, u3, u5 and u6 are active in the hour (4 + 4 in the two 5-minute windows).
    assert got.select("guild_id", "total_events", "voice_ms", "unique_active_users").rows() == [
        ("g1", 14, 90_000, 5),
        ("g2", 1, 0, 1),
        ("g3", 0, 1_000, 1),
    ]


def test_member_activity_per_hour_merges_the_windows_of_each_member():
    got = by_key(members(HOUR, VOICE_HOURLY), "guild_id", "user_id").filter(guild_id="g1")
    assert got.select(
        "user_id", "events", "reactions_received", "joins", "leaves", "first_join_at", "last_seen"
    ).rows() == [
        ("u1", 5, 1, 0, 0, None, t(10)),
        ("u2", 3, 0, 0, 0, None, t(8)),
        ("u3", 1, 0, 0, 0, None, t(2, 30)),
        ("u4", 0, 1, 0, 0, None, None),
        ("u5", 3, 0, 2, 1, t(4, 59.999), t(6)),
        ("u6", 0, 0, 0, 0, None, t(9, 30)),
    ]


def test_combining_windows_of_mixed_grains_counts_each_member_once():
    five_minutes = members(FIVE_MIN, VOICE_5MIN).collect()
    hourly = members(HOUR, VOICE_HOURLY).collect()
    # 00:00-00:05 from the 5-minute rows and the same hour from hourly rows: same totals.
    from_five = by_key(combine_members(five_minutes.lazy()), "guild_id", "user_id")
    from_hour = by_key(combine_members(hourly.lazy()), "guild_id", "user_id")
    assert_frame_equal(from_five, from_hour)
    g1 = from_five.filter(guild_id="g1")
    assert g1.height == 6  # u1..u6: distinct members, not 9 member-window rows
    assert g1.row(0, named=True) == {
        "guild_id": "g1",
        "user_id": "u1",
        "events": 5,
        "messages": 2,
        "reactions_given": 1,
        "reactions_received": 1,
        "voice_ms": 60_000,
        "joins": 0,
        "leaves": 0,
        "first_join_at": None,
        "last_message_at": t(1),
        "last_voice_at": t(10),
        "last_seen": t(10),
    }
    # 00:00-01:00 from 5-minute rows, and 01:00-02:00 from hourly rows (the same hour again,
    # one hour later): each member's counts double and their latest instants move to hour two.
    later = hourly.with_columns(pl.col(pl.Datetime) + HOUR)
    mixed = by_key(combine_members(pl.concat([five_minutes, later]).lazy()), "guild_id", "user_id")
    assert mixed.filter(guild_id="g1").select(
        "user_id", "events", "messages", "voice_ms", "joins", "first_join_at", "last_seen"
    ).rows() == [
        ("u1", 10, 4, 120_000, 0, None, t(70)),
        ("u2", 6, 0, 0, 0, None, t(68)),
        ("u3", 2, 0, 0, 0, None, t(62, 30)),
        ("u4", 0, 0, 0, 0, None, None),
        ("u5", 6, 0, 0, 4, t(4, 59.999), t(66)),
        ("u6", 0, 0, 60_000, 0, None, t(69, 30)),
    ]


def test_no_events_and_no_voice_gives_no_rows():
    empty = pl.LazyFrame(schema=EVENT_SCHEMA)
    members_out = member_activity(empty, voice([]), every=FIVE_MIN)
    snapshots = metrics_snapshots(empty, members_out, every=FIVE_MIN).collect()
    assert members_out.collect().schema == pl.Schema(MEMBER_SCHEMA)
    assert snapshots.schema == pl.Schema(SNAPSHOT_SCHEMA)
    assert snapshots.height == 0
