"""GET /ui/ and /ui/guilds/{guildId}: the dashboard page, its script, its style and its chart library.

The page reads only the public stats API, from the browser, with the read key the person types
in. The server fills in nothing about a guild: the choices it offers (periods, granularities,
categories, sort keys) come from the API's own declarations, so they cannot drift from what
the API accepts.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path as FilePath
from typing import Annotated, Any, get_args

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import FileResponse, HTMLResponse

from stats_api import figures, periods
from stats_api.schemas import SNOWFLAKE_PATTERN

router = APIRouter(prefix="/ui", tags=["ui"], include_in_schema=False)
STATIC = FilePath(__file__).parent / "static"
# The page's script needs no eval; Plotly writes its own <style> and style attributes.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
ASSETS = {
    "dashboard.js": (STATIC / "dashboard.js", "text/javascript"),
    "sse.js": (STATIC / "sse.js", "text/javascript"),
    "dashboard.css": (STATIC / "dashboard.css", "text/css"),
    "plotly.min.js": (
        FilePath(str(files("plotly") / "package_data" / "plotly.min.js")),
        "text/javascript",
    ),
}
LABELS = {"lastSeen": "last seen", "overall": "overall", "voice": "voice minutes"}
CHOICES: dict[str, tuple[Any, Any]] = {
    "period_options": (periods.Period, "week"),
    "granularity_options": (periods.Granularity, "day"),
    "category_options": (figures.Category, "messages"),
    "sort_options": (figures.SortBy, "messages"),
}


@router.get("/", response_class=HTMLResponse)
def ask_for_guild() -> HTMLResponse:
    """A form asking for a guild id; it opens /ui/guilds/{guildId}."""
    return HTMLResponse(_page("index.html"), headers=HEADERS)


@router.get("/guilds/{guildId}", response_class=HTMLResponse)
def guild_page(
    guild_id: Annotated[str, Path(alias="guildId", pattern=SNOWFLAKE_PATTERN)],
) -> HTMLResponse:
    """The dashboard of one guild; the script reads the guild id from the address."""
    return HTMLResponse(_page("guild.html"), headers=HEADERS)


@router.get("/static/{name}")
def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, "no such file")
    path, media_type = ASSETS[name]
    return FileResponse(path, media_type=media_type, headers=HEADERS)


@cache
def _page(name: str) -> str:
    html = (STATIC / name).read_text(encoding="utf-8")
    for placeholder, (choices, default) in CHOICES.items():
        html = html.replace("{{" + placeholder + "}}", _options(get_args(choices), default))
    return html


def _options(values: tuple[str, ...], default: str) -> str:
    return "".join(
        f'<option value="{v}"{" selected" if v == default else ""}>{LABELS.get(v, v)}</option>'
        for v in values
    )
