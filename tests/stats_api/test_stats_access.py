"""Who may read what, and bad parameters: 401, 403, 404 across guilds, 422 naming the parameter."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from stats_testkit import DAY, fixed_events, get_stats, midnight, msg, z

from stats_api.api.responder import StatsResponder
from stats_api.redis_gate import RedisGate
from stats_platform.settings import Settings
from stats_platform.storage.api_keys import create_key
from tests.testkit.api import FOREIGN_GUILD, GUILD, OTHER_GUILD

PATHS = ["dashboard", "members", "members/9", "leaderboard", "activity", "voice/live"]


@pytest.fixture
def stored(post: Callable[..., httpx.Response]) -> None:
    """Both guilds have data; FOREIGN_GUILD has none."""
    post(fixed_events(midnight(10)))
    post([msg(midnight(2), "9", OTHER_GUILD)])


@pytest.mark.parametrize("path", PATHS)
def test_a_key_for_one_guild_gets_404_for_another(
    stored: None, client: TestClient, db: psycopg.Connection, path: str
) -> None:
    key = create_key(db, scope="read", guild_ids=[GUILD])[1]
    assert get_stats(client, key, path).status_code == 200
    other = get_stats(client, key, path, guild=OTHER_GUILD)
    assert other.status_code == 404
    assert other.json() == {"detail": f"guild {OTHER_GUILD} not found"}


@pytest.mark.parametrize("path", PATHS)
def test_a_guild_without_data_is_404(
    stored: None, client: TestClient, db: psycopg.Connection, path: str
) -> None:
    key = create_key(db, scope="read", all_guilds=True)[1]
    assert get_stats(client, key, path, guild=FOREIGN_GUILD).status_code == 404
    assert get_stats(client, key, path, guild="not-a-snowflake").status_code == 404


@pytest.mark.parametrize("path", PATHS)
def test_no_key_is_401_and_an_ingest_key_403(
    stored: None, client: TestClient, ingest_key: str, path: str
) -> None:
    assert get_stats(client, None, path).status_code == 401
    assert get_stats(client, "sp_nope_nope", path).status_code == 401
    assert get_stats(client, ingest_key, path).status_code == 403


def test_auth_off_reads_any_guild(stored: None, make_client: Callable[..., TestClient]) -> None:
    open_app = make_client(auth="off")
    assert get_stats(open_app, None, "dashboard").status_code == 200
    assert get_stats(open_app, None, "dashboard", guild=FOREIGN_GUILD).status_code == 404


D = midnight(10)
TOO_LONG = (D - 90 * DAY, D)  # 2,160 hours


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("dashboard", {"tz": "Mars/Olympus_Mons"}, "tz"),
        ("dashboard", {"period": "fortnight"}, "period"),
        ("dashboard", {"period": "week", "from": z(D)}, "period"),
        ("dashboard", {"from": z(D + DAY), "to": z(D)}, "to"),
        ("dashboard", {"to": z(D)}, "from"),
        ("dashboard", {"from": "2024-05-01T00:00:00"}, "from"),
        ("dashboard", {"from": z(D), "to": "2030-01-01T00:00:00"}, "to"),
        ("dashboard", {"from": "2014-12-31T23:59:59Z"}, "from"),
        ("dashboard", {"from": "yesterday"}, "from"),
        ("members", {"pageSize": 101}, "pageSize"),
        ("members", {"page": 0}, "page"),
        ("members", {"sortBy": "name"}, "sortBy"),
        ("members", {"sortOrder": "up"}, "sortOrder"),
        ("members", {"minMessages": -1}, "minMessages"),
        ("members", {"activeOnly": "perhaps"}, "activeOnly"),
        ("members/9x", {}, "userId"),
        ("leaderboard", {"limit": 101}, "limit"),
        ("leaderboard", {"category": "karma"}, "category"),
        ("activity", {"granularity": "minute"}, "granularity"),
        ("activity", {"granularity": "hour", "from": z(TOO_LONG[0]), "to": z(TOO_LONG[1])},
         "granularity"),
    ],
)  # fmt: skip
def test_bad_parameters_are_422_naming_them(
    stored: None, client: TestClient, db: psycopg.Connection, path: str, params: dict, param: str
) -> None:
    key = create_key(db, scope="read", guild_ids=[GUILD])[1]
    response = get_stats(client, key, path, **params)
    assert response.status_code == 422, response.text[:300]
    locations = [error["loc"] for error in response.json()["detail"]]
    assert locations == [["path" if param == "userId" else "query", param]]


def test_the_openapi_page_describes_parameters_and_fields(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    dashboard = spec["paths"]["/v1/guilds/{guildId}/stats/dashboard"]["get"]
    described = {p["name"]: p.get("description") for p in dashboard["parameters"]}
    assert set(described) == {"guildId", "period", "from", "to", "tz"}
    assert all(described[name] for name in ("period", "from", "to", "tz"))
    fields = spec["components"]["schemas"]["Dashboard"]["properties"]
    assert "messagesChange" in fields and "topMembers" in fields
    assert fields["messagesChange"]["description"].startswith("percent change")
    members = spec["paths"]["/v1/guilds/{guildId}/stats/members"]["get"]["parameters"]
    page_size = next(p for p in members if p["name"] == "pageSize")
    assert page_size["schema"]["maximum"] == 100


def test_a_read_sees_only_its_guild_even_where_a_query_forgets_the_filter(
    stored: None, db: psycopg.Connection, database_url: str
) -> None:
    settings = Settings(database_url=database_url, redis_url="redis://127.0.0.1:1/0")
    assert db.execute("SELECT count(DISTINCT guild_id) FROM events").fetchone() == (2,)
    with psycopg.connect(database_url, autocommit=True) as conn:
        answerer = StatsResponder(GUILD, conn, RedisGate.from_url(settings.redis_url), settings)
        with answerer.snapshot():
            # No guild in the WHERE clause: row-level security keeps the other guild out.
            assert conn.execute("SELECT DISTINCT guild_id FROM events").fetchall() == [(GUILD,)]
            assert conn.execute(
                "SELECT count(*) FROM member_blocks WHERE guild_id <> %s", (GUILD,)
            ).fetchone() == (0,)
