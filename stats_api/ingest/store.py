"""Writing a validated batch: one short transaction, committed before the API answers."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool

from stats_api.ingest.idempotency import Receipt
from stats_api.ingest.validate import DAY_MS, EventRow
from stats_platform.domain.events import EventType
from stats_platform.domain.grains import GRAINS
from stats_platform.domain.instants import EPOCH, from_epoch_ms
from stats_platform.logs import get_logger
from stats_platform.storage.scripts import script

log = get_logger("stats.ingest")

CREATE_STAGING_SQL = script(__file__, "create_ingest_staging.sql")
INSERT_EVENTS_SQL = script(__file__, "insert_events.sql")
# The same values for every batch, so the statement stays one prepared statement per connection.
INSERT_EVENTS_PARAMS = {
    "grain_names": [g.name for g in GRAINS],
    "grain_lengths": [g.length for g in GRAINS],
    "epoch": EPOCH,
    "voice_type": EventType.VOICE_STATE_UPDATE.value,
}
COPY_STAGING_SQL = (
    "COPY ingest_staging (ord, ts, guild_id, dedup_key, event_id, type,"
    " user_id, channel_id, message_id, role_id, shard_id, data) FROM STDIN (FORMAT BINARY)"
)
STAGING_TYPES = ["int4", "timestamptz", *["text"] * 8, "int4", "text"]

# Called after a commit with the batch's new VOICE_STATE_UPDATE rows [guild, user, channel, ts_ms]
# in (ts, seq) order and their arrival time in epoch µs (stats_api.live.presence.LivePresence.apply).
VoiceHook = Callable[[list[list], int], None]
# Called after a commit of valid rows with [guild, type, new rows, valid rows] of each guild and
# type in the batch (stats_api.main wires it to the metrics and the live feed).
CommitHook = Callable[[list[list]], None]
# The answer to a batch of which `inserted` rows were new.
Answer = Callable[[int], dict[str, Any]]
# Crash tests only: STATS_FAULT=ingest:<point> ends the process there (tests/stats_api/test_ingest_crashes.py).
FAULT = os.environ.get("STATS_FAULT")


class EventStore:
    """Stores batches through a pool, creating the daily partitions a batch needs on first sight."""

    def __init__(
        self,
        pool: ConnectionPool,
        *,
        on_voice: VoiceHook | None = None,
        on_commit: CommitHook | None = None,
        statement_timeout_seconds: int = 20,
    ) -> None:
        self._pool = pool
        self._on_voice = on_voice
        self._on_commit = on_commit
        self._statement_timeout = f"{statement_timeout_seconds}s"
        # Epoch day numbers known to have a partition; only grows after a commit that ensured them.
        self._known_days: set[int] = set()

    def first_answer(self, receipt: Receipt) -> dict[str, Any] | None:
        """The answer already given to the receipt's key (IdempotencyConflict for another body)."""
        with self._pool.connection() as conn:
            return receipt.find(conn)

    def store(self, rows: list[EventRow]) -> int:
        """Inserts the rows not stored yet; returns how many were new."""
        answer, _ = self.store_answered(rows, lambda inserted: {"accepted": inserted})
        return int(answer["accepted"])

    def store_answered(
        self, rows: list[EventRow], answer: Answer, receipt: Receipt | None = None
    ) -> tuple[dict[str, Any], bool]:
        """answer(new rows) once committed, and False; with a receipt already answered, its
        first answer and True (nothing stored). The receipt's record commits with the rows."""
        if not rows and receipt is None:
            return answer(0), False
        days = {row.ts_ms // DAY_MS for row in rows}
        try:
            return self._store_once(rows, days, answer, receipt)
        except errors.CheckViolation as exc:
            # A partition this process knew was dropped since (retention): ensure it and retry once.
            if "no partition" not in str(exc):
                raise
            log.warning("event partition missing; recreating", days=len(days))
            self._known_days -= days
            return self._store_once(rows, days, answer, receipt)

    def _store_once(
        self, rows: list[EventRow], days: set[int], answer: Answer, receipt: Receipt | None
    ) -> tuple[dict[str, Any], bool]:
        missing = days - self._known_days
        voice: list[list] = []
        with self._pool.connection() as conn, conn.transaction():
            # The pipeline's settle lag assumes ingest transactions end within seconds.
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true)", (self._statement_timeout,)
            )
            if receipt is not None:
                receipt.lock(conn)
                first = receipt.find(conn)
                if first is not None:
                    return first, True
            inserted, received_us, stored = 0, 0, []
            if rows:
                if missing:
                    _ensure_partitions(conn, min(missing), max(missing))
                conn.execute(CREATE_STAGING_SQL)
                _copy_rows(conn, rows)
                _fault("ingest:after_copy")
                inserted, voice, received_us, stored = conn.execute(
                    INSERT_EVENTS_SQL, INSERT_EVENTS_PARAMS
                ).fetchone() or (0, [], 0, [])
            result = answer(int(inserted))
            if receipt is not None:
                receipt.record(conn, result)
            _fault("ingest:before_commit")
        _fault("ingest:after_commit")
        if missing:
            self._known_days.update(range(min(missing), max(missing) + 1))
        if voice and self._on_voice is not None:
            self._on_voice(voice, received_us)
        if rows and self._on_commit is not None:
            self._on_commit(stored)
        return result, False


def _fault(point: str) -> None:
    if point == FAULT:
        os._exit(1)


def _ensure_partitions(conn: psycopg.Connection, first_day: int, last_day: int) -> None:
    conn.execute(
        "SELECT stats_ensure_event_partitions(%s, %s)",
        (_day(first_day), _day(last_day)),
    )


def _copy_rows(conn: psycopg.Connection, rows: list[EventRow]) -> None:
    with conn.cursor() as cur, cur.copy(COPY_STAGING_SQL) as copy:
        copy.set_types(STAGING_TYPES)
        for ord, row in enumerate(rows):
            copy.write_row(
                (
                    ord,
                    from_epoch_ms(row.ts_ms),
                    row.guild_id,
                    row.dedup_key,
                    row.event_id,
                    row.type,
                    row.user_id,
                    row.channel_id,
                    row.message_id,
                    row.role_id,
                    row.shard_id,
                    None if row.data is None else row.data.decode(),
                )
            )


def _day(day_number: int) -> date:
    return EPOCH.date() + timedelta(days=day_number)
