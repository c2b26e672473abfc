"""SQL and Lua that the code runs, kept in files beside the module that runs them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from psycopg import sql


@cache
def script(anchor: str, filename: str) -> str:
    """The text of `filename` in the folder of `anchor` (the calling module's `__file__`)."""
    return (Path(anchor).parent / filename).read_text()


def sql_script(anchor: str, filename: str, **parts: sql.Composable) -> sql.Composed:
    """The SQL file beside `anchor` with its `{name}` parts (column lists built from declarations) filled in."""
    return sql.SQL(script(anchor, filename)).format(**parts)  # type: ignore[arg-type]
