"""The voice rules of the contract that reach beyond one window (contract §2), in one place.

The replay itself (sessions from VOICE_STATE_UPDATE events) is `transforms.voice`; this module
says how far a voice event reaches, which everything that decides what to recompute or
what not to trust (the late-data sensor, the API's coverage plan) derives from.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

DEFAULT_CAP = timedelta(hours=24)
"""A session never lasts longer; one never closed ends this long after it opened."""


def reach_of_late_voice(
    start: datetime, end: datetime, cap: timedelta
) -> tuple[datetime, datetime]:
    """The span whose voice time a voice event arriving late for [start, end) can change.

    It can open, close or move a session, and a session lasts at most `cap`.
    """
    return start, end + cap


def voice_stale(
    start: datetime,
    end: datetime,
    late_voice: Iterable[tuple[datetime, datetime]],
    cap: timedelta,
) -> bool:
    """True when a late voice event in one of `late_voice`'s windows reaches into [start, end)."""
    for late_start, late_end in late_voice:
        reach_start, reach_end = reach_of_late_voice(late_start, late_end, cap)
        if reach_start < end and reach_end > start:
            return True
    return False
