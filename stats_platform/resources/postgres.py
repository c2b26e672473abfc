from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg

from stats_platform.storage.arrow_reader import ArrowReader


class PostgresResource(dg.ConfigurableResource):
    """The stats database (events, rollups, member totals)."""

    url: str

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url)

    @contextmanager
    def arrow_reader(self) -> Iterator[ArrowReader]:
        """An ADBC connection for a run's bulk reads (it sees committed rows only), closed on exit."""
        with ArrowReader.open(self.url) as reader:
            yield reader

    def storage_mode(self) -> str:
        with self.connect() as conn:
            row = conn.execute("SELECT stats_storage_mode()").fetchone()
            return row[0] if row else "native"
