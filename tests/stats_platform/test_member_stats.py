"""Lifetime member totals: summed from daily rows, never twice, kept after the raw events go.

Day 0 is `base` (UTC midnight three days ago), day 1 is t(24 + h).
"""

from __future__ import annotations

from datetime import timedelta

from platform_testkit import (
    DAILY_ASSETS,
    MIN_MS,
    Event,
    materialize,
    message,
    reaction,
    rows,
    voice,
)

DAY = timedelta(days=1)

MEMBER_STATS = (
    "SELECT user_id, total_messages, total_voice_ms, total_reactions_given,"
    " total_reactions_received, last_message_at, last_voice_at, last_seen, joined_at"
    " FROM member_stats ORDER BY length(user_id), user_id"
)


def store_two_days(store, t) -> None:
    store(
        Event("GUILD_MEMBER_ADD", t(9), "2"),
        message(t(10), "1"),
        reaction(t(10, 1), "2", author="1"),
        reaction(t(10, 2), None, author="1"),
        voice(t(11), "2", "900"),
        voice(t(11, 30), "2", None),
        message(t(34), "1"),
        message(t(34, 5), "2"),
        reaction(t(34, 6), "1", author="2"),
        Event("GUILD_MEMBER_ADD", t(35), "2"),  # a rejoin: joinedAt stays the first
    )


def test_lifetime_totals_sum_every_day(db, store, t, base, resources):
    store_two_days(store, t)
    materialize(DAILY_ASSETS, resources, grain="daily", start=base)
    assert rows(db, MEMBER_STATS) == [
        ("1", 1, 0, 0, 2, t(10), None, t(10), None),
        ("2", 0, 30 * MIN_MS, 1, 0, None, t(11, 30), t(11, 30), t(9)),
    ]

    materialize(DAILY_ASSETS, resources, grain="daily", start=base + DAY)
    assert rows(db, MEMBER_STATS) == [
        ("1", 2, 0, 1, 2, t(34), None, t(34, 6), None),
        ("2", 1, 30 * MIN_MS, 1, 1, t(34, 5), t(11, 30), t(35), t(9)),
    ]


def test_recomputing_a_day_never_counts_it_twice(db, store, t, base, resources):
    store_two_days(store, t)
    materialize(DAILY_ASSETS, resources, grain="daily", start=base, last=base + DAY)
    expected = rows(db, MEMBER_STATS)

    materialize(DAILY_ASSETS, resources, grain="daily", start=base)
    materialize(DAILY_ASSETS, resources, grain="daily", start=base + DAY)
    materialize(DAILY_ASSETS, resources, grain="daily", start=base, last=base + DAY)

    assert rows(db, MEMBER_STATS) == expected
    assert [r[:5] for r in expected] == [("1", 2, 0, 1, 2), ("2", 1, 30 * MIN_MS, 1, 1)]


def test_totals_survive_the_raw_events_of_earlier_days(db, store, t, base, resources):
    store_two_days(store, t)
    materialize(DAILY_ASSETS, resources, grain="daily", start=base, last=base + DAY)
    expected = rows(db, MEMBER_STATS)

    # Day 0's raw events are gone (retention); day 1 is recomputed after a new message.
    db.execute("DELETE FROM events WHERE ts < %s", (base + DAY,))
    store(message(t(36), "1"))
    materialize(DAILY_ASSETS, resources, grain="daily", start=base + DAY)

    assert rows(db, MEMBER_STATS) == [
        ("1", 3, 0, 1, 2, t(36), None, t(36), None),
        expected[1],
    ]
