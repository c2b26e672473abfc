"""Do the API's numbers equal the raw-SQL numbers? Same guild, same window, field by field.

The window is the one the API answered for (`periodStart`, `periodEnd`; for live voice the
instant just before the request), so named periods are checked to the millisecond even though
they end at the server's `now`. Every field the raw answer has is compared; the API's extra
fields (`dataAsOf`, `resolution`, `guildId`, ...) are not.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

from benchmarks.api import raw as api_raw
from benchmarks.api.load import ENDPOINTS, Endpoint, Guild, raw_answer, url_of


@dataclass
class Check:
    endpoint: str
    guild: str
    differences: list[str]
    compared: int = 0
    raw_s: float = 0.0  # how long the raw-SQL answer took

    @property
    def passed(self) -> bool:
        return not self.differences


def differences(api: Any, raw: Any, path: str = "") -> list[str]:
    if isinstance(raw, dict):
        if not isinstance(api, dict):
            return [f"{path}: API {api!r}, raw {raw!r}"]
        return [d for k, v in raw.items() for d in differences(api.get(k), v, f"{path}.{k}")]
    if isinstance(raw, list):
        if not isinstance(api, list) or len(api) != len(raw):
            n = len(api) if isinstance(api, list) else api
            return [f"{path}: API has {n} items, raw {len(raw)}"]
        return [d for i, (a, r) in enumerate(zip(api, raw, strict=True))
                for d in differences(a, r, f"{path}[{i}]")]  # fmt: skip
    return [] if api == raw else [f"{path}: API {api!r}, raw {raw!r}"]


def leaves(raw: Any) -> int:
    """How many values a raw answer has: what a PASS vouches for."""
    if isinstance(raw, dict):
        return sum(leaves(v) for v in raw.values())
    if isinstance(raw, list):
        return sum(leaves(v) for v in raw)
    return 1


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_all(
    base: str, database_url: str, guilds: list[Guild], only: dict[str, Collection[str]]
) -> list[Check]:
    """Every endpoint of every guild, but for a guild in `only` just the endpoints named there."""
    checks = []
    with httpx.Client(timeout=600) as client, api_raw.connect(database_url) as conn:
        for guild in guilds:
            for endpoint in ENDPOINTS:
                if guild.size in only and endpoint.name not in only[guild.size]:
                    continue
                check = check_one(client, conn, base, guild, endpoint)
                print(f"  {'PASS' if check.passed else 'FAIL'} {guild.size:6} {endpoint.name}"
                      f" ({check.compared} values, raw SQL {check.raw_s:.1f} s)"
                      f" {'; '.join(check.differences[:3])}", flush=True)  # fmt: skip
                checks.append(check)
    return checks


def check_one(
    client: httpx.Client, conn: psycopg.Connection, base: str, guild: Guild, endpoint: Endpoint
) -> Check:
    asked = datetime.now(UTC)
    answer = client.get(url_of(base, guild, endpoint), params=endpoint.params)
    if answer.status_code != 200:
        return Check(endpoint.name, guild.size, [f"HTTP {answer.status_code}"])
    body = answer.json()
    if "periodStart" in body:
        start, end = _instant(body["periodStart"]), _instant(body["periodEnd"])
    else:
        start = end = asked.replace(microsecond=asked.microsecond // 1000 * 1000)
    started = time.perf_counter()
    raw = raw_answer(conn, guild, endpoint, start, end)
    raw_s = time.perf_counter() - started
    return Check(endpoint.name, guild.size, differences(body, raw), leaves(raw), raw_s)
