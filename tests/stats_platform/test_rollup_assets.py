"""Counts through the rollup assets: per-type totals, reactions, joins/leaves, distinct users.

Times are t(hours, minutes) after `base` (UTC midnight three days ago).
"""

from __future__ import annotations

from platform_testkit import (
    DAILY_ASSETS,
    MIN_MS,
    ROLLUPS,
    Event,
    materialize,
    message,
    reaction,
    rows,
    snapshot,
    stage_member_rows,
    voice,
)


def test_hourly_active_users_are_distinct_over_the_hour_not_a_sum_of_windows(
    db, store, t, base, resources
):
    store(
        message(t(10, 1), "1"),
        message(t(10, 2), "2"),
        message(t(10, 6), "1"),
        message(t(10, 7), "3"),
        message(t(10, 11), "1"),
        # User 4 is in voice from 09:50 to 11:10: active in hour 10 with no event in it.
        voice(t(9, 50), "4", "900"),
        voice(t(11, 10), "4", None),
    )
    materialize([ROLLUPS["5min"]], resources, grain="5min", start=t(10), last=t(10, 55))
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(9), last=t(11))
    materialize([ROLLUPS["daily"]], resources, grain="daily", start=base)

    five_minute = dict(
        rows(
            db,
            "SELECT period_start, unique_active_users FROM metrics_snapshots"
            " WHERE period_type = '5min' ORDER BY period_start",
        )
    )
    # {1, 2, 4}, {1, 3, 4}, {1, 4}, then user 4 alone in the nine windows 10:15 to 10:55.
    assert five_minute == {
        t(10): 3,
        t(10, 5): 3,
        t(10, 10): 2,
        **{t(10, 15 + 5 * i): 1 for i in range(9)},
    }
    assert sum(five_minute.values()) == 17
    assert snapshot(db, "hourly", t(10))["unique_active_users"] == 4
    assert snapshot(db, "hourly", t(9))["unique_active_users"] == 1
    assert snapshot(db, "hourly", t(11))["unique_active_users"] == 1
    assert snapshot(db, "daily", base)["unique_active_users"] == 4
    assert snapshot(db, "hourly", t(10))["voice_ms"] == 60 * MIN_MS


def test_totals_by_type_reactions_joins_leaves_and_events_without_user(
    db, store, t, base, resources
):
    store(
        message(t(10), "1"),
        reaction(t(10, 1), "2", author="1"),  # received by 1
        reaction(t(10, 2), "1", author="1"),  # own message: given, not received
        reaction(t(10, 3), "3"),  # no author known: given only
        reaction(t(10, 4), None, author="1"),  # no reacting user: received by 1, nobody active
        Event("MESSAGE_REACTION_REMOVE", t(10, 5), "2", channel_id="500"),  # not subtracted
        Event("MESSAGE_DELETE", t(10, 6), "1", channel_id="500"),  # not subtracted
        Event("GUILD_MEMBER_ADD", t(11), "5"),
        Event("GUILD_MEMBER_REMOVE", t(11, 30), "6"),
        Event("GUILD_MEMBER_ADD", t(12), "5"),
        Event("THREAD_CREATE", t(13), "7"),  # unknown type: stored, makes 7 active
        Event("GUILD_UPDATE", t(13, 30)),  # no userId: counted in totals only
    )
    materialize(DAILY_ASSETS, resources, grain="daily", start=base)
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(10), last=t(13))

    assert snapshot(db, "daily", base) == {
        "total_events": 12,
        "total_messages": 1,
        "total_reactions": 4,
        "voice_ms": 0,
        # 1, 2, 3, 5, 6 and 7; the reaction and the GUILD_UPDATE without userId add nobody.
        "unique_active_users": 6,
        "joins": 2,
        "leaves": 1,
        "data": {
            "by_type": {
                "GUILD_MEMBER_ADD": 2,
                "GUILD_MEMBER_REMOVE": 1,
                "GUILD_UPDATE": 1,
                "MESSAGE_CREATE": 1,
                "MESSAGE_DELETE": 1,
                "MESSAGE_REACTION_ADD": 4,
                "MESSAGE_REACTION_REMOVE": 1,
                "THREAD_CREATE": 1,
            }
        },
    }
    hourly = rows(
        db,
        "SELECT period_start, total_events, total_messages, total_reactions,"
        " unique_active_users, joins, leaves FROM metrics_snapshots"
        " WHERE period_type = 'hourly' ORDER BY period_start",
    )
    assert hourly == [
        (t(10), 7, 1, 4, 3, 0, 0),
        (t(11), 2, 0, 0, 2, 1, 1),
        (t(12), 1, 0, 0, 1, 1, 0),
        (t(13), 2, 0, 0, 1, 0, 0),
    ]
    stage_member_rows(db)
    members = rows(
        db,
        "SELECT user_id, events, messages, reactions_given, reactions_received, joins, leaves,"
        " first_join_at, last_message_at, last_seen FROM member_rows"
        " WHERE period_type = 'daily' ORDER BY length(user_id), user_id",
    )
    assert members == [
        ("1", 3, 1, 1, 2, 0, 0, None, t(10), t(10, 6)),
        ("2", 2, 0, 1, 0, 0, 0, None, None, t(10, 5)),
        ("3", 1, 0, 1, 0, 0, 0, None, None, t(10, 3)),
        ("5", 2, 0, 0, 0, 2, 0, t(11), None, t(12)),
        ("6", 1, 0, 0, 0, 0, 1, None, None, t(11, 30)),
        ("7", 1, 0, 0, 0, 0, 0, None, None, t(13)),
    ]


def test_guilds_are_counted_apart(db, store, t, base, resources):
    store(
        message(t(10), "1"),
        message(t(10, 1), "1", guild_id="200"),
        message(t(10, 2), "2", guild_id="200"),
        voice(t(10, 3), "1", "900", guild_id="200"),
        voice(t(10, 13), "1", None, guild_id="200"),
    )
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(10))

    assert rows(
        db,
        "SELECT guild_id, total_events, total_messages, voice_ms, unique_active_users"
        " FROM metrics_snapshots ORDER BY guild_id",
    ) == [("100", 1, 1, 0, 1), ("200", 4, 2, 10 * MIN_MS, 2)]
    stage_member_rows(db)
    assert rows(
        db, "SELECT guild_id, user_id, messages, voice_ms FROM member_rows ORDER BY 1, 2"
    ) == [("100", "1", 1, 0), ("200", "1", 1, 10 * MIN_MS), ("200", "2", 1, 0)]
