"""Lifetime member totals: summed from daily rows, never twice, kept after the raw events go.

Day 0 is `base` (UTC midnight three days ago), day 1 is t(24 + h).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from platform_testkit import (
    DAILY_ASSETS,
    MIN_MS,
    Event,
    compute_everything,
    materialize,
    message,
    reaction,
    rows,
    stage_member_rows,
    store_events,
    voice,
)

from stats_platform.domain.blocks import WIDEST_SPAN
from stats_platform.domain.instants import floor_to

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


def test_a_session_capped_after_the_backfilled_range_ends_at_its_cap(db, store, t, base, resources):
    """The finding: lastVoiceAt was the range's end (midnight), not the session's capped end.

    Days 0 and 1 are backfilled in one run, the first (no checkpoint). User 5 joins voice on
    day 1 at 17:57 and never leaves: the cap ends the session on day 2 at 17:57, before the
    run. Day 1's row rightly stops at midnight (the latest voice inside the day); the lifetime
    row is the member's latest voice time, the end of the session, as the raw events say.
    """
    store(message(t(10), "5"), voice(t(24 + 17, 57), "5", "900"))
    materialize(DAILY_ASSETS, resources, grain="daily", start=base, last=base + DAY)

    capped_end = t(48 + 17, 57)
    stage_member_rows(db)
    assert rows(
        db,
        "SELECT period_start, voice_ms, last_voice_at, last_seen FROM member_rows"
        " WHERE period_type = 'daily' AND voice_ms > 0",
    ) == [(base + DAY, (6 * 60 + 3) * MIN_MS, base + 2 * DAY, base + 2 * DAY)]
    assert rows(
        db, "SELECT user_id, total_voice_ms, last_voice_at, last_seen FROM member_stats"
    ) == [("5", (6 * 60 + 3) * MIN_MS, capped_end, capped_end)]


def test_a_session_still_open_when_computed_counts_up_to_then(db, store, t, base, resources):
    """A session the cap has not ended yet is the member's voice time up to the computation."""
    store(voice(t(48 + 23, 50), "6", "900"))  # day 2 at 23:50: open for 24 h from then
    materialize(DAILY_ASSETS, resources, grain="daily", start=base + 2 * DAY)

    ((last_voice_at, computed_at),) = rows(
        db, "SELECT last_voice_at, updated_at FROM member_stats WHERE user_id = '6'"
    )
    assert base + 3 * DAY < last_voice_at <= computed_at


def test_lifetime_merges_every_32_day_span_of_the_guild(db):
    """Three days in three 32-day spans (the last day of one, the first of the next, and one of
    the span after), each computed on its own by the jobs' library calls: a member's lifetime
    adds all three, and a member active only in the first keeps its totals when a later day is
    computed again (only the active members are rewritten)."""
    span = WIDEST_SPAN.length
    boundary = floor_to(datetime.now(UTC) - 2 * DAY, span) - span
    days = [boundary - DAY, boundary, boundary + span]
    store_events(db, [message(day + timedelta(hours=10), "1") for day in days])
    store_events(db, [message(days[0] + timedelta(hours=11), "2")])
    now = datetime.now(UTC)
    for day in days:
        compute_everything(db, start=day, end=day + DAY, covered_until=now)
    expected = [
        ("1", 3, 0, 0, 0, days[2] + timedelta(hours=10), None, days[2] + timedelta(hours=10), None),
        ("2", 1, 0, 0, 0, days[0] + timedelta(hours=11), None, days[0] + timedelta(hours=11), None),
    ]
    assert rows(db, MEMBER_STATS) == expected
    assert rows(db, "SELECT count(*) FROM member_blocks WHERE period_type = '32d'") == [(3,)]

    compute_everything(db, start=days[2], end=days[2] + DAY, covered_until=now)
    assert rows(db, MEMBER_STATS) == expected
