"""The stats API benchmark as markdown, and its `## Stats API` section of docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

from benchmarks import api_profile
from benchmarks.api_load import ENDPOINTS, Cell
from benchmarks.report import replace_section, table

HEADING = "Stats API"
GOALS = {"cold": 50.0, "warm": 5.0}  # dashboard p95, ms


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def latency_table(cells: list[Cell], concurrency: int, guilds: list[str]) -> str:
    by_key = {(c.endpoint, c.guild, c.mode): c for c in cells if c.concurrency == concurrency}
    modes = ("cold", "warm", "raw SQL")
    header = ["endpoint", "guild"]
    for mode in modes:
        header += [f"{mode} p50", "p95", "p99"]
    header.append("n cold/warm/raw")
    rows = []
    for endpoint in ENDPOINTS:
        for guild in guilds:
            row = [endpoint.name, guild]
            counts = []
            for mode in modes:
                cell = by_key.get((endpoint.name, guild, mode))
                row += [_ms(cell.percentile(p)) if cell else "" for p in (50, 95, 99)]
                counts.append(str(len(cell.latencies)) if cell else "0")
            rows.append([*row, "/".join(counts)])
    return table(header, rows, right=range(2, 12))


def goal_lines(cells: list[Cell]) -> list[str]:
    lines = []
    for mode, goal in GOALS.items():
        dash = [c for c in cells if c.mode == mode and c.endpoint.startswith("dashboard")]
        for c in sorted(dash, key=lambda c: (c.concurrency, c.endpoint, c.guild)):
            p95 = c.percentile(95)
            verdict = "met" if p95 is not None and p95 < goal else "NOT met"
            lines.append(
                f"{mode} {c.endpoint}, {c.guild} guild, concurrency {c.concurrency}: p95 "
                f"{_ms(p95)} ms (goal < {goal:.0f} ms: {verdict})"
            )
    return lines


def build_lines(build: dict[str, Any], five_min_days: int) -> list[str]:
    span = build["span"]
    runs = "; ".join(
        f"{r['job']} {r['partitions']:,} partitions {r['seconds']:.0f} s"
        + ("" if r["success"] else " FAILED")
        for r in build["runs"]
    )
    return [
        f"Dataset: {build['events']:,} events from {span.oldest:%Y-%m-%d %H:%M} to "
        f"{span.newest:%Y-%m-%d %H:%M} UTC. Built in {build['total_s']:.0f} s: generate "
        f"{build['generate_s']:.0f} s, COPY {build['copy_s']:.0f} s, window_arrivals + ANALYZE "
        f"{build['arrivals_analyze_s']:.0f} s, first partial day (library calls) "
        f"{build['first_partial_day_s']:.0f} s, ANALYZE member_activity "
        f"{build['analyze_member_activity_s']:.0f} s, Dagster single-run backfills: {runs}. "
        f"5-minute rollups cover the last {five_min_days} day(s) (from "
        f"{build['five_min_from']:%Y-%m-%d %H:%M})."
    ]


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    size = report["size"]
    guilds = report["guilds"]
    cells: list[Cell] = report["cells"]
    checks = report["checks"]
    concurrencies = sorted({c.concurrency for c in cells})
    out = [
        f"Command: `.venv/bin/{report['command']}`  ",
        f"Date: {report['started']:%Y-%m-%d %H:%M} UTC; whole run {report['wall_s'] / 60:.0f} min  ",
        f"Machine: nproc {m['nproc']} ({m['cpu']}), {m['memory']} RAM, PostgreSQL {m['postgres']},"
        f" Python {m['python']}; shared and noisy, so expect ±20 % between runs.  ",
        *build_lines(report["build"], report["five_min_days"]),
        "",
        "Guilds: "
        + ", ".join(f"{g.size} `{g.guild_id}` ({g.events:,} events)" for g in guilds)
        + ". Member detail asks for each guild's member with most messages.",
        "",
        "Check, API answer = raw-SQL answer over the window the API answered for: "
        + f"{sum(c.passed for c in checks)}/{len(checks)} PASS"
        + (", FAILED: " + "; ".join(
            f"{c.guild} {c.endpoint}: {c.differences[0]}" for c in checks if not c.passed
        ) if not all(c.passed for c in checks) else "")
        + f" ({sum(c.compared for c in checks):,} values compared).",
    ]  # fmt: skip
    for concurrency in concurrencies:
        out += [
            "",
            f"Latency in ms, concurrency {concurrency} (up to {size.requests} requests per API cell,"
            f" {size.raw_requests} per raw-SQL cell, fewer when a cell's {size.cell_seconds:.0f} s"
            " budget ran out; p95 needs 20 samples and p99 100, else –):",
            "",
            latency_table(cells, concurrency, [g.size for g in guilds]),
        ]
    errors = [c for c in cells if c.errors]
    out += ["", "Goals (dashboard p95):", "", *[f"- {line}" for line in goal_lines(cells)]]
    if errors:
        out += ["", *[f"- ERRORS {c.mode} {c.guild} {c.endpoint} c{c.concurrency}: "
                      f"{len(c.errors)}, first: {c.errors[0]}" for c in errors]]  # fmt: skip
    out += ["", "Profile of the slowest cold endpoint:", "", api_profile.render(report["profile"])]
    return "\n".join(out)


def write_section(text: str) -> None:
    replace_section(HEADING, text)
