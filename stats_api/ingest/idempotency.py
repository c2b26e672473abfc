"""Whole-request idempotency of POST /v1/events: an `Idempotency-Key` and the first answer to it.

A receipt is scoped to the API key that sent it. Its record is written in the batch's own
transaction (EventStore), under a transaction lock on the receipt, so two retries racing each
other store the batch once and get the same answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

TTL = timedelta(hours=24)
FIND_SQL = (
    "SELECT body_sha256, answer FROM ingest_idempotency"
    " WHERE key_id = %s AND idempotency_key = %s AND created_at > now() - %s"
)
LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
RECORD_SQL = """
INSERT INTO ingest_idempotency (key_id, idempotency_key, body_sha256, answer)
VALUES (%s, %s, %s, %s)
ON CONFLICT (key_id, idempotency_key) DO UPDATE
    SET body_sha256 = EXCLUDED.body_sha256, answer = EXCLUDED.answer, created_at = now()
"""
# A few expired rows go with each recorded answer, so the table holds about a day of keys.
PURGE_SQL = """
DELETE FROM ingest_idempotency WHERE ctid IN (
    SELECT ctid FROM ingest_idempotency WHERE created_at <= now() - %s
    LIMIT 100 FOR UPDATE SKIP LOCKED)
"""


class IdempotencyConflict(Exception):
    """The key was first used with another body."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was first used with a different body;"
            " send a new key with a new batch"
        )


@dataclass(frozen=True)
class Receipt:
    key_id: str
    key: str
    body_sha256: bytes

    @classmethod
    def of(cls, key_id: str | None, key: str, body: bytes) -> Receipt:
        return cls(key_id or "", key, hashlib.sha256(body).digest())

    def find(self, conn: psycopg.Connection) -> dict[str, Any] | None:
        """The first answer to this receipt's key, or None; IdempotencyConflict for another body."""
        row = conn.execute(FIND_SQL, (self.key_id, self.key, TTL)).fetchone()
        if row is None:
            return None
        if bytes(row[0]) != self.body_sha256:
            raise IdempotencyConflict(self.key)
        return row[1]  # type: ignore[no-any-return]

    def lock(self, conn: psycopg.Connection) -> None:
        conn.execute(LOCK_SQL, (f"{self.key_id}\x1f{self.key}",))

    def record(self, conn: psycopg.Connection, answer: dict[str, Any]) -> None:
        conn.execute(PURGE_SQL, (TTL,))
        conn.execute(
            RECORD_SQL,
            (self.key_id, self.key, self.body_sha256, Jsonb(answer)),
        )
