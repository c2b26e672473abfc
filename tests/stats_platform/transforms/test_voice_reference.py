"""sessionize against the contract §2 state machine written out event by event, on random histories.

The reference below is the rule as a person applies it by hand: one event at a time, in
(ts, seq) order, per (guild, user). The vectorized replay must give exactly the same sessions.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from stats_platform.transforms.voice import empty_sessions, open_sessions, sessionize

T0 = datetime(2024, 3, 1, tzinfo=UTC)
MS = pl.Datetime("ms", "UTC")
IDS = {"guild_id": pl.String, "user_id": pl.String, "channel_id": pl.String}

Session = tuple[str, str, str, datetime, datetime | None, str | None]


def reference(
    events: list[tuple[str, str, datetime, int, str | None]],
    carry_in: dict[tuple[str, str], tuple[str, datetime]],
    cap: timedelta,
) -> list[Session]:
    """events: (guild, user, ts, seq, channel). carry_in: (guild, user) -> (channel, started)."""
    sessions: list[Session] = []
    users = {(guild, user) for guild, user, *_ in events} | set(carry_in)
    for guild, user in sorted(users):
        current = carry_in.get((guild, user))
        mine = sorted(
            (ts, seq, channel) for g, u, ts, seq, channel in events if (g, u) == (guild, user)
        )
        for ts, _, channel in mine:
            if current is not None:
                expiry = current[1] + cap
                if ts > expiry or (channel == current[0] and ts >= expiry):
                    sessions.append((guild, user, *current, expiry, "cap"))
                    current = None
            if channel is None:
                if current is not None:
                    sessions.append((guild, user, *current, ts, "leave"))
                    current = None
            elif current is None:
                current = (channel, ts)
            elif channel != current[0]:
                sessions.append((guild, user, *current, ts, "move"))
                current = (channel, ts)
        if current is not None:
            sessions.append((guild, user, *current, None, None))
    return sorted(
        (s for s in sessions if s[4] is None or s[4] > s[3]), key=lambda s: (s[0], s[1], s[3])
    )


def random_history(rng: random.Random):
    events = []
    carry_in = {}
    seq = 0
    for guild in ("g1", "g2"):
        for user in ("u1", "u2", "u3"):
            if rng.random() < 0.3:
                started = T0 - timedelta(minutes=rng.randrange(1, 30 * 60))
                carry_in[(guild, user)] = (rng.choice(["c1", "c2"]), started)
            minute = 0
            channel: str | None = "c1"
            for _ in range(rng.randrange(0, 40)):
                # Mostly short steps (mutes), sometimes hours, sometimes the same millisecond.
                minute += rng.choice([0, 0, 1, 5, 30, 60, 240, 600, 1440, 1500])
                roll = rng.random()
                if roll < 0.15:
                    channel = None
                elif roll < 0.3:
                    channel = rng.choice(["c1", "c2", "c3"])
                elif channel is None and roll < 0.5:
                    channel = "c1"
                seq += 1
                events.append((guild, user, T0 + timedelta(minutes=minute), seq, channel))
    rng.shuffle(events)
    return events, carry_in


@pytest.mark.parametrize("seed", range(150))
def test_sessionize_matches_the_event_by_event_replay(seed: int):
    rng = random.Random(seed)
    events, carry_in = random_history(rng)
    cap = rng.choice([timedelta(hours=1), timedelta(hours=24), timedelta(hours=48)])
    event_frame = pl.LazyFrame(
        [(g, u, c, ts, s) for g, u, ts, s, c in events],
        schema={**IDS, "ts": MS, "seq": pl.Int64},
        orient="row",
    )
    carry_frame = pl.LazyFrame(
        [(g, u, c, started) for (g, u), (c, started) in carry_in.items()],
        schema={**IDS, "started_at": MS},
        orient="row",
    )
    got = sessionize(event_frame, carry_frame, cap=cap).collect()
    assert got.sort("guild_id", "user_id", "started_at").rows() == reference(events, carry_in, cap)


def test_empty_sessions_is_what_sessionize_makes_of_nothing():
    events = pl.DataFrame(schema={**IDS, "ts": MS, "seq": pl.Int64}).lazy()
    carry_in = pl.DataFrame(schema={**IDS, "started_at": MS}).lazy()
    replayed = sessionize(events, carry_in, cap=timedelta(hours=24)).collect()
    assert replayed.schema == empty_sessions().schema
    assert replayed.height == 0


@pytest.mark.parametrize("seed", range(20))
def test_open_sessions_is_what_sessionize_makes_of_no_event(seed: int):
    rng = random.Random(seed)
    carry_in = pl.DataFrame(
        [
            (guild, user, rng.choice(["c1", "c2"]), T0 - timedelta(minutes=rng.randrange(1, 3000)))
            for guild in ("g1", "g2")
            for user in ("u1", "u2", "u3")
            if rng.random() < 0.6
        ],
        schema={**IDS, "started_at": MS},
        orient="row",
    )
    events = pl.DataFrame(schema={**IDS, "ts": MS, "seq": pl.Int64}).lazy()
    replayed = sessionize(events, carry_in.lazy(), cap=timedelta(hours=24)).collect()
    key = ["guild_id", "user_id", "started_at"]
    assert open_sessions(carry_in).sort(key).equals(replayed.sort(key))
    assert open_sessions(carry_in).schema == replayed.schema
