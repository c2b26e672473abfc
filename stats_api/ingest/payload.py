"""The request body of POST /v1/events: size-bounded, gunzipped as it arrives, parsed with orjson."""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import orjson

_GZIP_WBITS = 16 + zlib.MAX_WBITS
# orjson reads integers beyond 64 bits as floats, rounding them. A body with 20 digits in a row
# is scanned for such an integer outside strings and then read again by the json module,
# which keeps every integer exact; orjson has already refused anything json would let through.
# The first test runs on every body: digits mapped to "0" and the rest to " ", then a substring
# search (C speed, ~25 µs for 100 events; a regex `\d{20}` took 585 µs, a sixth of the request).
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_TWENTY_ZEROS = b"0" * 20
_BIG_INTEGER = re.compile(rb'"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])(-?\d{20,})(?![.eE\d])')


class PayloadError(Exception):
    """A whole-request problem with the body; status is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BoundedBody:
    """Collects a body chunk by chunk and refuses it the moment it passes `limit` bytes.

    Gzip is inflated with a cap on each step's output, so a small bomb never expands in memory.
    The limit holds for the bytes received and for the bytes decoded.
    """

    def __init__(self, limit: int, *, gzip: bool) -> None:
        self._limit = limit
        self._received = 0
        self._parts: list[bytes] = []
        self._size = 0
        self._inflater = zlib.decompressobj(_GZIP_WBITS) if gzip else None
        self._mid_member = False

    def feed(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self._limit:
            raise self._too_large()
        if self._inflater is None:
            self._append(chunk)
        else:
            self._inflate(chunk)

    def result(self) -> bytes:
        if self._mid_member:
            raise PayloadError(400, "gzip body is truncated")
        return b"".join(self._parts)

    def _inflate(self, data: bytes) -> None:
        while data:
            assert self._inflater is not None
            try:
                out = self._inflater.decompress(data, self._limit - self._size + 1)
            except zlib.error as exc:
                raise PayloadError(400, f"body is not valid gzip: {exc}") from None
            self._append(out)
            self._mid_member = not self._inflater.eof
            if self._inflater.eof:
                # Concatenated gzip members are one stream (RFC 1952).
                data = self._inflater.unused_data
                self._inflater = zlib.decompressobj(_GZIP_WBITS)
            else:
                data = self._inflater.unconsumed_tail

    def _append(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise self._too_large()
        self._parts.append(data)

    def _too_large(self) -> PayloadError:
        return PayloadError(413, f"body is larger than {self._limit} bytes")


def parse_events(body: bytes, *, max_events: int) -> list[Any]:
    """The events of a body that is a JSON array or {"events": [...]}."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(400, f"body is not valid JSON: {exc}") from None
    if _TWENTY_ZEROS in body.translate(_DIGITS_AS_ZERO) and _has_big_integer(body):
        document = json.loads(body)
    events = document.get("events") if type(document) is dict else document
    if type(events) is not list:
        raise PayloadError(
            400, 'body must be a JSON array of events or an object {"events": [...]}'
        )
    if len(events) > max_events:
        raise PayloadError(413, f"batch has {len(events)} events; the limit is {max_events}")
    return events


def _has_big_integer(body: bytes) -> bool:
    for match in _BIG_INTEGER.finditer(body):
        number = match.group(1)
        if number is not None and not -(2**63) <= int(number) < 2**64:
            return True
    return False
