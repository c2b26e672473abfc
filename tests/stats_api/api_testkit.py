"""Constants and helpers shared by the API tests (fixtures live in conftest.py)."""

from __future__ import annotations

import time

GUILD = "111111111111111111"
OTHER_GUILD = "222222222222222222"
FOREIGN_GUILD = "333333333333333333"
# Nothing listens here: an app pointed at it runs with Redis down.
UNUSED_REDIS_URL = "redis://127.0.0.1:6399/0"
DAY_MS = 86_400_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000
