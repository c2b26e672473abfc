"""API keys over HTTP: a read key sees its own guilds, checked per scope; open when auth is off.

The key store itself is tested in tests/stats_platform/storage/test_api_keys.py, the `keys`
commands in tests/stats_platform/tools/test_cli_keys.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import psycopg
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from stats_api.api.deps import ReadGuildDep
from stats_api.main import create_app
from stats_platform.settings import Settings
from stats_platform.storage.api_keys import create_key
from tests.testkit.api import FOREIGN_GUILD, GUILD, OTHER_GUILD

probe = APIRouter(prefix="/v1/guilds/{guildId}", tags=["probe"])


@probe.get("/probe")
def read_probe(guild_id: ReadGuildDep) -> dict[str, str]:
    return {"guild": guild_id}


@pytest.fixture
def reader(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """An app with a probe route behind ReadGuildDep, as the stats routes use it."""
    started: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        app = create_app(settings.model_copy(update=overrides))
        app.include_router(probe)
        client = TestClient(app)
        client.__enter__()
        started.append(client)
        return client

    yield make
    for client in started:
        client.__exit__(None, None, None)


def test_read_key_sees_its_guilds_and_nothing_else(
    reader: Callable[..., TestClient], db: psycopg.Connection
) -> None:
    client = reader()
    _, read_key = create_key(db, scope="read", guild_ids=[GUILD, OTHER_GUILD])
    _, ingest_key = create_key(db, scope="ingest", guild_ids=[GUILD])

    def get(guild: str, key: str | None) -> tuple[int, object]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = client.get(f"/v1/guilds/{guild}/probe", headers=headers)
        return response.status_code, response.json()

    assert get(GUILD, read_key) == (200, {"guild": GUILD})
    assert get("00" + OTHER_GUILD, read_key) == (200, {"guild": OTHER_GUILD})
    assert get(FOREIGN_GUILD, read_key) == (404, {"detail": f"guild {FOREIGN_GUILD} not found"})
    assert get("not-a-guild", read_key) == (404, {"detail": "guild not-a-guild not found"})
    assert get(GUILD, None)[0] == 401
    assert get(GUILD, ingest_key)[0] == 403


def test_read_check_is_open_when_auth_is_off(reader: Callable[..., TestClient]) -> None:
    client = reader(auth="off")
    assert client.get(f"/v1/guilds/{FOREIGN_GUILD}/probe").json() == {"guild": FOREIGN_GUILD}


def test_an_address_guessing_keys_is_refused_with_429(
    make_client: Callable[..., TestClient], db: psycopg.Connection
) -> None:
    guesser_app = make_client(bad_key_limit_per_minute=3).app
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    guesser = TestClient(guesser_app, client=(address, 40000))
    neighbour = TestClient(guesser_app, client=("10.255.255.254", 40000))
    good = create_key(db, scope="read", guild_ids=[GUILD])[1]
    path = f"/v1/guilds/{GUILD}/stats/dashboard"
    guesses = [
        guesser.get(path, headers={"Authorization": f"Bearer sp_{i:012x}_{'0' * 48}"})
        for i in range(5)
    ]
    assert [g.status_code for g in guesses] == [401, 401, 401, 429, 429]
    refused = guesses[3]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json() == {
        "detail": f"too many bad API keys from {address}; retry after"
        f" {refused.headers['retry-after']} s"
    }
    # A right guess is refused too, so the throttle cannot be used to confirm one.
    assert guesser.get(path, headers={"Authorization": f"Bearer {good}"}).status_code == 429
    assert guesser.post("/v1/events", headers={"X-API-Key": good}).status_code == 429
    assert neighbour.get(path, headers={"Authorization": f"Bearer {good}"}).status_code == 404
