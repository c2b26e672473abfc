"""Slow clients against a served API: idle, header- and body-trickling connections are closed."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import psycopg
import pytest

from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD, Api

# Deadlock guard only: each connection below is closed after about a second.
GUARD_SECONDS = 15


@pytest.fixture
def api(start_api: Callable[..., Api]) -> Api:
    return start_api(
        auth="on", STATS_HEADER_TIMEOUT_SECONDS="1", STATS_BODY_READ_TIMEOUT_SECONDS="1"
    )


@pytest.fixture
def connect(api: Api) -> Iterator[Callable[[], socket.socket]]:
    opened: list[socket.socket] = []
    where = urlparse(api.url)

    def make() -> socket.socket:
        sock = socket.create_connection((where.hostname, where.port), timeout=GUARD_SECONDS)
        opened.append(sock)
        return sock

    yield make
    for sock in opened:
        sock.close()


def closed_while_trickling(sock: socket.socket, data: bytes) -> bytes:
    """Sends data a byte at a time until the server closes; what it answered meanwhile."""
    sock.settimeout(0.25)
    answer = b""
    deadline = time.monotonic() + GUARD_SECONDS
    for byte in data:
        assert time.monotonic() < deadline, "the server kept a trickling connection open"
        try:
            sock.sendall(bytes([byte]))
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return answer
        if not chunk:
            return answer
        answer += chunk
    raise AssertionError("the server read the whole trickle")


def test_a_connection_that_sends_nothing_is_closed(connect: Callable[[], socket.socket]) -> None:
    assert connect().recv(4096) == b""


def test_trickled_headers_are_cut_off(connect: Callable[[], socket.socket]) -> None:
    headers = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 10_000
    assert closed_while_trickling(connect(), headers) == b""


def test_trickled_headers_of_a_second_request_are_cut_off(
    connect: Callable[[], socket.socket],
) -> None:
    sock = connect()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while not first.endswith(b'{"status":"ok"}'):
        first += sock.recv(4096)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    headers = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 10_000
    assert closed_while_trickling(sock, headers) == b""


def test_a_trickled_body_is_408(api: Api, connect: Callable[[], socket.socket]) -> None:
    with psycopg.connect(api.database_url, autocommit=True) as conn:
        key = create_key(conn, scope="ingest", guild_ids=[GUILD])[1]
    sock = connect()
    sock.sendall(
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 100000\r\n\r\n["
    )
    answer = closed_while_trickling(sock, b" " * 100_000)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert answer.endswith(b'{"detail":"body not received within 1 s"}')
    with psycopg.connect(api.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)
