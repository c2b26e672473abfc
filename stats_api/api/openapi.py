"""The API's documentation: /docs and /redoc served offline, and the OpenAPI document's keys.

Swagger UI's and ReDoc's scripts and stylesheet come from the `fastapi-offline` package's files
(mounted at ASSETS), never from a CDN, so the pages work on a machine without internet. The
OpenAPI document names the two ways to send a key (declared by api.deps), so "Authorize" in
/docs makes "Try it out" send it, and carries an example batch for POST /v1/events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
EVENTS_EXAMPLE = [
    {
        "id": "e1",
        "type": "MESSAGE_CREATE",
        "guildId": "81384788765712384",
        "userId": "80351110224678912",
        "channelId": "41771983444115456",
        "timestamp": 1767225600000,
    },
    {
        "id": "e2",
        "type": "MESSAGE_REACTION_ADD",
        "guildId": "81384788765712384",
        "userId": "80351110224678913",
        "timestamp": "2026-01-01T00:00:05.000Z",
        "data": {"messageAuthorId": "80351110224678912"},
    },
]


def install_docs(app: FastAPI) -> None:
    """/docs, /redoc and their assets; create the app with docs_url=None, redoc_url=None."""
    app.mount(ASSETS, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + redirect_url,
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get(redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document (the key schemes come from the routes' key dependencies, api.deps)
    plus an example batch for POST /v1/events."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    events = document.get("paths", {}).get("/v1/events", {}).get("post")
    if events is not None:
        content = events.setdefault("requestBody", {}).setdefault("content", {})
        content.setdefault("application/json", {})["example"] = EVENTS_EXAMPLE
    app.openapi_schema = document
    return document
