"""The late-data sensor: events arriving after their window was computed are folded in once.

A window computed at covered_until counts the events with received_at < covered_until; a late
event here arrives 1 ms after the newest covered_until. Times are t(hours, minutes) after
`base` (UTC midnight three days ago).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from platform_testkit import (
    DAILY_ASSETS,
    MIN_MS,
    RANGE_END,
    RANGE_START,
    ROLLUPS,
    key,
    materialize,
    member_voice,
    message,
    rows,
    run_resources,
    snapshot,
    snapshot_voice,
    voice,
)

from stats_platform.defs.late_data.sensors import late_data_sensor
from stats_platform.partitions import raw_retention_horizon
from stats_platform.pipeline import rollups

DAY = timedelta(days=1)


@pytest.fixture
def code_location(database_url, monkeypatch) -> dg.Definitions:
    monkeypatch.setenv("STATS_DATABASE_URL", database_url)
    from stats_platform.definitions import defs

    return defs()


def newest_coverage(db) -> datetime:
    return rows(db, "SELECT max(covered_until) FROM computed_windows")[0][0]


def evaluate(instance, resources, cursor: str | None) -> tuple[dg.SensorResult, datetime, datetime]:
    """The sensor's result, and instants just before and after the evaluation."""
    before = datetime.now(UTC)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    result = late_data_sensor(context)
    return result, before, datetime.now(UTC)


def request(job: str, grain: str, first: datetime, last: datetime, cursor: str) -> tuple:
    first_key, last_key = key(grain, first), key(grain, last)
    return (
        f"late:{grain}:{first_key}:{last_key}:{cursor}",
        job,
        {RANGE_START: first_key, RANGE_END: last_key, "stats/trigger": "late_data"},
    )


def as_tuples(result: dg.SensorResult) -> list[tuple]:
    return [(r.run_key, r.job_name, r.tags) for r in result.run_requests]


def execute(code_location, instance, resources, result: dg.SensorResult) -> None:
    for run_request in result.run_requests:
        job = code_location.resolve_job_def(run_request.job_name)
        outcome = job.execute_in_process(
            tags=run_request.tags, resources=resources, instance=instance
        )
        assert outcome.success


def test_late_message_is_folded_into_every_grain_once(
    db, store, t, base, resources, instance, code_location
):
    store(message(t(10, 1), "1"), message(t(10, 2), "2"))
    materialize([ROLLUPS["5min"]], resources, grain="5min", start=t(10))
    materialize([ROLLUPS["hourly"]], resources, grain="hourly", start=t(10))
    materialize(DAILY_ASSETS, resources, grain="daily", start=base)
    assert snapshot(db, "5min", t(10))["total_messages"] == 2

    late_at = newest_coverage(db) + timedelta(milliseconds=1)
    store(message(t(10, 3), "3", received_at=late_at))
    result, before, after = evaluate(instance, resources, cursor=None)

    assert before <= datetime.fromisoformat(result.cursor) <= after
    assert as_tuples(result) == [
        request("rollups_5min_job", "5min", t(10), t(10), result.cursor),
        request("rollups_hourly_job", "hourly", t(10), t(10), result.cursor),
        request("rollups_daily_job", "daily", base, base, result.cursor),
    ]
    # Ticks after this one have seen the arrival: nothing is requested twice.
    assert evaluate(instance, resources, cursor=result.cursor)[0].run_requests == []

    execute(code_location, instance, resources, result)
    for grain, start in (("5min", t(10)), ("hourly", t(10)), ("daily", base)):
        assert snapshot(db, grain, start)["total_messages"] == 3
        assert snapshot(db, grain, start)["unique_active_users"] == 3
    assert rows(db, "SELECT user_id, total_messages FROM member_stats ORDER BY user_id") == [
        ("1", 1),
        ("2", 1),
        ("3", 1),
    ]
    again, _, _ = evaluate(instance, resources, cursor=result.cursor)
    assert again.run_requests == []
    assert datetime.fromisoformat(again.cursor) > datetime.fromisoformat(result.cursor)


