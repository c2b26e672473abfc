"""Discord snowflakes as the platform stores them: digit strings without leading zeros."""

from __future__ import annotations

import re

# [0-9], not \d: \d also matches other scripts' digits, which no snowflake contains.
SNOWFLAKE = re.compile(r"[0-9]{1,20}")


def normalize_snowflake(value: object) -> str | None:
    """The stored form of a snowflake ("007" -> "7", "0" stays), or None when it is not one."""
    if type(value) is not str or SNOWFLAKE.fullmatch(value) is None:
        return None
    return value.lstrip("0") or "0"
