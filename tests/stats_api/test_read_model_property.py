"""Property: for random events, buckets, time zones and granularities, the answer read from the
member blocks (spans, days, hours, 5-minute windows, raw tail) equals the answer recomputed from
the raw events alone, member by member and bucket by bucket."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from stats_api.engine.activity import activity, bucket_totals, combine, plan_buckets
from stats_api.engine.plan import BucketPlan
from stats_api.engine.raw_tail import compute_raw
from stats_platform.domain.blocks import SPAN_NAMES
from stats_platform.domain.grains import DAILY
from stats_platform.domain.voice import DEFAULT_CAP
from tests.conftest import DATA_TABLES
from tests.stats_platform.platform_testkit import Event, compute_everything, store_events

DAYS = 4
USERS = ["1", "2", "3", "4", "5"]
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Adelaide"]
GUILDS = ["700", "701"]

EVENT = st.builds(
    lambda kind, minute, user, other, guild: _event(kind, minute, user, other, guild),
    st.sampled_from(
        ["MESSAGE_CREATE", "MESSAGE_REACTION_ADD", "VOICE_STATE_UPDATE", "GUILD_MEMBER_ADD"]
    ),
    st.integers(0, DAYS * 24 * 60 - 1),
    st.sampled_from(USERS),
    st.sampled_from([None, *USERS]),
    st.sampled_from(GUILDS),
)
BUCKETS = st.tuples(
    st.sampled_from(ZONES),
    st.sampled_from(["hour", "day"]),
    st.integers(-30, DAYS * 24 + 30),  # first bucket's local hour, from the data's first day
    st.integers(1, 6),  # buckets
)


def _base() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - DAILY.length * (DAYS + 1)


def _event(kind: str, minute: int, user: str, other: str | None, guild: str) -> Event:
    ts = _base() + timedelta(minutes=minute, seconds=minute % 7)
    if kind == "VOICE_STATE_UPDATE":
        channel = None if other is None else f"9{int(other) % 2}"
        return Event(kind, ts, user, channel_id=channel, guild_id=guild)
    data = {"emoji": "x", "messageAuthorId": other} if kind == "MESSAGE_REACTION_ADD" else None
    return Event(kind, ts, user, channel_id="500", data=data, guild_id=guild)


def _buckets(zone: str, unit: str, first_hour: int, count: int) -> list[tuple[datetime, datetime]]:
    tz = ZoneInfo(zone)
    local = _base().astimezone(tz).replace(hour=0, minute=0) + timedelta(hours=first_hour)
    if unit == "day":
        local = local.replace(hour=0)
    step = timedelta(days=1) if unit == "day" else timedelta(hours=1)
    edges = [(local + step * i).astimezone(UTC) for i in range(count + 1)]
    # The whole data span too: long enough that it is answered with spans of days.
    return [*itertools.pairwise(edges), (_base(), _base() + DAILY.length * DAYS)]


def _from_raw(conn: psycopg.Connection, guild: str, buckets, now: datetime):
    plans = [BucketPlan(s, min(e, now), raw=[(s, min(e, now))]) for s, e in buckets]
    raw = compute_raw(conn, guild, plans, now=now, cap=DEFAULT_CAP)
    members = combine(raw.members)
    return bucket_totals(len(buckets), raw.totals, members), members


def _ordered(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=st.lists(EVENT, min_size=1, max_size=60), asked=BUCKETS)
def test_blocks_answer_what_the_raw_events_answer(db, events, asked):
    for table in DATA_TABLES:
        db.execute(f"DELETE FROM {table}")
    store_events(db, events)
    now = datetime.now(UTC).replace(microsecond=0)
    compute_everything(db, start=_base(), end=_base() + DAILY.length * DAYS, covered_until=now)
    buckets = _buckets(*asked)
    horizon = now - timedelta(days=30)
    for guild in GUILDS:
        with db.transaction():
            plans, _ = plan_buckets(
                db, guild_id=guild, buckets=buckets, cap=DEFAULT_CAP, raw_horizon=horizon
            )
            answered = activity(
                db, guild_id=guild, buckets=buckets, now=now, cap=DEFAULT_CAP, raw_horizon=horizon
            )
            totals_only = activity(
                db, guild_id=guild, buckets=buckets, now=now, cap=DEFAULT_CAP,
                raw_horizon=horizon, members=False,
            )  # fmt: skip
            totals, members = _from_raw(db, guild, buckets, now)
        # The whole span is read from a span of days (the data's days are all computed).
        assert any(w.grain in SPAN_NAMES for w in plans[-1].windows)
        assert not plans[-1].raw
        assert answered.resolution == "exact"
        assert_frame_equal(answered.totals, totals)
        # Totals only: the buckets one window answers take their people from its snapshot row.
        assert_frame_equal(totals_only.totals, totals)
        assert_frame_equal(
            _ordered(answered.members), _ordered(members.select(answered.members.columns))
        )
