"""A 500 is logged once with its traceback, and answered as JSON."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from stats_testkit import fixed_events, get_stats, midnight

from stats_api import figures
from stats_platform.logs import formatter
from stats_platform.storage.api_keys import create_key


def boom(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("boom")


def test_a_500_is_logged_with_its_traceback(
    client: TestClient,
    post: Callable[..., httpx.Response],
    db: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert post(fixed_events(midnight(10))).status_code == 202
    key = create_key(db, scope="read", all_guilds=True)[1]
    monkeypatch.setattr(figures, "leaderboard", boom)
    with caplog.at_level(logging.ERROR):
        answer = get_stats(client, key, "leaderboard", period="month")
    assert (answer.status_code, answer.json()) == (500, {"detail": "internal error; it is logged"})
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.name == "stats.api"
    assert record.exc_info is not None and str(record.exc_info[1]) == "boom"
    rendered = formatter(json_logs=False).format(record)
    assert "Traceback (most recent call last):" in rendered
    assert "RuntimeError: boom" in rendered
    assert "path='/v1/guilds/111111111111111111/stats/leaderboard'" in rendered


@pytest.mark.parametrize("json_logs", [False, True])
def test_the_log_format_keeps_tracebacks(json_logs: bool) -> None:
    try:
        raise ValueError("kept")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    rendered = formatter(json_logs=json_logs).format(record)
    assert "ValueError" in rendered
    assert "kept" in rendered
    assert "test_the_log_format_keeps_tracebacks" in rendered
