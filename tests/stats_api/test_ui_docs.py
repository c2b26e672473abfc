"""/docs in headless Chromium: Swagger UI renders every operation of the OpenAPI document.

This machine (and CI) may have no internet, so the page passes only once /docs is served
offline; while it loads Swagger UI from a CDN, the operations never render and this fails.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import expect

from tests.testkit.api import Api
from tests.testkit.browser import chromium, new_page, screenshot

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def test_docs_page_renders_every_operation(start_api: Callable[..., Api]) -> None:
    api = start_api(auth="on")
    document = httpx.get(f"{api.url}/openapi.json").json()
    operations = sorted(
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    )
    assert ("POST", "/v1/events") in operations
    assert ("GET", "/v1/guilds/{guildId}/stats/dashboard") in operations
    with chromium() as browser, new_page(browser) as page:
        # Not waiting for "load": a page whose scripts never arrive would hold it up.
        page.goto(f"{api.url}/docs", wait_until="commit")
        blocks = page.locator(".opblock")
        expect(blocks).to_have_count(len(operations), timeout=10_000)
        shown = sorted(
            (
                block.locator(".opblock-summary-method").inner_text().strip(),
                block.locator(".opblock-summary-path").get_attribute("data-path") or "",
            )
            for block in blocks.all()
        )
        screenshot(page, "docs", "swagger")
    assert shown == operations
