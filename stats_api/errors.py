"""The last resort: an exception no handler answered is logged with its traceback, then a 500."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stats_platform.logs import get_logger

log = get_logger("stats.api")
BODY = b'{"detail":"internal error; it is logged"}'


class LogUnhandledErrors:
    """ASGI middleware: logs the request and traceback once, and answers a JSON 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error", method=scope["method"], path=scope["path"])
            if started:
                raise
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": BODY})
