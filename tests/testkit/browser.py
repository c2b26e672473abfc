"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for the page tests.

Playwright's own browser downloads are never used: the machines may have no internet, and the
Debian package is what .ci/run installs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from tests.testkit.api import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# Ignored by git: the screenshots of the last run, one folder per test module.
SCREENSHOTS = PROJECT_ROOT / "tests" / "output"


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser: Browser, *, timezone_id: str = "UTC") -> Iterator[Page]:
    """A page of a fresh browser context (own storage) whose clock is in `timezone_id`; an
    uncaught script error fails the test."""
    errors: list[str] = []
    context = browser.new_context(
        timezone_id=timezone_id, locale="en-US", viewport={"width": 1280, "height": 1000}
    )
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
    finally:
        context.close()
    assert errors == [], errors


def screenshot(page: Page, folder: str, name: str) -> Path:
    """The whole page as tests/output/<folder>/<name>.png."""
    path = SCREENSHOTS / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