def test_late_voice_event_recomputes_the_windows_its_session_reaches(
    db, store, t, base, database_url, instance, code_location
):
    one_hour = run_resources(database_url, voice_session_cap_hours=1)
    store(message(t(10, 1), "1"))
    materialize([ROLLUPS["5min"]], one_hour, grain="5min", start=t(10), last=t(11, 25))
    materialize([ROLLUPS["hourly"]], one_hour, grain="hourly", start=t(10), last=t(11))
    materialize(DAILY_ASSETS, one_hour, grain="daily", start=base)

    # Joins at 10:02 and never leaves: with a 1-hour cap, in voice until 11:02.
    late_at = newest_coverage(db) + timedelta(milliseconds=1)
    store(voice(t(10, 2), "2", "900", received_at=late_at))
    result, _, _ = evaluate(instance, one_hour, cursor=None)

    assert as_tuples(result) == [
        # [10:00, 11:05): the window of the event up to the one its cap ends in.
        request("rollups_5min_job", "5min", t(10), t(11), result.cursor),
        request("rollups_hourly_job", "hourly", t(10), t(11), result.cursor),
        # From the day before (its sessions may end later) to the day after the cap's reach.
        request("rollups_daily_job", "daily", base - DAY, base + DAY, result.cursor),
    ]

    execute(code_location, instance, one_hour, result)
    assert snapshot_voice(db, "5min") == {
        t(10): 3 * MIN_MS,
        **{t(10, 5 * i): 5 * MIN_MS for i in range(1, 12)},
        t(11): 2 * MIN_MS,
    }
    assert snapshot_voice(db, "hourly") == {t(10): 58 * MIN_MS, t(11): 2 * MIN_MS}
    assert member_voice(db, "daily") == {(base, "2"): 60 * MIN_MS}
    assert rows(db, "SELECT user_id, started_at, ended_at, end_reason FROM voice_sessions") == [
        ("2", t(10, 2), t(11, 2), "cap")
    ]
    assert evaluate(instance, one_hour, cursor=result.cursor)[0].run_requests == []


def test_arrivals_in_windows_not_computed_yet_are_left_to_the_schedules(
    db, store, t, base, resources, instance
):
    store(message(t(10, 1), "1", received_at=datetime.now(UTC)))
    result, _, _ = evaluate(instance, resources, cursor=None)
    assert result.run_requests == []


def test_late_voice_on_the_oldest_recomputable_day_requests_only_recomputable_windows(
    db, store, database_url, instance, code_location
):
    # This is the oldest day retention keeps whole; the day before may be gone, so the daily
    # range a late voice event asks for (normally from the day before) starts here.
    day = raw_retention_horizon()
    one_hour = run_resources(database_url, voice_session_cap_hours=1)
    store(message(day + timedelta(hours=10, minutes=1), "1"))
    materialize([ROLLUPS["5min"]], one_hour, grain="5min", start=day + timedelta(hours=10))
    materialize(DAILY_ASSETS, one_hour, grain="daily", start=day)

    late_at = newest_coverage(db) + timedelta(milliseconds=1)
    store(voice(day + timedelta(hours=10, minutes=2), "2", "900", received_at=late_at))
    result, _, _ = evaluate(instance, one_hour, cursor=None)

    assert as_tuples(result) == [
        request(
            "rollups_5min_job",
            "5min",
            day + timedelta(hours=10),
            day + timedelta(hours=11),
            result.cursor,
        ),
        request("rollups_daily_job", "daily", day, day + DAY, result.cursor),
    ]
    execute(code_location, instance, one_hour, result)
    assert member_voice(db, "daily") == {(day, "2"): 60 * MIN_MS}


def test_event_arriving_while_its_window_is_being_computed_is_not_lost(
    db, store, t, resources, instance, code_location
):
    # A run fixes its coverage when it starts, and commits its windows some time later; a tick
    # in between sees the arrival but not yet the window it is late for.
    store(message(t(10, 1), "1"))
    covered_until = datetime.now(UTC)
    store(message(t(10, 2), "2", received_at=covered_until + timedelta(milliseconds=1)))
    first, _, _ = evaluate(instance, resources, cursor=None)
    assert first.run_requests == []

    with db.transaction():
        window = {"grain": "5min", "start": t(10), "end": t(10, 5)}
        computed = rollups.compute_rollups(
            db, **window, covered_until=covered_until, cap=timedelta(hours=24)
        )
        rollups.write_rollups(db, computed, **window, covered_until=covered_until)
    assert snapshot(db, "5min", t(10))["total_messages"] == 1

    second, _, _ = evaluate(instance, resources, cursor=first.cursor)
    assert as_tuples(second) == [request("rollups_5min_job", "5min", t(10), t(10), second.cursor)]
    execute(code_location, instance, resources, second)
    assert snapshot(db, "5min", t(10))["total_messages"] == 2
    assert evaluate(instance, resources, cursor=second.cursor)[0].run_requests == []


def test_a_window_committed_just_before_a_tick_is_requested_once(
    db, store, t, database_url, instance
):
    # The deployed settle lag: a tick looks at arrivals up to 30 s before it, while the window
    # was committed less than 30 s before it.
    settled = run_resources(database_url, settle_seconds=30)
    store(message(t(10, 1), "1"))
    materialize([ROLLUPS["5min"]], settled, grain="5min", start=t(10))
    late_at = newest_coverage(db) + timedelta(milliseconds=1)
    store(message(t(10, 2), "2", received_at=late_at))

    first, _, _ = evaluate(instance, settled, cursor=None)
    assert as_tuples(first) == [request("rollups_5min_job", "5min", t(10), t(10), first.cursor)]
    # Its run has not happened yet: the next tick asks for nothing more.
    assert evaluate(instance, settled, cursor=first.cursor)[0].run_requests == []
