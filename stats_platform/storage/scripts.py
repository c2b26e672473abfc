"""SQL and Lua that the code runs, kept in files beside the module that runs them."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def script(anchor: str, filename: str) -> str:
    """The text of `filename` in the folder of `anchor` (the calling module's `__file__`)."""
    return (Path(anchor).parent / filename).read_text()
