"""One coverage query up front answers every later question inside its spans exactly as a query
of its own would, late-voice reach included; outside them it says it cannot."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from stats_api.engine.activity import likely_spans
from stats_api.engine.computed import CoverageRead, disjoint, read_computed
from stats_platform.domain.grains import GRAIN_NAMES
from stats_platform.domain.voice import DEFAULT_CAP
from tests.stats_platform.platform_testkit import (
    Event,
    compute_everything,
    message,
    store_events,
)

GUILD = "700"
FIVE = timedelta(minutes=5)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _base() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - 4 * DAY


def _rows(found):
    return {
        (c.window, c.covered_until, c.last_received_at, c.last_voice_received_at) for c in found
    }


def _store_and_compute(db) -> None:
    base = _base()
    on_time = [message(base + HOUR * h + FIVE * (h % 12), "1", guild_id=GUILD) for h in range(72)]
    voice = [Event("VOICE_STATE_UPDATE", base + HOUR * h, "2", channel_id="90", guild_id=GUILD)
             for h in range(0, 72, 7)]  # fmt: skip
    store_events(db, on_time + voice)
    covered_until = base + 3 * DAY + HOUR
    compute_everything(db, start=base, end=base + 3 * DAY, covered_until=covered_until)
    # Late arrivals after the runs: voice at 05:00 and 13:10 of the second day, a message at
    # 20:00 of the first: their windows, at every grain, are late (and late-voice) from now on.
    late = covered_until + timedelta(minutes=3)
    store_events(db, [
        Event("VOICE_STATE_UPDATE", base + DAY + 5 * HOUR, "3", channel_id="91",
              guild_id=GUILD, received_at=late),
        Event("VOICE_STATE_UPDATE", base + DAY + 13 * HOUR + 2 * FIVE, "3", channel_id=None,
              guild_id=GUILD, received_at=late),
        message(base + 20 * HOUR, "4", guild_id=GUILD, received_at=late),
    ])  # fmt: skip


def _span_inside(rng: random.Random, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    steps = (end - start) // FIVE
    a, b = sorted(rng.sample(range(steps + 1), 2))
    return start + FIVE * a, start + FIVE * b


def test_questions_inside_the_spans_read_get_what_their_own_query_returns(db):
    _store_and_compute(db)
    base, rng = _base(), random.Random(7)
    reach_used = 0
    for _ in range(60):
        wanted = [
            (rng.choice(GRAIN_NAMES), _span_inside(rng, base - DAY, base + 4 * DAY))
            for _ in range(rng.randint(1, 4))
        ]
        read = CoverageRead.read(db, GUILD, wanted, reach=DEFAULT_CAP)
        for grain, asked in read.asked.items():
            spans = disjoint(
                _span_inside(rng, *rng.choice(asked)) for _ in range(rng.randint(1, 3))
            )
            own = read_computed(db, GUILD, [(grain, s) for s in spans], reach=DEFAULT_CAP)
            assert _rows(read.answers(grain, spans)) == _rows(own)
            reach_used += any(
                all(c.window.end <= s or c.window.start >= e for s, e in spans) for c in own
            )
    # The late-voice part was exercised: some answers held a window ending before their spans.
    assert reach_used > 0


def test_a_question_outside_the_spans_read_is_refused():
    # No query is needed to know: the refusal looks at the spans alone.
    day = datetime(2026, 12, 1, tzinfo=UTC)
    read = CoverageRead({"hourly": [(day, day + 2 * HOUR)]}, [], DEFAULT_CAP)
    assert read.answers("hourly", [(day + HOUR, day + 3 * HOUR)]) is None
    assert read.answers("5min", [(day, day + HOUR)]) is None
    assert read.answers("hourly", [(day, day + HOUR), (day + HOUR, day + 2 * HOUR)]) == []


def test_likely_spans_of_a_week_by_day_in_utc_and_of_a_rolling_month():
    now = datetime(2026, 12, 3, 11, 45, tzinfo=UTC)
    first = datetime(2026, 11, 27, tzinfo=UTC)
    days = [(first + DAY * i, first + DAY * (i + 1)) for i in range(7)]
    days[-1] = (days[-1][0], now)  # the last bucket clamped to now (3 Dec 00:00 .. 11:45)
    assert likely_spans(days) == [
        ("daily", (first, now)),
        # Day edges are whole days; the end's day and the one before it.
        ("hourly", (datetime(2026, 12, 2, tzinfo=UTC), now)),
        # Hour edges: 11:00 (holding the end) and the hour before it.
        ("5min", (datetime(2026, 12, 3, 10, tzinfo=UTC), now)),
    ]
    month = [(now - 30 * DAY, now)]
    start = now - 30 * DAY  # 3 Nov 11:45
    assert likely_spans(month) == [
        ("daily", (start, now)),
        ("hourly", (start, datetime(2026, 11, 5, tzinfo=UTC))),
        ("hourly", (datetime(2026, 12, 2, tzinfo=UTC), now)),
        ("5min", (start, datetime(2026, 11, 3, 13, tzinfo=UTC))),
        ("5min", (datetime(2026, 12, 3, 10, tzinfo=UTC), now)),
    ]
