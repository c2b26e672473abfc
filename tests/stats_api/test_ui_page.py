"""The dashboard page (/ui/guilds/{guildId}) in headless Chromium against a served API.

The page is the API's reference client: every number it shows must be the number the JSON
answers give for the same parameters. Screenshots go to tests/output/ui/ (ignored by git).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect
from stats_testkit import MIN, join, leave, msg, random_guild, react, voice

from stats_platform.storage.api_keys import create_key
from stats_platform.storage.database import create_database_if_missing, drop_database, with_database
from tests.testkit.api import PROJECT_ROOT, free_port, wait_ready
from tests.testkit.browser import chromium, new_page, screenshot

BROWSER_ZONE = "America/New_York"
# The apps' Redis database, next to the test one, as tests/conftest.py's redis_url picks it.
_TEST_REDIS = urlsplit(os.environ.get("STATS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
_TEST_DB = int(_TEST_REDIS.path.strip("/") or 0)
APP_REDIS_URL = _TEST_REDIS._replace(path=f"/{_TEST_DB - 1 if _TEST_DB else 1}").geturl()
LIVE_MODES = re.compile(r"^(live|updating every 5 s)$")
CARDS = ("totalMessages", "totalVoiceMinutes", "totalReactions", "uniqueActiveUsers",
         "newMembers", "leftMembers")  # fmt: skip
CHANGES = ("messagesChange", "voiceMinutesChange", "reactionsChange", "activeUsersChange")


@dataclass(frozen=True)
class Served:
    """A served API holding the seeded guilds, with a read key for both and an ingest key."""

    url: str
    read_key: str
    ingest_key: str
    guild: str
    other_guild: str

    def stats(self, guild: str, path: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.url}/v1/guilds/{guild}/stats/{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.read_key}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    def send(self, events: list[dict]) -> None:
        response = httpx.post(
            f"{self.url}/v1/events",
            json=events,
            headers={"Authorization": f"Bearer {self.ingest_key}"},
        )
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == len(events), response.text

    def page_url(self, guild: str) -> str:
        return f"{self.url}/ui/guilds/{guild}"


def seeded_events(now: datetime, guild: str, other: str) -> list[dict]:
    """Members 1001..1014 write 1..14 messages two days ago (105); 1001 writes one more today
    and 53 ten days ago (the previous week); 1001 gives 1002 six reactions; 1003 spends 25
    minutes in voice; 1012-1014 join and 1011 leaves. In `other`, 2001 is in voice now."""
    two_days = (now - timedelta(days=2)).replace(microsecond=0)
    utc_midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = now - min(MIN, (now - utc_midnight) / 2)
    ten_days = two_days - timedelta(days=8)
    events = [
        msg(two_days + k * MIN + timedelta(seconds=j), str(1000 + k), guild)
        for k in range(1, 15)
        for j in range(k)
    ]
    events.append(msg(today, "1001", guild))
    events += [msg(ten_days + timedelta(seconds=j), "1001", guild) for j in range(53)]
    events += [
        react(two_days + 30 * MIN + timedelta(seconds=j), "1001", "1002", guild) for j in range(6)
    ]
    events += [
        voice(two_days + 60 * MIN, "1003", "700", guild),
        voice(two_days + 85 * MIN, "1003", None, guild),
    ]
    events += [join(two_days, user, guild) for user in ("1012", "1013", "1014")]
    events.append(leave(two_days + 120 * MIN, "1011", guild))
    events.append(voice(now - 5 * MIN, "2001", "777", other))
    return events


@pytest.fixture(scope="module")
def api(database_url: str) -> Iterator[str]:
    """One API served for the module (`stats-platform serve`); each test seeds guilds of its own."""
    url = with_database(database_url, f"stats_test_{uuid.uuid4().hex[:10]}")
    port = free_port()
    env = {
        **os.environ,
        "STATS_DATABASE_URL": url,
        "STATS_REDIS_URL": APP_REDIS_URL,
        "STATS_AUTH": "on",
    }
    command = [sys.executable, "-m", "stats_platform.tools.cli", "serve", "--port", str(port)]
    create_database_if_missing(url)
    server = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz")
        yield f"http://127.0.0.1:{port}", url
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
        drop_database(url)


@pytest.fixture
def served(api: tuple[str, str]) -> Served:
    url, database = api
    guild, other = random_guild(), random_guild()
    with psycopg.connect(database, autocommit=True) as conn:
        read_key = create_key(conn, scope="read", guild_ids=[guild, other], name="page")[1]
        ingest_key = create_key(conn, scope="ingest", guild_ids=[guild, other])[1]
    served = Served(url, read_key, ingest_key, guild, other)
    served.send(seeded_events(datetime.now(UTC), guild, other))
    return served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def enter_key(page: Page, served: Served) -> None:
    page.goto(served.page_url(served.guild))
    expect(page.get_by_test_id("key-form")).to_be_visible()
    page.get_by_label("Read key").fill(served.read_key)
    page.get_by_role("button", name="Show stats").click()


def shown(page: Page, selector: str) -> None:
    """Waits until the section answered for these data-* settings is on the page."""
    expect(page.locator(selector)).to_have_count(1)


def cards_on_page(page: Page) -> dict[str, str]:
    names = [f"card-{n}" for n in CARDS] + [f"change-{n}" for n in CHANGES]
    return {name: page.get_by_test_id(name).inner_text() for name in names}


def cards_of(answer: dict[str, Any]) -> dict[str, str]:
    """How the page writes an answer's cards: the number, and the change as +n% / n% / —."""
    changes = {
        f"change-{n}": "—" if answer[n] is None else f"{'+' if answer[n] > 0 else ''}{answer[n]}%"
        for n in CHANGES
    }
    return {f"card-{n}": str(answer[n]) for n in CARDS} | changes


