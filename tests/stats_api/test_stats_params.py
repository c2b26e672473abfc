"""Out-of-range parameters are 422 naming the parameter and its rule, never a 500."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from stats_testkit import fixed_events, get_stats, midnight

from stats_platform.storage.api_keys import create_key

PERIOD_PATHS = ["dashboard", "leaderboard", "activity", "members/9"]


@pytest.fixture
def read_key(post: Callable[..., httpx.Response], db: psycopg.Connection) -> str:
    assert post(fixed_events(midnight(10))).status_code == 202
    return create_key(db, scope="read", all_guilds=True)[1]


def problem(response: httpx.Response) -> tuple[list[str], str]:
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    return error["loc"], error["msg"]


@pytest.mark.parametrize(
    ("params", "loc", "msg"),
    [
        ({"page": "9223372036854775808"}, "page", "less than or equal to 1000000000"),
        (
            {"page": "92233720368547760", "pageSize": "100"},
            "page",
            "less than or equal to 1000000000",
        ),
        (
            {"minMessages": "18446744073709551616"},
            "minMessages",
            "less than or equal to 1000000000000000",
        ),
        (
            {"minVoiceMinutes": "1065840049511664555141071816733229056"},
            "minVoiceMinutes",
            "less than or equal to 10000000000000",
        ),
        ({"pageSize": "101"}, "pageSize", "less than or equal to 100"),
        ({"page": "0"}, "page", "greater than or equal to 1"),
    ],
)
def test_members_integers_out_of_range_are_422(
    client: TestClient, read_key: str, params: dict[str, str], loc: str, msg: str
) -> None:
    where, message = problem(get_stats(client, read_key, "members", **params))
    assert where == ["query", loc]
    assert message == f"Input should be {msg}"


def test_the_largest_page_allowed_is_an_empty_page(client: TestClient, read_key: str) -> None:
    body = get_stats(client, read_key, "members", page="1000000000", pageSize="100").json()
    assert body["members"] == []
    assert body["pagination"] == {"total": 4, "page": 1000000000, "pageSize": 100, "totalPages": 1}


@pytest.mark.parametrize("path", PERIOD_PATHS)
@pytest.mark.parametrize("zone", ["America", "Europe", "Etc"])
def test_a_zone_folder_is_not_a_zone(
    client: TestClient, read_key: str, path: str, zone: str
) -> None:
    assert problem(get_stats(client, read_key, path, tz=zone)) == (
        ["query", "tz"],
        f"Value error, unknown IANA time zone {zone!r}",
    )


@pytest.mark.parametrize("path", PERIOD_PATHS)
def test_a_zone_of_256_characters_is_422(client: TestClient, read_key: str, path: str) -> None:
    assert problem(get_stats(client, read_key, path, tz="A" * 256)) == (
        ["query", "tz"],
        "String should have at most 64 characters",
    )


@pytest.mark.parametrize("path", PERIOD_PATHS)
def test_a_zone_with_dots_or_nul_is_422(client: TestClient, read_key: str, path: str) -> None:
    for zone in ["../../etc/passwd", "Europe/\x00Berlin"]:
        where, message = problem(get_stats(client, read_key, path, tz=zone))
        assert where == ["query", "tz"]
        assert message.startswith("String should match pattern")


def test_leaderboard_limit_is_bounded(client: TestClient, read_key: str) -> None:
    assert problem(get_stats(client, read_key, "leaderboard", limit="18446744073709551616")) == (
        ["query", "limit"],
        "Input should be less than or equal to 100",
    )


def test_openapi_documents_every_bound(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    members = document["paths"]["/v1/guilds/{guildId}/stats/members"]["get"]["parameters"]
    schema = {p["name"]: p["schema"] for p in members}
    assert schema["page"] == {
        "type": "integer", "maximum": 1000000000, "minimum": 1, "default": 1,
        "description": "from 1; a page past the last is empty", "examples": [1], "title": "Page",
    }  # fmt: skip
    assert schema["pageSize"]["maximum"] == 100
    assert schema["minMessages"]["anyOf"][0] == {
        "type": "integer", "maximum": 10**15, "minimum": 0,
    }  # fmt: skip
    assert schema["minVoiceMinutes"]["anyOf"][0]["maximum"] == 10**13
    dashboard = document["paths"]["/v1/guilds/{guildId}/stats/dashboard"]["get"]["parameters"]
    tz = next(p["schema"] for p in dashboard if p["name"] == "tz")
    assert (tz["maxLength"], tz["minLength"]) == (64, 1)
    assert tz["pattern"] == r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$"


def test_openapi_declares_both_ways_to_send_a_key(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "bearer": {
            "type": "http", "scheme": "bearer",
            "description": "`Authorization: Bearer sp_<key_id>_<secret>`",
        },
        "apiKey": {
            "type": "apiKey", "in": "header", "name": "X-API-Key",
            "description": "`X-API-Key: sp_<key_id>_<secret>`, instead of Authorization",
        },
    }  # fmt: skip
    keyed = {
        (path, method): operation.get("security")
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if path.startswith("/v1/")
    }
    assert len(keyed) == 8  # events, the six stats endpoints and the live stream
    assert set(map(str, keyed.values())) == {str([{"bearer": []}, {"apiKey": []}])}
    for probe in ("/healthz", "/readyz"):
        assert "security" not in document["paths"][probe]["get"]
