"""What retention removes, in SQL and Redis; the Dagster ops in defs/retention report it on the assets."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import psycopg
import redis
from psycopg import sql

from stats_platform.domain.grains import HOURLY
from stats_platform.domain.grains import grain as grain_named

log = logging.getLogger("stats.retention")

LIVE_VOICE_PATTERN = "stats:voice:live:*"


def drop_expired_events(conn: psycopg.Connection, *, horizon: datetime) -> dict[str, int]:
    """Removes every raw event with ts < horizon: whole partitions or chunks first, then leftover rows."""
    mode = conn.execute("SELECT stats_storage_mode()").fetchone()[0]  # type: ignore[index]
    with conn.transaction():
        rows = conn.execute("SELECT count(*) FROM events WHERE ts < %s", (horizon,)).fetchone()[0]  # type: ignore[index]
        if mode == "timescaledb":
            dropped = len(
                conn.execute(
                    "SELECT drop_chunks('events', older_than => %s)", (horizon,)
                ).fetchall()
            )
        else:
            dropped = _drop_expired_partitions(conn, horizon)
        conn.execute("DELETE FROM events WHERE ts < %s", (horizon,))
        conn.execute(
            "DELETE FROM window_arrivals WHERE period_start < %s - interval '1 day'", (horizon,)
        )
    return {"rows_removed": rows, "partitions_dropped": dropped}


def _drop_expired_partitions(conn: psycopg.Connection, horizon: datetime) -> int:
    """Drops the daily partitions (events_pYYYYMMDD) whose whole day lies before the horizon."""
    names = [
        name
        for (name,) in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'events'::regclass ORDER BY c.relname"
        ).fetchall()
    ]
    expired = [n for n in names if _partition_day(n) + timedelta(days=1) <= horizon]
    for name in expired:
        conn.execute(sql.SQL("ALTER TABLE events DETACH PARTITION {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
    return len(expired)


def _partition_day(name: str) -> datetime:
    return datetime.strptime(name.removeprefix("events_p"), "%Y%m%d").replace(tzinfo=UTC)


def create_upcoming_partitions(conn: psycopg.Connection, *, days_ahead: int = 7) -> int:
    with conn.transaction():
        row = conn.execute(
            "SELECT stats_ensure_event_partitions((now() AT TIME ZONE 'UTC')::date,"
            " (now() AT TIME ZONE 'UTC')::date + %s)",
            (days_ahead,),
        ).fetchone()
    return row[0] if row else 0


def delete_expired_rollups(
    conn: psycopg.Connection, *, horizons: dict[str, datetime]
) -> dict[str, int]:
    """Rows whose whole window ended at or before their grain's horizon; daily member blocks stay for ever."""
    removed: dict[str, int] = {}
    with conn.transaction():
        for name, horizon in horizons.items():
            grain = grain_named(name)
            removed[grain.snapshots_asset] = conn.execute(
                "DELETE FROM metrics_snapshots WHERE period_type = %s AND period_end <= %s",
                (name, horizon),
            ).rowcount
            if not grain.member_rows_kept_forever:
                removed[grain.members_asset] = conn.execute(
                    "DELETE FROM member_blocks WHERE period_type = %s"
                    " AND period_start + %s::interval <= %s",
                    (name, grain.length, horizon),
                ).rowcount
            conn.execute(
                "DELETE FROM computed_windows WHERE period_type = %s AND period_end <= %s",
                (name, horizon),
            )
            if name == HOURLY.name:
                # The hourly grain's voice checkpoints go with its windows; midnights stay.
                for table in ("voice_checkpoints", "voice_checkpoint_marks"):
                    conn.execute(
                        sql.SQL(
                            "DELETE FROM {} WHERE at <= %s AND at <> date_trunc('day', at, 'UTC')"
                        ).format(sql.Identifier(table)),
                        (horizon,),
                    )
    return removed


def clean_stale_voice_presence(
    client: redis.Redis, *, cap: timedelta, now: datetime | None = None
) -> int:
    """Removes live-voice entries that opened more than `cap` ago: no session lasts that long."""
    cutoff_ms = int(((now or datetime.now(UTC)) - cap).timestamp() * 1000)
    removed = 0
    try:
        for key in client.scan_iter(match=LIVE_VOICE_PATTERN, count=500):
            stale = [
                user
                for user, raw in client.hgetall(key).items()
                if json.loads(raw)["since"] < cutoff_ms
            ]
            if stale:
                removed += client.hdel(key, *stale)
    except redis.ConnectionError:
        log.warning("Redis unreachable: live voice presence not cleaned this time")
    return removed
