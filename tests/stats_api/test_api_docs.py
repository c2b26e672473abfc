"""/docs and /redoc work offline: every asset they name is served by the API itself."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_doc_pages_reference_only_local_assets_that_answer(
    client: TestClient, page: str, assets: set[str]
) -> None:
    html = client.get(page)
    assert html.status_code == 200
    assert "http://" not in html.text and "https://" not in html.text
    urls = ASSET.findall(html.text)
    assert {url.rsplit("/", 1)[1] for url in urls} == assets
    for url in urls:
        assert url.startswith("/docs-assets/"), url
        asset = client.get(url)
        kind = CONTENT_TYPES[url[url.rindex(".") :]]
        assert (asset.status_code, kind in asset.headers["content-type"]) == (200, True), url
        assert len(asset.content) > 1000, url
    assert "/openapi.json" in html.text


def test_openapi_names_both_key_headers_on_every_keyed_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    # The schemes themselves: test_stats_params.py::test_openapi_declares_both_ways_to_send_a_key.
    keyed = {
        (path, method): operation.get("security")
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    for (path, _), security in keyed.items():
        expected = [{"bearer": []}, {"apiKey": []}] if path.startswith("/v1/") else None
        assert security == expected, path
    assert ("/v1/guilds/{guildId}/stats/live", "get") in keyed
    body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert [e["type"] for e in body["example"]] == ["MESSAGE_CREATE", "MESSAGE_REACTION_ADD"]
