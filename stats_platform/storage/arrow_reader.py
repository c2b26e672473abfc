"""The pipeline's bulk reads on an ADBC connection of their own: COPY in binary, straight into Arrow.

A day of events is millions of rows; ADBC's PostgreSQL driver copies them with
`COPY (...) TO STDOUT (FORMAT BINARY)` into Arrow arrays, with no CSV for the server to write and
for us to parse (docs/benchmarks.md, Bulk reads). The connection is autocommit, so it sees what
is committed and nothing of a psycopg transaction's own writes: reads that must see those, and
the stats API's reads (a guild reader under row-level security, on its pooled connection), stay
on psycopg. Either kind is a `warehouse.Source`, read through `warehouse.copy_out`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import adbc_driver_postgresql.dbapi
import pyarrow as pa
from psycopg import sql

_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s|%s")


class ArrowReader:
    """One ADBC connection; open it with `ArrowReader.open(url)`, which closes it on the way out."""

    def __init__(self, conn: adbc_driver_postgresql.dbapi.Connection) -> None:
        self._conn = conn

    @classmethod
    @contextmanager
    def open(cls, url: str) -> Iterator[ArrowReader]:
        """A reader of the database at `url` (a libpq URI: postgresql://...)."""
        with adbc_driver_postgresql.dbapi.connect(url, autocommit=True) as conn:
            yield cls(conn)

    def fetch(self, query: str | sql.Composable, params: Sequence[object] | dict) -> pa.Table:
        """A SELECT's rows as an Arrow table, its columns named as PostgreSQL names them."""
        with self._conn.cursor() as cur:
            cur.execute(with_literals(query, params))
            return cur.fetch_arrow_table()


def with_literals(query: str | sql.Composable, params: Sequence[object] | dict) -> str:
    """The statement with its values merged in as literals by psycopg's adapters.

    COPY takes no bind parameters, so psycopg's own COPY merges them client-side the same way:
    this is the text today's CSV read sends. Given bound parameters, ADBC runs the query as a
    prepared statement into one libpq result instead of COPY, and most of the gain is lost.
    """
    text = query if isinstance(query, str) else query.as_string(None)
    named = params if isinstance(params, dict) else {}
    positional = iter(()) if isinstance(params, dict) else iter(params)

    def literal(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        value = named[name] if name is not None else next(positional)
        return sql.Literal(value).as_string(None)

    return _PLACEHOLDER.sub(literal, text)
