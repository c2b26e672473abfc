"""The stats answers the naive way: plain SQL GROUP BY over the raw `events` of one guild.

No rollups, no cache, nothing precomputed: each answer scans the guild's events in the window
and rebuilds voice sessions from all its VOICE_STATE_UPDATE events with the window-function
sessionizer of the aggregate baseline (`benchmarks/aggregate/sessions.sql`: runs of one channel, recursive cap splits; replayed
from the first voice event kept, nothing open), restricted to the guild. Voice counts up to the
window's end, as the API counts a still-open session up to its `now`. Python only shapes rows
into the API's JSON and computes percent changes with the API's own rounding rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from benchmarks.aggregate import sql_baseline
from stats_api import figures, periods
from stats_platform.domain.instants import iso_z
from stats_platform.storage.scripts import script

CAP = timedelta(hours=24)
FUTURE = timedelta(minutes=5)
EVER = datetime(2015, 1, 1, tzinfo=UTC)
ARRIVED = datetime(9999, 1, 1, tzinfo=UTC)


def _query(name: str) -> sql.Composed:
    """A query file with the aggregate baseline's sessionizer (one guild) and the members CTE in."""
    sessions = sql.SQL(script(sql_baseline.__file__, "sessions.sql"))
    members = sql.SQL(script(__file__, "members_cte.sql")).format(sessions=sessions)
    return sql.SQL(script(__file__, f"{name}.sql")).format(sessions=sessions, members=members)


DASHBOARD, LEADERBOARD, MEMBER_PAGE, ONE_MEMBER, ACTIVITY, LIVE = map(
    _query, ["dashboard", "leaderboard", "member_page", "one_member", "activity", "live"]
)


# The sessionizer's correlated split lookups inflate its cost estimate far past jit_above_cost;
# with the server's default jit=on each answer then spends seconds compiling (0.1 s of work
# became 5-12 s on this machine). The naive way gets the benefit of the doubt: jit off.
SESSION_SETTINGS = {"jit": "off"}


def connect(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True)
    for name, value in SESSION_SETTINGS.items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))
    return conn


def _params(guild: str, start: datetime, end: datetime, **more: Any) -> dict[str, Any]:
    return {"guild": guild, "start": start, "end": end, "as_of": ARRIVED, "cap": CAP, **more}


def _z(at: datetime | None) -> str | None:
    return None if at is None else iso_z(at)


def _totals(conn: psycopg.Connection, guild: str, start: datetime, end: datetime) -> tuple:
    row = conn.execute(DASHBOARD, _params(guild, start, end)).fetchone()
    assert row is not None
    return row


def dashboard(conn: psycopg.Connection, guild: str, start: datetime, end: datetime) -> dict:
    """Totals of [start, end) and of the window of the same length before it."""
    now = _totals(conn, guild, start, end)
    before = _totals(conn, guild, start - (end - start), start)
    names = ["totalMessages", "totalVoiceMinutes", "totalReactions", "uniqueActiveUsers"]
    current = dict(zip(names, [now[0], now[1] // 60000, now[2], now[3]], strict=True))
    previous = dict(zip(names, [before[0], before[1] // 60000, before[2], before[3]], strict=True))
    return {
        **current,
        "newMembers": now[4],
        "leftMembers": now[5],
        **figures.changes(current, previous),
        "topMembers": [
            {"userId": u, "totalMessages": m, "totalVoiceMinutes": v} for u, m, v in now[6]
        ],
    }


def leaderboard(
    conn: psycopg.Connection, guild: str, start: datetime, end: datetime, limit: int = 10
) -> dict:
    rows = conn.execute(LEADERBOARD, _params(guild, start, end, limit=limit)).fetchall()
    return {
        "entries": [
            {
                "rank": rank,
                "userId": u,
                "score": s,
                "totalMessages": m,
                "totalVoiceMinutes": v,
                "totalReactions": r,
                "badge": figures.BADGES.get(rank),
            }
            for rank, (u, s, m, v, r) in enumerate(rows, start=1)
        ]
    }


def _member_row(row: tuple) -> dict[str, Any]:
    user, messages, voice_ms, given, received, last_message, last_voice, last_seen, joined = row
    return {
        "userId": user,
        "totalMessages": messages,
        "totalVoiceMinutes": voice_ms // 60000,
        "totalReactionsGiven": given,
        "totalReactionsReceived": received,
        "lastMessageAt": _z(last_message),
        "lastVoiceAt": _z(last_voice),
        "lastSeen": _z(last_seen),
        "joinedAt": _z(joined),
    }


def members(conn: psycopg.Connection, guild: str, now: datetime, page_size: int = 20) -> dict:
    """Lifetime rows (everything kept up to `now`), page 1 by messages."""
    rows = conn.execute(MEMBER_PAGE, _params(guild, EVER, now, limit=page_size)).fetchall()
    return {
        "members": [_member_row(r[:-1]) for r in rows],
        "pagination": {"total": rows[0][-1] if rows else 0},
    }


def member(conn: psycopg.Connection, guild: str, user: str, start: datetime, end: datetime) -> dict:
    """One member's lifetime row (up to `end`, the API's now) and their activity in [start, end)."""
    life = conn.execute(ONE_MEMBER, _params(guild, EVER, end, user=user)).fetchone()
    period = conn.execute(ONE_MEMBER, _params(guild, start, end, user=user)).fetchone()
    row = _member_row(life) if life else {}
    activity = (
        _member_row(period) if period else _member_row((user, 0, 0, 0, 0, None, None, None, None))
    )
    del activity["userId"], activity["joinedAt"]
    return {**row, "activity": activity}


def activity(
    conn: psycopg.Connection, guild: str, start: datetime, end: datetime, granularity: str
) -> dict:
    window = periods.TimeRange(start, end)
    labels = [label for label, _ in periods.buckets(window, granularity, UTC)]  # type: ignore[arg-type]
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1)}[granularity]
    rows = conn.execute(
        ACTIVITY, _params(guild, start, end, unit=granularity, step=step, labels=labels)
    ).fetchall()
    names = ["totalMessages", "totalVoiceMinutes", "totalReactions", "uniqueActiveUsers", "joins",
             "leaves"]  # fmt: skip
    return {
        "dataPoints": [
            {"timestamp": _z(label), **dict(zip(names, rest, strict=True))} for label, *rest in rows
        ]
    }


def voice_live(conn: psycopg.Connection, guild: str, now: datetime) -> dict:
    rows = conn.execute(
        LIVE, {"guild": guild, "end": now + FUTURE, "as_of": ARRIVED, "cap": CAP, "now": now}
    ).fetchall()
    channels: dict[str, list] = {}
    for channel, user, since in rows:
        channels.setdefault(channel, []).append({"userId": user, "since": _z(since)})
    return {"channels": [{"channelId": c, "members": m} for c, m in channels.items()]}