def chart_on_page(page: Page) -> dict[str, dict[str, list]]:
    traces = page.get_by_test_id("activity-chart").evaluate(
        "el => el.data.map(t => ({name: t.name, x: t.x, y: t.y}))"
    )
    return {t["name"]: {"x": t["x"], "y": t["y"]} for t in traces}


def chart_of(answer: dict[str, Any], tz: str) -> dict[str, dict[str, list]]:
    """The chart's series: bucket starts as wall-clock time in `tz`, one value per bucket."""
    zone = ZoneInfo(tz)
    x = [
        datetime.fromisoformat(p["timestamp"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        for p in answer["dataPoints"]
    ]
    fields = {"messages": "totalMessages", "reactions": "totalReactions",
              "active users": "uniqueActiveUsers", "voice minutes": "totalVoiceMinutes"}  # fmt: skip
    return {name: {"x": x, "y": [p[f] for p in answer["dataPoints"]]} for name, f in fields.items()}


def rows(page: Page, table: str, cells: tuple[str, ...]) -> list[tuple[str, ...]]:
    found = page.get_by_test_id(table).locator("tbody tr").all()
    return [tuple(row.get_by_test_id(c).inner_text() for c in cells) for row in found]


def test_page_shows_the_answers_numbers_and_follows_period_and_time_zone(
    served: Served, browser: Browser
) -> None:
    with new_page(browser, timezone_id=BROWSER_ZONE) as page:
        enter_key(page, served)
        shown(page, f'[data-testid=cards][data-period=week][data-tz="{BROWSER_ZONE}"]')
        assert page.evaluate("Object.keys(localStorage)") == []
        assert page.evaluate("sessionStorage.getItem('stats.readKey')") == served.read_key

        week = served.stats(served.guild, "dashboard", period="week", tz=BROWSER_ZONE)
        assert (
            cards_on_page(page)
            == cards_of(week)
            == {
                "card-totalMessages": "106",  # 1 + 2 + ... + 14, and 1001's message today
                "card-totalVoiceMinutes": "25",
                "card-totalReactions": "6",
                "card-uniqueActiveUsers": "14",
                "card-newMembers": "3",
                "card-leftMembers": "1",
                "change-messagesChange": "+100%",  # 53 the week before
                "change-voiceMinutesChange": "—",  # none the week before
                "change-reactionsChange": "—",
                "change-activeUsersChange": "+1300%",  # 1001 alone the week before
            }
        )
        assert page.get_by_test_id("period-start").get_attribute("datetime") == week["periodStart"]

        shown(
            page,
            f'[data-testid=activity-chart][data-period=week][data-granularity=day][data-tz="{BROWSER_ZONE}"]',
        )
        activity = served.stats(
            served.guild, "activity", period="week", tz=BROWSER_ZONE, granularity="day"
        )
        assert chart_on_page(page) == chart_of(activity, BROWSER_ZONE)
        assert sum(chart_on_page(page)["messages"]["y"]) == 106

        shown(page, "[data-testid=leaderboard][data-period=week][data-category=messages]")
        board = served.stats(served.guild, "leaderboard", period="week", tz=BROWSER_ZONE)
        cells = ("lb-rank", "lb-user", "lb-score")
        assert rows(page, "leaderboard", cells)[:4] == [
            ("1 (gold)", "1014", "14"), ("2 (silver)", "1013", "13"),
            ("3 (bronze)", "1012", "12"), ("4", "1011", "11"),
        ]  # fmt: skip
        assert [r[1:] for r in rows(page, "leaderboard", cells)] == [
            (e["userId"], str(e["score"])) for e in board["entries"]
        ]
        screenshot(page, "ui", "week")

        page.get_by_test_id("period").select_option("today")
        page.get_by_test_id("granularity").select_option("hour")
        page.get_by_test_id("tz").fill("Asia/Kolkata")
        page.get_by_test_id("tz").press("Enter")
        shown(page, '[data-testid=cards][data-period=today][data-tz="Asia/Kolkata"]')
        today = served.stats(served.guild, "dashboard", period="today", tz="Asia/Kolkata")
        assert cards_on_page(page) == cards_of(today)
        shown(
            page,
            '[data-testid=activity-chart][data-period=today][data-granularity=hour][data-tz="Asia/Kolkata"]',
        )
        hourly = served.stats(
            served.guild, "activity", period="today", tz="Asia/Kolkata", granularity="hour"
        )
        assert chart_on_page(page) == chart_of(hourly, "Asia/Kolkata")
        assert chart_on_page(page)["messages"]["x"][0].endswith(" 00:00")  # local midnight
        screenshot(page, "ui", "today-kolkata")


def test_member_pages_and_sorting_follow_the_members_answer(
    served: Served, browser: Browser
) -> None:
    with new_page(browser) as page:
        enter_key(page, served)
        shown(
            page,
            "[data-testid=members][data-page='1'][data-sort-by=messages][data-sort-order=desc]",
        )
        cells = ("m-user", "m-messages")
        assert rows(page, "members", cells)[:2] == [("1001", "55"), ("1014", "14")]
        expect(page.get_by_test_id("page-info")).to_have_text("Page 1 of 2 · 14 members")

        page.get_by_test_id("next-page").click()
        shown(page, "[data-testid=members][data-page='2']")
        second = served.stats(served.guild, "members", page=2, pageSize=10)
        assert (
            rows(page, "members", cells)
            == [(m["userId"], str(m["totalMessages"])) for m in second["members"]]
            == [("1005", "5"), ("1004", "4"), ("1003", "3"), ("1002", "2")]
        )
        expect(page.get_by_test_id("page-info")).to_have_text("Page 2 of 2 · 14 members")
        expect(page.get_by_test_id("next-page")).to_be_disabled()

        page.get_by_test_id("sort-order").select_option("asc")
        shown(page, "[data-testid=members][data-page='1'][data-sort-order=asc]")
        ascending = served.stats(served.guild, "members", page=1, pageSize=10, sortOrder="asc")
        assert [r[0] for r in rows(page, "members", cells)] == [
            m["userId"] for m in ascending["members"]
        ]
        assert rows(page, "members", cells)[0] == ("1002", "2")
        screenshot(page, "ui", "members")


def test_card_follows_an_event_ingested_after_the_page_opened(
    served: Served, browser: Browser
) -> None:
    with new_page(browser) as page:
        enter_key(page, served)
        expect(page.get_by_test_id("card-totalMessages")).to_have_text("106")
        # Polling until the live stream exists; either way the card must follow.
        expect(page.get_by_test_id("live-status")).to_have_text(LIVE_MODES)
        served.send([msg(datetime.now(UTC) - timedelta(seconds=1), "1005", served.guild)])
        expect(page.get_by_test_id("card-totalMessages")).to_have_text("107", timeout=30_000)
        assert served.stats(served.guild, "dashboard", period="week")["totalMessages"] == 107
        screenshot(page, "ui", "after-ingest")


def test_live_voice_lists_who_is_in_voice_and_the_key_outlives_navigation(
    served: Served, browser: Browser
) -> None:
    with new_page(browser) as page:
        enter_key(page, served)
        shown(page, "[data-testid=cards][data-period=week]")
        page.goto(served.page_url(served.other_guild))
        expect(page.get_by_test_id("key-form")).to_be_hidden()
        live = served.stats(served.other_guild, "voice/live")
        channel = page.locator("[data-testid=voice-channel][data-channel-id='777']")
        expect(channel.get_by_test_id("voice-member")).to_have_text(["2001"])
        assert (
            channel.locator("time").get_attribute("datetime")
            == live["channels"][0]["members"][0]["since"]
        )
        assert [c["channelId"] for c in live["channels"]] == ["777"]
        screenshot(page, "ui", "voice")
