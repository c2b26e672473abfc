"""Where the time goes: nested phase timers in process, cProfile, and py-spy's stacks of a server.

`PhaseClock` wraps named functions of a module with timers that nest, so each phase shows its
own time without its timed children. py-spy is recorded with `--idle`, so a handler thread
blocked on PostgreSQL is sampled too: the shares are of wall time in the route, not only of
CPU. A thread waiting for the GIL looks busy.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*):(?P<line>\d+)\)$")
ROUTE = "post_events"
STORE_STEP = "EventStore._store_once"
WAITS = ("Connection.wait", "Cursor.wait", "wait_c", "Condition.wait")


class PhaseClock:
    """Exclusive wall time per path of nested phases (`rollup rows > COPY ...`)."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []  # [path, started, children's time]
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            path = f"{self.stack[-1][0]} > {label}" if self.stack else label
            self.stack.append([path, time.perf_counter(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                _, started, children = self.stack.pop()
                spent = time.perf_counter() - started
                self.seconds[path] += spent - children
                self.calls[path] += 1
                if self.stack:
                    self.stack[-1][2] += spent

        return timed

    @contextlib.contextmanager
    def installed(self, phases: list[tuple[Any, str, str]]) -> Iterator[None]:
        """Each (module, function name, label) timed while inside; the originals back after."""
        originals = [(module, name, getattr(module, name)) for module, name, _ in phases]
        for (module, name, label), (_, _, fn) in zip(phases, originals, strict=True):
            setattr(module, name, self.wrap(label, fn))
        try:
            yield
        finally:
            for module, name, fn in originals:
                setattr(module, name, fn)


def cprofile_to(out: Path, fn: Callable[[], Any], *, top: int = 40) -> None:
    """One call of `fn` under cProfile, its top functions by cumulative time written to `out`."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
    out.write_text(text.getvalue())


def record_command(py_spy: str, out: Path, *, rate: int = 200) -> list[str]:
    """The py-spy prefix that records the command following it."""
    return [
        py_spy, "record", "--idle", "--full-filenames", "--nonblocking",
        "-r", str(rate), "-f", "raw", "-o", str(out), "--",
    ]  # fmt: skip


@dataclass
class StackSummary:
    route: Counter[str] = field(default_factory=Counter)
    loop_busy: Counter[str] = field(default_factory=Counter)
    loop_idle: int = 0

    @property
    def route_total(self) -> int:
        return sum(self.route.values())


def summarize(raw: Path) -> StackSummary:
    summary = StackSummary()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_parse(f) for f in stack.split(";")]
        names = [f[0] for f in frames]
        n = int(count)
        if ROUTE in names:
            summary.route[_route_label(frames, names)] += n
        elif "threading.py" in frames[0][1] or any("importlib" in f[1] for f in frames):
            continue  # idle worker threads, pool housekeeping, start-up imports
        elif names[-1] == "Runner.run":
            summary.loop_idle += n  # inside uvloop: waiting on sockets or C-level I/O
        else:
            summary.loop_busy[_package(frames[-1][1])] += n
    return summary


def _route_label(frames: list[tuple[str, str, int]], names: list[str]) -> str:
    waiting = " [waiting on PostgreSQL]" if any(w in names[-1] for w in WAITS) else ""
    if STORE_STEP in names:
        i = names.index(STORE_STEP)
        _, file, line = frames[i]
        return f"store: {_source(file, line)}{waiting}"
    i = names.index(ROUTE)
    if i + 1 < len(frames):
        return f"{names[i + 1]}{waiting}"
    return f"{ROUTE} itself"


def _parse(frame: str) -> tuple[str, str, int]:
    m = FRAME.match(frame)
    if not m:
        return frame, "", 0
    return m["func"], m["file"], int(m["line"])


@cache
def _source(file: str, line: int) -> str:
    try:
        text = Path(file).read_text().splitlines()[line - 1].strip()
    except (OSError, IndexError):
        text = "?"
    return f"{Path(file).name}:{line} {text[:70]}"


def _package(file: str) -> str:
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/stats_api/" in file:
        return "stats_api"
    return "python stdlib"
