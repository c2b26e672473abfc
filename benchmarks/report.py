"""Markdown tables for stdout, and one `## Section` of docs/benchmarks.md replaced in place."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from stats_platform.settings import PROJECT_ROOT

BENCHMARKS_DOC = PROJECT_ROOT / "docs" / "benchmarks.md"
DOC_HEADER = (
    "# Benchmarks\n\n"
    "Figures from `benchmarks/` on the machine named in each section. They are measurements, "
    "not promises: rerun the command shown to refresh a section (it replaces only its own).\n"
)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A GitHub-flavoured markdown table padded to line up in a terminal too."""
    cells = [list(header), *[list(r) for r in rows]]
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
            ("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def replace_section(heading: str, body: str, path: Path = BENCHMARKS_DOC) -> None:
    """Write `## heading` + body into `path`, replacing that section only (or appending it)."""
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
