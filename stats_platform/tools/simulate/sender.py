"""POST /v1/events like a bot: one body per batch, retried as is until the API takes it.

A retry re-sends the very same bytes (same ids, same timestamps), so a batch that was stored
before its answer got lost comes back as duplicates, never as new events. Connection errors,
5xx and 429 are retried with exponential backoff (429 waits out `Retry-After`); any other
answer is a mistake retrying cannot fix and stops the run.
"""

from __future__ import annotations

import gzip
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from stats_platform.tools.simulate.engine import Event

MAX_BACKOFF_SECONDS = 30.0


class DeliveryError(RuntimeError):
    """A batch the API refused for good, or that could not be delivered within the retries."""


@dataclass(frozen=True)
class Ack:
    accepted: int
    duplicates: int
    rejected: int
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rejected_indexes(self) -> set[int]:
        return {error["index"] for error in self.errors}


class Sender:
    def __init__(
        self,
        url: str,
        *,
        key: str | None = None,
        compress: bool = False,
        max_retries: int = 8,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "stats-platform-simulate"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if compress:
            headers["Content-Encoding"] = "gzip"
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self._compress = compress
        self._max_retries = max_retries
        self._sleep = sleep
        self._jitter = random.Random(0)
        self.retries = 0
        self.requests = 0

    def send(self, events: list[Event]) -> Ack:
        body = orjson.dumps(events)
        if self._compress:
            body = gzip.compress(body, compresslevel=5)
        for attempt in range(self._max_retries + 1):
            wait, outcome = self._attempt(body)
            if isinstance(outcome, Ack):
                return outcome
            if attempt == self._max_retries:
                break
            self.retries += 1
            self._sleep(wait if wait is not None else self._backoff(attempt))
        raise DeliveryError(f"gave up after {self._max_retries} retries: {outcome}")

    def close(self) -> None:
        self._client.close()

    def _attempt(self, body: bytes) -> tuple[float | None, Ack | str]:
        """(seconds to wait or None for backoff, the Ack or what went wrong)."""
        self.requests += 1
        try:
            response = self._client.post("/v1/events", content=body)
        except httpx.TransportError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        if response.status_code == 202:
            answer = response.json()
            return None, Ack(
                answer["accepted"], answer["duplicates"], answer["rejected"], answer["errors"]
            )
        if response.status_code == 429:
            return _retry_after(response), "429 over the key's rate"
        if response.status_code >= 500:
            return None, f"{response.status_code} {response.text[:200]}"
        hint = " (pass --key or --create-key)" if response.status_code == 401 else ""
        raise DeliveryError(f"the API answered {response.status_code}{hint}: {response.text[:500]}")

    def _backoff(self, attempt: int) -> float:
        return min(MAX_BACKOFF_SECONDS, 0.25 * 2**attempt) * (0.5 + self._jitter.random() / 2)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None
