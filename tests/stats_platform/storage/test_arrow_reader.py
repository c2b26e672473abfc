"""The pipeline's ADBC reads give exactly the frames the psycopg (CSV) reads give, on the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import polars as pl
import pytest
from platform_testkit import DAILY_ASSETS, Event, materialize, message, reaction, voice
from polars.testing import assert_frame_equal

from stats_platform.domain.voice import DEFAULT_CAP
from stats_platform.storage import warehouse
from stats_platform.storage.arrow_reader import ArrowReader

DAY = timedelta(days=1)


@pytest.fixture
def reader(database_url: str) -> Iterator[ArrowReader]:
    with ArrowReader.open(database_url) as opened:
        yield opened


@pytest.fixture
def two_days(db, store, t, base, resources) -> None:
    """Every column's awkward values: NULL ids, text that needs quoting, an arrival at µs
    precision (read as rounded epoch ms), two guilds, and voice across midnight, checkpointed."""
    store(
        message(t(1), "1"),
        message(t(1, 0, 0.001), None, received_at=t(1, 0, 1.0004995)),
        reaction(t(2), "2", author="1"),
        reaction(t(2, 1), "2"),
        Event("GUILD_MEMBER_ADD", t(3), "o'brien\\x", channel_id=None),
        Event("TYPING_START", t(4), "3", channel_id='chan "7"', guild_id="200"),
        voice(t(23), "1", "900"),
        voice(t(23, 30), "1", "901"),
        voice(t(25), "1", None),
        voice(t(26), "3", "902", guild_id="200", received_at=t(50, 0, 0.0005)),
    )
    materialize(DAILY_ASSETS, resources, grain="daily", start=base, last=base + DAY)


def test_events_read_through_adbc_equal_the_csv_read(db, reader, two_days, base, t):
    for filters in (
        {"start": base, "end": base + 2 * DAY},
        {"start": base, "end": base + 2 * DAY, "guild_ids": ["200"]},
        {"start": base, "end": base + 2 * DAY, "received_before": t(2, 0, 2)},
        {"start": base + 3 * DAY, "end": base + 4 * DAY},
    ):
        expected = warehouse.read_events(db, **filters).collect()
        assert_frame_equal(warehouse.read_events(reader, **filters).collect(), expected)
    events = warehouse.read_events(reader, start=base, end=base + 2 * DAY).collect()
    assert events.height == 10
    assert events.schema["message_author_id"] == pl.String
    assert events["user_id"].null_count() == 1
    assert sorted(events["received_at"].dt.epoch("ms") % 1000) == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]


def test_voice_replayed_through_adbc_equals_the_csv_replay(db, reader, two_days, base, t):
    assert warehouse.latest_checkpoint(reader, t(30), None) == base + DAY
    assert warehouse.latest_checkpoint(db, t(30), None) == base + DAY
    assert warehouse.latest_checkpoint(reader, t(10), None) is None
    for start, end, guilds in ((t(24), t(30), None), (t(0), t(48), ["100"])):
        window = {"start": start, "end": end, "cap": DEFAULT_CAP, "guild_ids": guilds}
        assert_frame_equal(
            warehouse.load_voice_sessions(reader, **window).collect(),
            warehouse.load_voice_sessions(db, **window).collect(),
        )
