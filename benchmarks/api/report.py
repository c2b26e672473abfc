"""The stats API benchmark as markdown, and its `## Stats API` section of docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

from benchmarks.api import profile as api_profile
from benchmarks.api.load import ENDPOINTS, RAW_CONCURRENT_LIMIT_S, Cell
from benchmarks.report import table

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
                failed = f"+{len(cell.errors)} failed" if cell and cell.errors else ""
                counts.append(f"{len(cell.latencies)}{failed}" if cell else "0")
            rows.append([*row, "/".join(counts)])
    return table(header, rows, right=range(2, 12))


def goal_table(cells: list[Cell], guilds: list[str]) -> str:
    """Dashboard p95 against the goals, met (✓) or not (✗); a cell with too few answers for a
    p95 shows its p50, which misses the goal whenever it alone is over it."""
    by_key = {(c.mode, c.endpoint, c.guild, c.concurrency): c for c in cells}
    concurrencies = sorted({c.concurrency for c in cells})
    columns = [(period, n) for n in concurrencies for period in ("week", "month")]
    header = ["goal: dashboard p95", "guild", *[f"{p} c{n}" for p, n in columns]]
    rows = []
    for mode, goal in GOALS.items():
        for guild in guilds:
            row = [f"{mode} < {goal:.0f} ms", guild]
            for period, n in columns:
                cell = by_key.get((mode, f"dashboard {period}", guild, n))
                p95 = cell.percentile(95) if cell else None
                p50 = cell.percentile(50) if cell else None
                if p95 is not None:
                    row.append(f"{_ms(p95)} {'✓' if p95 < goal else '✗'}")
                elif p50 is not None and p50 >= goal:
                    row.append(f"p50 {_ms(p50)} ✗")
                else:
                    row.append("–")
            rows.append(row)
    return table(header, rows, right=range(2, 2 + len(columns)))


def goal_summary(cells: list[Cell]) -> list[str]:
    lines = []
    for mode, goal in GOALS.items():
        dash = [c for c in cells if c.mode == mode and c.endpoint.startswith("dashboard")]
        met = [c for c in dash if (c.percentile(95) or float("inf")) < goal]
        lines.append(
            f"Goal {mode} dashboard p95 < {goal:.0f} ms: met in {len(met)} of {len(dash)} cells"
            + (
                ": " + ", ".join(f"{c.guild} {c.endpoint} c{c.concurrency}" for c in met)
                if met
                else ""
            )
            + "."
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
        f"Command: `{report['command']}`  ",
        f"Date: {report['started']:%Y-%m-%d %H:%M} UTC; whole run {report['wall_s'] / 60:.0f} min;"
        f" code at commit {m['commit']}  ",
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
    out += ["", "Goals:", "", goal_table(cells, [g.size for g in guilds])]
    if errors:
        out += ["", *[f"- ERRORS {c.mode} {c.guild} {c.endpoint} c{c.concurrency}: "
                      f"{len(c.errors)}, first: {c.errors[0]}" for c in errors]]  # fmt: skip
    out += ["", "Profile of the slowest cold endpoint:", "", api_profile.render(report["profile"])]
    out += ["", "Notes:", "", *notes(report)]
    return "\n".join(out)


def notes(report: dict[str, Any]) -> list[str]:
    warm = report["warm_in_process"]
    skipped = sorted(
        {(c.guild, c.endpoint) for c in report["cells"] if c.mode == "cold" and c.concurrency > 1}
        - {
            (c.guild, c.endpoint)
            for c in report["cells"]
            if c.mode == "raw SQL" and c.concurrency > 1
        }
    )
    lines = [
        *goal_summary(report["cells"]),
        "**cold**: the server runs with `STATS_CACHE_TTL_SECONDS=0`, so every request computes its "
        "answer (voice/live: its Redis hash is dropped before each request and rebuilt from the "
        "events). **warm**: cache on, one priming request, then the same request again and again. "
        "**raw SQL**: `benchmarks/api/raw.py` from the benchmark process over psycopg (no HTTP), one "
        "connection per client thread, `jit=off` (with the server's `jit=on` the sessionizer's "
        "cost estimate sets off compilation that takes seconds); voice comes from the "
        "window-function sessionizer of `benchmarks/aggregate/sessions.sql` over all the guild's voice "
        "events, so the naive answers count voice too.",
        "Latency is the client's wall time. Client (one asyncio httpx process), server (uvicorn, "
        "one worker: the sync routes run in its thread pool, 10 pooled connections) and "
        "PostgreSQL share 2 cores: at concurrency 16 requests mostly wait for CPU, so p50 is "
        "about 16 × the single-request time over the parallelism actually achieved.",
        f"A warm hit in process (StatsResponder.respond, {warm['guild']} guild's dashboard week, "
        f"cache {warm['cache']}) takes p50 {warm['p50_ms']:.2f} ms, p95 {warm['p95_ms']:.2f} ms: "
        "the rest of a warm request over HTTP is uvicorn, FastAPI's dependency and thread-pool "
        "hops, and the client on the same busy cores.",
        "Workers: cold answers per second at concurrency 16, the same requests against a server "
        "of 1 and of 2 uvicorn workers (client, server and PostgreSQL on the same 2 cores): "
        + "; ".join(
            f"{w['guild']} {w['endpoint']}: "
            + " → ".join(
                f"{v['per_s']:.1f}/s ({v['failed']} failed)"
                for v in report["workers"]
                if v["guild"] == w["guild"] and v["endpoint"] == w["endpoint"]
            )
            for w in report["workers"]
            if w["workers"] == 1
        )
        + ".",
    ]
    if any("HTTP 503" in e for c in report["cells"] for e in c.errors):
        lines.append(
            "Failed requests are `503 database unavailable`, the API's answer to a pool timeout: "
            "concurrent cold answers of the big guild each hold one of the 10 pooled connections "
            "for seconds, and a request that waits longer than `STATS_DB_POOL_TIMEOUT_SECONDS` "
            "(10 s) for one is shed with `Retry-After`. Only good answers are in the percentiles."
        )
    if skipped:
        lines.append(
            "Raw SQL at concurrency 16 not run where one answer took over "
            f"{RAW_CONCURRENT_LIMIT_S:.0f} s in the check (one round of 16 would take minutes): "
            + ", ".join(f"{g} {e}" for g, e in skipped)
            + "."
        )
    return [f"- {line}" for line in lines]
