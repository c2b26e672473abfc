"""The coverage plan's work follows the windows that exist, not the length of the period asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stats_api.engine.plan import RollupWindow, plan

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def test_a_period_of_two_thousand_years_plans_from_the_few_windows_computed():
    # Before, the planner stepped through every possible day, hour and 5-minute window of the
    # bucket (about 213 million 5-minute ones for this one): a `from` far in the past held a connection for
    # seconds per request. Now it looks the computed windows up.
    today = datetime(2026, 12, 2, tzinfo=UTC)
    days = {RollupWindow("daily", today - DAY * i) for i in range(1, 5)}
    hours = {RollupWindow("hourly", today + HOUR * i) for i in range(3)}
    start, end = datetime(1, 1, 1, tzinfo=UTC), today + 3 * HOUR
    (bucket,) = plan([(start, end)], usable=days | hours, kept=days | hours, raw_horizon=start)

    # Days 28 Nov - 1 Dec: 2-day spans start on even epoch days, so 29-30 Nov is one span and 28
    # Nov and 1 Dec are days; then today's three hours; everything before 28 Nov is raw (no rows).
    assert sorted((w.grain, w.start) for w in bucket.windows) == [
        ("2d", today - 3 * DAY),
        ("daily", today - 4 * DAY),
        ("daily", today - DAY),
        ("hourly", today),
        ("hourly", today + HOUR),
        ("hourly", today + 2 * HOUR),
    ]
    assert bucket.raw == [(start, today - 4 * DAY)]
    assert bucket.resolution == "exact"
