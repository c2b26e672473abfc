"""Markdown for stdout and one `## Section` of a benchmarks document replaced in place.

Every family's CLI is the same: `--size quick|full` picks the sizes, and the section goes to
docs/benchmarks.md only at the full size; a quick run writes its section to a scratch copy
(`benchmarks/out/benchmarks-quick.md`) so quick figures never overwrite the recorded ones.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

import typer

from stats_platform.settings import PROJECT_ROOT

BENCHMARKS_DOC = PROJECT_ROOT / "docs" / "benchmarks.md"
QUICK_DOC = PROJECT_ROOT / "benchmarks" / "out" / "benchmarks-quick.md"
DOC_HEADER = (
    "# Benchmarks\n\n"
    "Figures from `benchmarks/` on the machine named in each section. They are measurements, "
    "not promises: rerun the command shown to refresh a section (it replaces only its own).\n"
)


class Size(StrEnum):
    quick = "quick"
    full = "full"


SizeOption = typer.Option(Size.quick, help="quick: minutes on 2 cores; full: the recorded sizes")
DocOption = typer.Option(
    None, help="document to refresh (default: docs/benchmarks.md at full size, else a scratch copy)"
)


def doc_path(size: Size, doc: Path | None) -> Path:
    return doc or (BENCHMARKS_DOC if size is Size.full else QUICK_DOC)


def command(module: str) -> str:
    """The command line that reproduces this run, as the section shows it."""
    return f".venv/bin/python -m {module} {shlex.join(sys.argv[1:])}".strip()


def table(
    header: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()
) -> str:
    """A GitHub-flavoured markdown table padded to line up in a terminal too."""
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        padded = (
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + ":" if i in right else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def seconds(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def rate(events: int, spent: float) -> str:
    per_s = events / spent if spent else 0.0
    return f"{per_s / 1e6:.2f} M/s" if per_s >= 1e6 else f"{per_s / 1e3:,.0f} k/s"


def publish(heading: str, body: str, path: Path) -> None:
    """Prints the section and writes `## heading` + body into `path`, replacing only that section."""
    print(body)
    marker = f"## {heading}"
    section = f"{marker}\n\n{body.strip()}\n"
    text = path.read_text() if path.exists() else DOC_HEADER
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip() == marker), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + section
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        after = "".join(lines[end:])
        new = "".join(lines[:start]) + section + ("\n" + after if after else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)
    print(f"\nwrote the {heading} section of {path}")
