"""When people are on: a daily and weekly rhythm in one time zone, as a rate multiplier.

Activity is lowest before dawn, climbs through the day, peaks in the evening and is higher on
weekends. `level(ts)` is the multiplier at an instant; `peak` bounds it (for thinning a Poisson
process) and `mean` is its average over a week (so a daily rate stays a daily rate).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# Relative activity at each local hour (00:00 .. 23:00), linearly interpolated in between.
HOURLY = (
    0.55, 0.38, 0.24, 0.16, 0.12, 0.11, 0.14, 0.24, 0.38, 0.50, 0.60, 0.70,
    0.78, 0.80, 0.80, 0.84, 0.92, 1.02, 1.15, 1.32, 1.48, 1.52, 1.30, 0.88,
)  # fmt: skip
# Monday first: a slow start of the week, busier Friday, busiest Saturday.
WEEKDAY = (0.88, 0.88, 0.90, 0.94, 1.04, 1.30, 1.18)
# 1970-01-01 was a Thursday.
_EPOCH_WEEKDAY = 3


class Rhythm:
    """The multiplier `(hourly * weekday) ** sharpness` at local time in `tz`.

    A sharpness above 1 concentrates activity further into evenings and weekends (voice).
    """

    def __init__(self, tz: str, *, sharpness: float = 1.0) -> None:
        self._zone = ZoneInfo(tz)
        self._sharpness = sharpness
        self._offsets: dict[int, int] = {}
        self.peak = max(HOURLY) ** sharpness * max(WEEKDAY) ** sharpness
        # The average over a local week does not depend on the zone: five-minute steps.
        steps = range(0, 7 * DAY_MS, 300_000)
        self.mean = sum(self._local_level(ms) for ms in steps) / len(steps)

    def level(self, ts_ms: int) -> float:
        return self._local_level(ts_ms + self._offset(ts_ms))

    def _local_level(self, local_ms: int) -> float:
        hours, rest = divmod(local_ms % DAY_MS, HOUR_MS)
        frac = rest / HOUR_MS
        hourly = HOURLY[hours] * (1 - frac) + HOURLY[(hours + 1) % 24] * frac
        weekday = WEEKDAY[(local_ms // DAY_MS + _EPOCH_WEEKDAY) % 7]
        return float((hourly * weekday) ** self._sharpness)

    def _offset(self, ts_ms: int) -> int:
        """The zone's UTC offset in ms, looked up once per UTC hour (offsets change on the hour)."""
        hour = ts_ms // HOUR_MS
        offset = self._offsets.get(hour)
        if offset is None:
            moment = datetime.fromtimestamp(hour * 3600, UTC).astimezone(self._zone)
            delta = moment.utcoffset()
            offset = int(delta.total_seconds() * 1000) if delta else 0
            self._offsets[hour] = offset
        return offset
