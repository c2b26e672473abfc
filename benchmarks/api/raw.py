"""The stats answers the naive way: plain SQL GROUP BY over the raw `events` of one guild.

No rollups, no cache, nothing precomputed: each answer scans the guild's events in the window
and rebuilds voice sessions from all its VOICE_STATE_UPDATE events with the window-function
sessionizer of `benchmarks.aggregate_sql` (runs of one channel, recursive cap splits; replayed
from the first voice event kept, nothing open), restricted to the guild. Voice counts up to the
window's end, as the API counts a still-open session up to its `now`. Python only shapes rows
into the API's JSON and computes percent changes with the API's own rounding rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from benchmarks.aggregate_sql import SESSIONS
from stats_api import figures, periods

CAP = timedelta(hours=24)
FUTURE = timedelta(minutes=5)
EVER = datetime(2015, 1, 1, tzinfo=UTC)
ARRIVED = datetime(9999, 1, 1, tzinfo=UTC)
_VOICE_FILTER = "WHERE type = 'VOICE_STATE_UPDATE' AND user_id IS NOT NULL"
assert SESSIONS.count(_VOICE_FILTER) == 1, "the sessionizer's voice filter moved"
SESSIONIZER = SESSIONS.replace("CREATE TEMP TABLE bench_sessions AS", "").replace(
    _VOICE_FILTER, "WHERE guild_id = %(guild)s AND " + _VOICE_FILTER.removeprefix("WHERE ")
)
IN_WINDOW = "guild_id = %(guild)s AND ts >= %(start)s AND ts < %(end)s"
ENDS = "least(coalesce(ended_at, started_at + %(cap)s), %(end)s)"

# One row per member active in [start, end): SPEC §2 counted from the raw rows.
MEMBERS = f"""
sessions AS ({SESSIONIZER}),
voice AS (
    SELECT user_id,
           sum((extract(epoch FROM {ENDS} - greatest(started_at, %(start)s)) * 1000)::bigint)::bigint
               AS voice_ms,
           max({ENDS}) AS last_voice_at
    FROM sessions
    WHERE started_at < %(end)s AND coalesce(ended_at, started_at + %(cap)s) > %(start)s
    GROUP BY user_id
), acted AS (
    SELECT user_id, count(*) AS events,
           count(*) FILTER (WHERE type = 'MESSAGE_CREATE') AS messages,
           count(*) FILTER (WHERE type = 'MESSAGE_REACTION_ADD') AS reactions_given,
           min(ts) FILTER (WHERE type = 'GUILD_MEMBER_ADD') AS first_join_at,
           max(ts) FILTER (WHERE type = 'MESSAGE_CREATE') AS last_message_at,
           max(ts) AS last_seen
    FROM events WHERE {IN_WINDOW} AND user_id IS NOT NULL
    GROUP BY user_id
), received AS (
    SELECT (data ->> 'messageAuthorId') COLLATE "C" AS user_id, count(*) AS reactions_received
    FROM events
    WHERE {IN_WINDOW} AND type = 'MESSAGE_REACTION_ADD' AND data ->> 'messageAuthorId' IS NOT NULL
      AND (user_id IS NULL OR (data ->> 'messageAuthorId') COLLATE "C" <> user_id)
    GROUP BY 1
), members AS (
    SELECT user_id, coalesce(a.events, 0) AS events, coalesce(a.messages, 0) AS messages,
           coalesce(a.reactions_given, 0) AS reactions_given,
           coalesce(r.reactions_received, 0) AS reactions_received,
           coalesce(v.voice_ms, 0) AS voice_ms, a.first_join_at, a.last_message_at,
           v.last_voice_at, greatest(a.last_seen, v.last_voice_at) AS last_seen
    FROM acted a FULL JOIN received r USING (user_id) FULL JOIN voice v USING (user_id)
)
"""
MEMBER_COLUMNS = (
    "user_id, messages, voice_ms, reactions_given, reactions_received,"
    " last_message_at, last_voice_at, last_seen, first_join_at"
)
SNOWFLAKE_ORDER = "length(user_id), user_id"

DASHBOARD = f"""
WITH {MEMBERS}, counts AS (
    SELECT count(*) FILTER (WHERE type = 'MESSAGE_CREATE') AS messages,
           count(*) FILTER (WHERE type = 'MESSAGE_REACTION_ADD') AS reactions,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_ADD') AS joins,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_REMOVE') AS leaves
    FROM events WHERE {IN_WINDOW}
)
SELECT c.messages, (SELECT coalesce(sum(voice_ms), 0)::bigint FROM members), c.reactions,
       (SELECT count(*) FROM members WHERE events > 0 OR voice_ms > 0), c.joins, c.leaves,
       (SELECT coalesce(json_agg(json_build_array(user_id, messages, voice_ms / 60000)), '[]')
        FROM (SELECT * FROM members WHERE messages > 0
              ORDER BY messages DESC, {SNOWFLAKE_ORDER} LIMIT 3) top)
