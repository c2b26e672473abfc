"""Reading a text/event-stream answer block by block, as a browser's fetch() reader would."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import orjson


@dataclass
class Block:
    """One block of the stream (lines up to a blank line)."""

    event: str | None = None
    id: str | None = None
    data: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    def json(self) -> dict:
        assert self.data is not None
        return orjson.loads(self.data)  # type: ignore[no-any-return]


class EventReader:
    def __init__(self, response: httpx.Response) -> None:
        self._lines: Iterator[str] = response.iter_lines()

    def block(self) -> Block:
        block, seen = Block(), False
        for line in self._lines:
            if not line:
                if seen:
                    return block
                continue
            seen = True
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                block.comments.append(value)
            elif name == "data":
                block.data = value if block.data is None else f"{block.data}\n{value}"
            elif name == "retry":
                block.retry = int(value)
            elif name in ("event", "id"):
                setattr(block, name, value)
        raise EOFError("the stream ended")

    def event(self) -> Block:
        """The next block that carries an event, skipping comments and hints."""
        while True:
            block = self.block()
            if block.event is not None or block.data is not None:
                return block
