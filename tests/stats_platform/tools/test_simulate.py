"""`stats-platform simulate`: a seeded traffic model, bot-like batching, and its own tally.

The model tests use a fixed instant and read no clock. The end-to-end tests run the real API in
a subprocess on a fresh database and compare what the simulator says it delivered with what was
stored, counted straight from the events table and rebuilt with the pipeline's voice transforms.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import psycopg

from stats_platform.storage.warehouse import load_voice_sessions
from stats_platform.tools.simulate import (
    ModelConfig,
    SimulationConfig,
    TrafficModel,
    generate,
    run_simulation,
)
from stats_platform.tools.simulate.plan import PlanConfig, Planner
from stats_platform.tools.simulate.tally import voice_sessions
from stats_platform.tools.simulate.voice import VOICE_MAX_MS
from stats_platform.transforms.voice import voice_by_window
from tests.testkit.api import Api

PROJECT_ROOT = Path(__file__).resolve().parents[3]
END_MS = 1_790_000_000_000  # 2026-09-21T13:33:20Z, a Monday
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
SNOWFLAKE_FIELDS = ("guildId", "userId", "channelId", "messageId", "roleId")


def small_world(seed: int = 7, *, days: float = 1, **fields: object) -> ModelConfig:
    defaults: dict = {"guilds": 3, "members_per_guild": 30}
    defaults.update(fields)
    return ModelConfig(seed=seed, start_ms=END_MS - int(days * DAY_MS), end_ms=END_MS, **defaults)


def test_same_seed_gives_the_same_events_and_another_seed_others() -> None:
    config = small_world(seed=7, tz="Europe/Berlin")
    first, again = generate(config), generate(config)
    assert first == again
    assert len(first) > 100
    other = generate(small_world(seed=8, tz="Europe/Berlin"))
    assert other != first
    assert {e["guildId"] for e in other}.isdisjoint({e["guildId"] for e in first})


def test_fixed_seed_world_and_event_counts() -> None:
    model = TrafficModel(small_world(seed=7))
    events = list(model.events())
    # The output of seed 7 (3 guilds, scale 30, the day before END_MS, UTC), computed once by
    # running this model: a change to its draws changes these numbers, and should be deliberate.
    assert [(g.guild_id, len(g.members)) for g in model.guilds] == [
        ("236016855126861682", 25),
        ("359241598357772842", 21),
        ("366860627656509370", 40),
    ]
    assert dict(Counter(e["guildId"] for e in events)) == {
        "236016855126861682": 77,
        "359241598357772842": 106,
        "366860627656509370": 140,
    }
    assert dict(Counter(e["type"] for e in events)) == {
        "MESSAGE_CREATE": 174,
        "VOICE_STATE_UPDATE": 82,
        "TYPING_START": 26,
        "MESSAGE_REACTION_ADD": 25,
        "MESSAGE_UPDATE": 6,
        "MESSAGE_DELETE": 5,
        "GUILD_MEMBER_ADD": 2,
        "GUILD_MEMBER_REMOVE": 2,
        "GUILD_MEMBER_UPDATE": 1,
    }


def test_model_invariants_over_a_week() -> None:
    config = small_world(seed=5, days=7, guilds=4, members_per_guild=80, tz="America/New_York")
    events = generate(config)
    assert events == sorted(events, key=lambda e: e["timestamp"])
    assert all(config.start_ms <= e["timestamp"] < END_MS for e in events)
    assert len({e["id"] for e in events}) == len(events)
    assert all(re.fullmatch(r"[A-Z]+(_[A-Z]+)*", e["type"]) for e in events)
    for e in events:
        for name in SNOWFLAKE_FIELDS:
            if e.get(name) is not None:
                assert re.fullmatch(r"[1-9][0-9]{16,18}", e[name]), (name, e)

    messages: set[tuple[str, str, str]] = set()  # (guild, message, author) sent so far
    for e in events:
        if e["type"] == "MESSAGE_CREATE":
            messages.add((e["guildId"], e["messageId"], e["userId"]))
        elif e["type"] == "MESSAGE_REACTION_ADD":
            author = e["data"]["messageAuthorId"]
            assert (e["guildId"], e["messageId"], author) in messages
            assert author != e["userId"]

    in_channel: dict[tuple[str, str], str | None] = {}
    abandoned = 0
    last_voice: dict[tuple[str, str], tuple[int, str | None]] = {}
    for e in (e for e in events if e["type"] == "VOICE_STATE_UPDATE"):
        member = (e["guildId"], e["userId"])
        if e["channelId"] is None:
            assert in_channel.get(member) is not None, f"leave without a join: {e}"
        elif in_channel.get(member) not in (None, e["channelId"]):
            assert member in in_channel  # a move follows a join
        previous = last_voice.get(member)
        if previous and previous[1] is not None and e["timestamp"] - previous[0] > VOICE_MAX_MS:
            abandoned += 1  # the bot never saw that session close
        in_channel[member] = e["channelId"]
        last_voice[member] = (e["timestamp"], e["channelId"])
    abandoned += sum(
        1 for ts, channel in last_voice.values() if channel and END_MS - ts > VOICE_MAX_MS
    )
    assert abandoned >= 1

    local = [
        datetime.fromtimestamp(e["timestamp"] / 1000, ZoneInfo("America/New_York"))
        for e in events
        if e["type"] == "MESSAGE_CREATE"
    ]
    evenings = sum(1 for t in local if 18 <= t.hour < 23)
    nights = sum(1 for t in local if 2 <= t.hour < 7)
    assert evenings > 4 * nights
    by_author = sorted(
        Counter(e["userId"] for e in events if e["type"] == "MESSAGE_CREATE").values(),
        reverse=True,
    )
    members = sum(len(g.members) for g in TrafficModel(config).guilds)
    assert sum(by_author[: members // 10]) > sum(by_author) / 2


def test_planner_holds_late_batches_and_resends_duplicates_with_the_same_ids() -> None:
    events = generate(small_world(seed=3, days=2))
    planner = Planner(
        PlanConfig(seed=3, batch_size=50, flush_ms=300_000, late_share=0.3, duplicate_share=0.3)
    )
    sent = []
    for event in events:
        planner.add(event)
        sent += [(b, event["timestamp"]) for b in planner.due(event["timestamp"])]
    sent += [(b, END_MS) for b in planner.drain(END_MS)]
    originals = [b for b, _ in sent if not b.duplicate]
    assert [e for b in sorted(originals, key=lambda b: b.number) for e in b.events] == events
    assert all(len(b.events) <= 50 for b in originals)
    first_of = {b.number: b for b in originals}
    duplicates = [b for b, _ in sent if b.duplicate]
    assert duplicates and all(b.events == first_of[b.number].events for b in duplicates)
    late = [b for b in originals if b.late]
    assert late and all(b.send_at - b.events[-1]["timestamp"] >= 120_000 for b in late)
    # Seed 3's schedule for these 919 events, computed once: 191 batches, 55 late, 57 re-sent.
    assert (len(events), len(originals), len(late), len(duplicates)) == (919, 191, 55, 57)


def test_tally_voice_replays_spec_sessions() -> None:
    cap = 24 * HOUR_MS
    updates = [
        (0, "A"),  # opens A
        (10, "A"),  # mute: nothing changes
        (20, "B"),  # move: A ends, B opens
        (30, None),  # leave
        (40, None),  # nothing open: nothing happens
        (50, "C"),  # opens C, never closed by the bot...
        (50 + cap + 5, "C"),  # ...so it ended at the cap and this opens a new one
    ]
    assert list(voice_sessions(updates, cap_ms=cap)) == [
        (0, 20),
        (20, 30),
        (50, 50 + cap),
        (50 + cap + 5, None),
    ]


def test_historical_run_stores_exactly_what_its_tally_counts(start_api: Callable[..., Api]) -> None:
    api = start_api(auth="off")
    end = int(time.time()) // 60 * 60_000
    summary = run_simulation(
        SimulationConfig(
            mode="historical",
            days=1.5,
            end_ms=end,
            guilds=3,
            members_per_guild=120,
            seed=11,
            url=api.url,
            gzip=True,
            batch_size=200,
            late_share=0.2,
            duplicate_share=0.2,
            progress=False,
        )
    )
    tally = summary.tally
    assert (summary.error, summary.rejected, summary.retries) == (None, 0, 0)
    assert summary.late_batches > 0 and summary.duplicate_batches > 0
    assert summary.accepted == tally.unique_events
    assert summary.duplicates == summary.events_sent - tally.unique_events > 0
    assert len(tally.guilds) == 3

    with psycopg.connect(api.database_url) as conn:
        stored = conn.execute("SELECT type, count(*) FROM events GROUP BY type").fetchall()
        assert dict(stored) == dict(tally.by_type)
        assert sum(n for _, n in stored) == tally.unique_events
        rows = conn.execute(
            """
            SELECT guild_id,
                   count(*) FILTER (WHERE type = 'MESSAGE_CREATE'),
                   count(*) FILTER (WHERE type = 'MESSAGE_REACTION_ADD'),
                   count(*) FILTER (WHERE type = 'GUILD_MEMBER_ADD'),
                   count(*) FILTER (WHERE type = 'GUILD_MEMBER_REMOVE'),
                   count(DISTINCT user_id),
                   min(ts), max(ts)
            FROM events GROUP BY guild_id
            """
        ).fetchall()
        window_start = _instant(tally.window_start_ms)
        window_end = _instant(end)
        cap = timedelta(hours=24)
        sessions = load_voice_sessions(conn, start=window_start, end=window_end, cap=cap)
    voice = (
        voice_by_window(
            sessions,
            start=window_start,
            end=window_end,
            every=timedelta(days=1),
            as_of=window_end,
            cap=cap,
        )
        .group_by("guild_id", "user_id")
        .agg(pl.col("voice_ms").sum())
        .collect()
    )
    assert {r[0]: r[1:6] for r in rows} == {
        gid: (g.messages, g.reactions, g.joins, g.leaves, g.active_users)
        for gid, g in tally.guilds.items()
    }
    assert all(window_start <= r[6] and r[7] < window_end for r in rows)
    by_guild: dict[str, int] = defaultdict(int)
    for guild_id, _, ms in voice.iter_rows():
        by_guild[guild_id] += ms
    assert by_guild == {gid: g.voice_ms for gid, g in tally.guilds.items() if g.voice_ms}
    assert all(g.voice_ms > 0 for g in tally.guilds.values())
    assert {(r[0], r[1]): r[2] for r in voice.iter_rows()} == {
        (gid, uid): m.voice_ms
        for gid, g in tally.guilds.items()
        for uid, m in g.members.items()
        if m.voice_ms
    }


def test_live_cli_creates_keys_sends_in_real_time_and_writes_its_tally(
    start_api: Callable[..., Api], tmp_path: Path
) -> None:
    api = start_api(auth="on")
    tally_path = tmp_path / "tally.json"
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable, "-m", "stats_platform.tools.cli", "simulate",
            "--mode", "live", "--rate", "40", "--duration", "4",
            "--guilds", "2", "--members-per-guild", "60", "--seed", "3",
            "--url", api.url, "--create-key", "--no-progress",
            "--late-share", "0.3", "--duplicate-share", "0.3",
            "--tally-json", str(tally_path),
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "STATS_DATABASE_URL": api.database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started >= 4
    assert re.search(r"^ingest key sp_\w+$", done.stdout, re.M)
    assert re.search(r"^read key   sp_\w+$", done.stdout, re.M)
    assert "mode       live, seed 3, tz UTC" in done.stdout
    assert "rejected 0" in done.stdout

    tally = json.loads(tally_path.read_text())
    start = datetime.fromisoformat(tally["windowStart"])
    end = datetime.fromisoformat(tally["windowEnd"])
    assert end - start == timedelta(seconds=4)
    with psycopg.connect(api.database_url) as conn:
        count, first, last = conn.execute(
            "SELECT count(*), min(ts), max(ts) FROM events"
        ).fetchone()
        scopes = conn.execute("SELECT scope, all_guilds FROM api_keys ORDER BY scope").fetchall()
        messages = dict(
            conn.execute(
                "SELECT guild_id, count(*) FROM events WHERE type = 'MESSAGE_CREATE' GROUP BY 1"
            ).fetchall()
        )
    assert count == tally["uniqueEvents"] > 0
    assert start <= first and last < end
    assert scopes == [("ingest", True), ("read", True)]
    assert messages == {
        gid: g["totalMessages"] for gid, g in tally["guilds"].items() if g["totalMessages"]
    }


def test_live_run_stopped_by_ctrl_c_delivers_what_came_before_the_stop(
    start_api: Callable[..., Api], tmp_path: Path
) -> None:
    api = start_api(auth="off")
    tally_path = tmp_path / "tally.json"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "stats_platform.tools.cli", "simulate",
            "--mode", "live", "--rate", "40", "--guilds", "2", "--members-per-guild", "60",
            "--url", api.url, "--no-progress", "--late-share", "0.5", "--duplicate-share", "0.5",
            "--tally-json", str(tally_path),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    with psycopg.connect(api.database_url, autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while conn.execute("SELECT count(*) FROM events").fetchone() == (0,):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.2)
        # Late and duplicated batches are still held back: Ctrl-C must send them, and the
        # batch being waited for, without the events it holds from after the stop.
        time.sleep(2)
        process.send_signal(signal.SIGINT)
        output, errors = process.communicate(timeout=30)
        count, last = conn.execute("SELECT count(*), max(ts) FROM events").fetchone()
    assert process.returncode == 0, errors
    assert "(interrupted)" in output
    tally = json.loads(tally_path.read_text())
    assert count == tally["uniqueEvents"]
    assert last < datetime.fromisoformat(tally["windowEnd"])


def _instant(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
