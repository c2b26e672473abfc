"""The page's routes: its HTML, its files and the chart library, none of them in the OpenAPI page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.testkit.api import GUILD


def test_guild_page_offers_the_apis_choices_under_a_strict_policy(client: TestClient) -> None:
    page = client.get(f"/ui/guilds/{GUILD}")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "{{" not in page.text
    assert (
        '<option value="today">today</option><option value="week" selected>week</option>'
        '<option value="month">month</option><option value="all">all</option>'
    ) in page.text
    assert (
        '<option value="hour">hour</option><option value="day" selected>day</option>' in page.text
    )
    assert '<option value="overall">overall</option>' in page.text
    assert '<option value="lastSeen">last seen</option>' in page.text
    assert 'src="/ui/static/plotly.min.js"' in page.text


def test_index_asks_for_a_guild_and_bad_guild_ids_are_refused(client: TestClient) -> None:
    assert 'id="guild-form"' in client.get("/ui/").text
    assert client.get("/ui/guilds/not-a-guild").status_code == 422
    assert client.get("/ui/guilds/123456789012345678901").status_code == 422


def test_scripts_styles_and_chart_library_are_served_locally(client: TestClient) -> None:
    plotly = client.get("/ui/static/plotly.min.js")
    assert plotly.status_code == 200
    assert plotly.headers["content-type"].startswith("text/javascript")
    assert plotly.text.startswith("/**\n* plotly.js v")
    assert (
        client.get("/ui/static/dashboard.js").headers["content-type"].startswith("text/javascript")
    )
    assert client.get("/ui/static/sse.js").status_code == 200
    assert client.get("/ui/static/dashboard.css").headers["content-type"].startswith("text/css")
    assert client.get("/ui/static/guild.html").status_code == 404
    assert client.get("/ui/static/..%2Froutes.py").status_code == 404


def test_the_page_is_not_an_operation_of_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert [p for p in paths if p.startswith("/ui")] == []
