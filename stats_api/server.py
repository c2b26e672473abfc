"""The HTTP protocol the API is served with: uvicorn's, plus a deadline for a request's headers.

uvicorn closes a connection idle between requests (`timeout_keep_alive`), but not one that
connects and sends nothing, nor one that trickles its headers a byte at a time: enough of them
hold every file descriptor of the process. Here each request's headers must be complete within
STATS_HEADER_TIMEOUT_SECONDS of its first byte (of the connection, for the first request).
The body has a deadline of its own where it is read (the ingest route).
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stats_platform.settings import get_settings

# What `stats-platform serve` passes as uvicorn's `http`, by name like the app itself.
PROTOCOL = "stats_api.server:HeaderDeadlineProtocol"


@cache
def header_timeout_seconds() -> float:
    return get_settings().header_timeout_seconds


class HeaderDeadlineProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(
                header_timeout_seconds(), self._headers_too_slow
            )

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
