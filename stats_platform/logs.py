"""Structured logs: structlog and the standard library share one pipeline and one renderer."""

from __future__ import annotations

import logging
from typing import Any

import structlog


def _drop_color_message(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # uvicorn repeats every message with terminal colour codes as an extra.
    event_dict.pop("color_message", None)
    return event_dict


_SHARED: list[Any] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    _drop_color_message,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_structlog() -> None:
    """Route structlog through the standard library, so every handler (pytest's included) sees it."""
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, structlog.stdlib.render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def configure_logging(*, json_logs: bool = False, level: int = logging.INFO) -> None:
    """The process-wide setup for commands and servers: one handler on the root logger."""
    configure_structlog()
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(json_logs=json_logs))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)


def formatter(*, json_logs: bool) -> logging.Formatter:
    """key=value or JSON lines; a record's exception is rendered as its traceback."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_logs
        else structlog.processors.KeyValueRenderer(
            key_order=["timestamp", "level", "logger", "event"]
        )
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Without it an exception is printed as the repr of its exc_info tuple.
            structlog.processors.dict_tracebacks
            if json_logs
            else structlog.processors.format_exc_info,
            renderer,
        ],
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
