from __future__ import annotations

import dagster as dg
import psycopg


class PostgresResource(dg.ConfigurableResource):
    """The stats database (events, rollups, member totals)."""

    url: str

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url)

    def storage_mode(self) -> str:
        with self.connect() as conn:
            row = conn.execute("SELECT stats_storage_mode()").fetchone()
            return row[0] if row else "native"