FROM counts c
"""
LEADERBOARD = f"""
WITH {MEMBERS}
SELECT user_id, messages + voice_ms / 60000 + reactions_given AS score, messages,
       voice_ms / 60000, reactions_given
FROM members WHERE messages + voice_ms / 60000 + reactions_given > 0
ORDER BY score DESC, {SNOWFLAKE_ORDER} LIMIT %(limit)s
"""
MEMBER_PAGE = f"""
WITH {MEMBERS}
SELECT {MEMBER_COLUMNS}, count(*) OVER () FROM members
ORDER BY messages DESC, {SNOWFLAKE_ORDER} LIMIT %(limit)s
"""
ONE_MEMBER = f"WITH {MEMBERS} SELECT {MEMBER_COLUMNS} FROM members WHERE user_id = %(user)s"
ACTIVITY = f"""
WITH sessions AS ({SESSIONIZER}),
pieces AS (
    SELECT w AS label, user_id,
           sum((extract(epoch FROM least({ENDS}, w + %(step)s) - greatest(started_at, %(start)s, w))
                * 1000)::bigint)::bigint AS voice_ms
    FROM sessions,
         generate_series(date_trunc(%(unit)s, greatest(started_at, %(start)s), 'UTC'),
                         {ENDS} - interval '1 millisecond', %(step)s) AS w
    WHERE started_at < %(end)s AND coalesce(ended_at, started_at + %(cap)s) > %(start)s
    GROUP BY 1, 2
), counts AS (
    SELECT date_trunc(%(unit)s, ts, 'UTC') AS label,
           count(*) FILTER (WHERE type = 'MESSAGE_CREATE') AS messages,
           count(*) FILTER (WHERE type = 'MESSAGE_REACTION_ADD') AS reactions,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_ADD') AS joins,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_REMOVE') AS leaves
    FROM events WHERE {IN_WINDOW} GROUP BY 1
), active AS (
    SELECT label, count(*) AS users FROM (
        SELECT date_trunc(%(unit)s, ts, 'UTC') AS label, user_id
        FROM events WHERE {IN_WINDOW} AND user_id IS NOT NULL
        UNION
        SELECT label, user_id FROM pieces WHERE voice_ms > 0) u
    GROUP BY 1
)
SELECT b.label, coalesce(c.messages, 0), coalesce(v.voice_ms, 0) / 60000, coalesce(c.reactions, 0),
       coalesce(a.users, 0), coalesce(c.joins, 0), coalesce(c.leaves, 0)
FROM unnest(%(labels)s::timestamptz[]) AS b(label)
LEFT JOIN counts c USING (label)
LEFT JOIN (SELECT label, sum(voice_ms)::bigint AS voice_ms FROM pieces GROUP BY 1) v USING (label)
LEFT JOIN active a USING (label)
ORDER BY b.label
"""
LIVE = f"""
WITH sessions AS ({SESSIONIZER})
SELECT channel_id, user_id, started_at FROM sessions
WHERE ended_at IS NULL AND started_at > %(now)s - %(cap)s
ORDER BY length(channel_id), channel_id, started_at, {SNOWFLAKE_ORDER}
"""


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
    return None if at is None else periods.iso_z(at)


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
    window = periods.Window(start, end)
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
