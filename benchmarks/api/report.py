"""The stats API benchmark as markdown, and its `## Stats API` section of docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

from benchmarks.api import profile as api_profile
from benchmarks.api.check import Check
from benchmarks.api.load import ENDPOINTS, RAW_CONCURRENT_LIMIT_S, Cell
from benchmarks.report import table

# The goals, at concurrency 1: cold p95 per guild, warm p95 for every guild; the big
# guild's answers at least RAW_SPEEDUP times faster than raw SQL; no failed request at
# concurrency 16.
COLD_P95_MS = {"big": 150.0, "median": 50.0, "small": 50.0, "huge": 500.0}
WARM_P95_MS = 5.0
RAW_SPEEDUP = 20.0
RAW_SPEEDUP_GUILD = "big"


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


def p95_verdict(cell: Cell | None, goal: float) -> tuple[str, bool | None]:
    """A cell's p95 against a goal: its text and met (True), missed (False) or undecided (None).

    A cell with too few answers for a p95 shows its p50, which misses the goal whenever it alone
    is over it, and is undecided otherwise."""
    if cell is None or not cell.latencies:
        return "–", None
    p95, p50 = cell.percentile(95), cell.percentile(50)
    if p95 is not None:
        return f"{_ms(p95)} {'✓' if p95 < goal else '✗'}", p95 < goal
    if p50 is not None and p50 >= goal:
        return f"p50 {_ms(p50)} ✗", False
    return f"p50 {_ms(p50)} ?", None


def speedup(cells: list[Cell], guild: str, endpoint: str) -> float | None:
    """Raw SQL's median over the cold answer's median at concurrency 1 (p50s: the raw cells of a
    big guild have too few answers for a p95)."""
    by_mode = {c.mode: c for c in cells
               if c.guild == guild and c.endpoint == endpoint and c.concurrency == 1}  # fmt: skip
    cold, raw = by_mode.get("cold"), by_mode.get("raw SQL")
    if not (cold and raw and cold.latencies and raw.latencies):
        return None
    return (raw.percentile(50) or 0.0) / (cold.percentile(50) or float("inf"))


def goal_table(cells: list[Cell], guilds: list[str]) -> str:
    """Per endpoint and guild, at concurrency 1: cold p95 against the guild's goal, warm p95
    against the warm goal, and the big guild's speed-up over raw SQL."""
    by_key = {(c.mode, c.endpoint, c.guild): c for c in cells if c.concurrency == 1}
    header = ["endpoint", *[f"cold {g} < {COLD_P95_MS[g]:.0f}" for g in guilds],
              *[f"warm {g} < {WARM_P95_MS:.0f}" for g in guilds],
              f"{RAW_SPEEDUP_GUILD} vs raw ≥ {RAW_SPEEDUP:.0f}×"]  # fmt: skip
    rows = []
    for endpoint in ENDPOINTS:
        row = [endpoint.name]
        for mode in ("cold", "warm"):
            for guild in guilds:
                goal = COLD_P95_MS[guild] if mode == "cold" else WARM_P95_MS
                row.append(p95_verdict(by_key.get((mode, endpoint.name, guild)), goal)[0])
        ratio = speedup(cells, RAW_SPEEDUP_GUILD, endpoint.name)
        row.append("–" if ratio is None else f"{ratio:.1f}× {'✓' if ratio >= RAW_SPEEDUP else '✗'}")
        rows.append(row)
    return table(header, rows, right=range(1, len(header)))


def _status(verdicts: list[bool | None]) -> str:
    if False in verdicts:
        return "NOT MET"
    return "UNDECIDED" if None in verdicts else "MET"


def _tally(verdicts: list[bool | None]) -> str:
    met, missed = verdicts.count(True), verdicts.count(False)
    undecided = f", {verdicts.count(None)} undecided" if None in verdicts else ""
    return f"met in {met} of {len(verdicts)} endpoints ({missed} not met{undecided})"


def goal_summary(cells: list[Cell], guilds: list[str]) -> list[str]:
    """One line per goal of the issue: met or not met, from the measured cells."""
    c1 = {(c.mode, c.endpoint, c.guild): c for c in cells if c.concurrency == 1}
    lines = []
    for guild in guilds:
        goal = COLD_P95_MS[guild]
        verdicts = [p95_verdict(c1.get(("cold", e.name, guild)), goal)[1] for e in ENDPOINTS]
        lines.append(f"{_status(verdicts)}: cold p95 < {goal:.0f} ms at concurrency 1, {guild} guild: "
                     f"{_tally(verdicts)}.")  # fmt: skip
    warm = [p95_verdict(c1.get(("warm", e.name, g)), WARM_P95_MS)[1]
            for g in guilds for e in ENDPOINTS]  # fmt: skip
    lines.append(f"{_status(warm)}: warm p95 < {WARM_P95_MS:.0f} ms at concurrency 1: met in "
                 f"{warm.count(True)} of {len(warm)} cells ({warm.count(False)} not met).")  # fmt: skip
    ratios = [speedup(cells, RAW_SPEEDUP_GUILD, e.name) for e in ENDPOINTS]
    fast = [r for r in ratios if r is not None and r >= RAW_SPEEDUP]
    lines.append(
        f"{_status([None if r is None else r >= RAW_SPEEDUP for r in ratios])}: the "
        f"{RAW_SPEEDUP_GUILD} guild's "
        f"cold answer ≥ {RAW_SPEEDUP:.0f}× faster than raw SQL (p50 over p50, concurrency 1): "
        f"{len(fast)} of {len(ratios)} endpoints"
        + (f", slowest {min(r for r in ratios if r is not None):.1f}×"
           if any(r is not None for r in ratios) else "")
        + "."
    )  # fmt: skip
    c16 = [c for c in cells if c.concurrency == 16 and c.mode in ("cold", "warm")]
    failed = {g: sum(len(c.errors) for c in c16 if c.guild == g) for g in guilds}
    answered = sum(len(c.latencies) for c in c16)
    lines.append(
        f"{'MET' if not any(failed.values()) else 'NOT MET'}: no failed request at concurrency "
        f"16 (cold and warm, {answered:,} answered): failed "
        + ", ".join(f"{g} {n}" for g, n in failed.items())
        + "."
    )
    return lines


def workers_table(workers: list[dict], guilds: list[str]) -> str:
    """Cold answers per second at concurrency 16 from 1 and from 2 uvicorn workers."""
    counts = sorted({w["workers"] for w in workers})
    endpoints = list(dict.fromkeys(w["endpoint"] for w in workers))
    found = {(w["workers"], w["guild"], w["endpoint"]): w for w in workers}
    header = ["guild", "endpoint", *[f"{n} worker{'s' if n > 1 else ''} /s" for n in counts],
              "failed", "shared"]  # fmt: skip
    rows = []
    for guild in guilds:
        for endpoint in endpoints:
            runs = [found.get((n, guild, endpoint)) for n in counts]
            rows.append([guild, endpoint, *[f"{r['per_s']:.1f}" if r else "–" for r in runs],
                         "/".join(str(r["failed"]) if r else "–" for r in runs),
                         "/".join(str(r["shared"]) if r else "–" for r in runs)])  # fmt: skip
    return table(header, rows, right=range(2, 3 + len(counts)))


def build_lines(build: dict[str, Any], five_min_days: int) -> list[str]:
    span = build["span"]
    runs = "; ".join(
        f"{r['job']} {r['partitions']:,} partitions {r['seconds']:.0f} s"
        f" (peak {r['peak_rss_gib']:.1f} GiB)" + ("" if r["success"] else " FAILED")
        for r in build["runs"]
    )
    return [
        f"Dataset: {build['events']:,} events from {span.oldest:%Y-%m-%d %H:%M} to "
        f"{span.newest:%Y-%m-%d %H:%M} UTC: {build['world_events']:,} of the 50-guild world and "
        f"{build['huge_events']:,} of the huge guild ({build['huge_day_events']:,} a day). Built "
        f"in {build['total_s']:.0f} s: world generate {build['generate_s']:.0f} s, COPY "
        f"{build['copy_s']:.0f} s, window_arrivals {build['arrivals_s']:.0f} s; huge guild "
        f"(a day at a time) generate {build['huge_generate_s']:.0f} s, COPY "
        f"{build['huge_copy_s']:.0f} s, window_arrivals {build['huge_arrivals_s']:.0f} s; ANALYZE "
        f"{build['analyze_s']:.0f} s; first partial day (library calls) "
        f"{build['first_partial_day_s']:.0f} s, Dagster single-run backfills: {runs}; "
        f"ANALYZE after them {build['analyze_after_s']:.0f} s. "
        f"5-minute rollups cover the last {five_min_days} day(s) (from "
        f"{build['five_min_from']:%Y-%m-%d %H:%M}). Peak memory of the benchmark process (the "
        f"backfills run in it): {build['loaded_peak_rss_gib']:.1f} GiB after loading, "
        f"{max(r['peak_rss_gib'] for r in build['runs']):.1f} GiB after the backfills."
    ]


def unchecked(checks: list[Check], guilds: list[str]) -> list[tuple[str, str]]:
    """(guild, endpoint) pairs the check left out."""
    done = {(c.guild, c.endpoint) for c in checks}
    return [(g, e.name) for g in guilds for e in ENDPOINTS if (g, e.name) not in done]


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    size = report["size"]
    guilds = report["guilds"]
    names = [g.size for g in guilds]
    cells: list[Cell] = report["cells"]
    checks = report["checks"]
    concurrencies = sorted({c.concurrency for c in cells})
    left_out = unchecked(checks, names)
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
        + ". Big, median and small are the 50-guild world's; huge is the one guild beside it. "
        "Member detail asks for each guild's member with most messages.",
        "",
        "Check, API answer = raw-SQL answer over the window the API answered for: "
        + f"{sum(c.passed for c in checks)}/{len(checks)} PASS"
        + (", FAILED: " + "; ".join(
            f"{c.guild} {c.endpoint}: {c.differences[0]}" for c in checks if not c.passed
        ) if not all(c.passed for c in checks) else "")
        + f" ({sum(c.compared for c in checks):,} values compared, "
        + f"{report['check_s']:.0f} s; raw SQL of the huge guild "
        + f"{sum(c.raw_s for c in checks if c.guild == 'huge'):.0f} s)"
        + (("; not checked (raw SQL too slow at this size): "
            + ", ".join(f"{g} {e}" for g, e in left_out)) if left_out else "")
        + ".",
    ]  # fmt: skip
    out += [
        "",
        "Goals of the issue, at concurrency 1: p95 in ms against each goal, met ✓ or not ✗ (a cell "
        "with too few answers for a p95 shows its p50: ✗ when it alone misses the goal, ? when "
        "undecided); the big guild's speed-up is raw SQL's p50 over the cold answer's p50:",
        "",
        goal_table(cells, names),
        "",
        *[f"- {line}" for line in goal_summary(cells, names)],
        "",
        "Cold answers per second at concurrency 16, the same requests served by 1 and by 2 uvicorn "
        "workers (client, server and PostgreSQL on the same 2 cores; failed requests 1/2 workers; "
        "shared: answers computed once for requests asking at the same time, 1/2 workers):",
        "",
        workers_table(report["workers"], names),
    ]
    for concurrency in concurrencies:
        out += [
            "",
            f"Latency in ms, concurrency {concurrency} (up to {size.requests} requests per API cell,"
            f" {size.raw_requests} per raw-SQL cell, fewer when a cell's {size.cell_seconds:.0f} s"
            " budget ran out; p95 needs 20 samples and p99 100, else –):",
            "",
            latency_table(cells, concurrency, names),
        ]
    errors = [c for c in cells if c.errors]
    if errors:
        out += ["", *[f"- ERRORS {c.mode} {c.guild} {c.endpoint} c{c.concurrency}: "
                      f"{len(c.errors)}, first: {c.errors[0]}" for c in errors]]  # fmt: skip
    shared = [c for c in cells if c.shared]
    if shared:
        out += ["", "Cold answers shared (computed once for requests asking at the same time, "
                "`stats_api/in_flight.py`), of the cell's answers:", "",
                *[f"- {c.guild} {c.endpoint} c{c.concurrency}: {c.shared} of "
                  f"{len(c.latencies)}" for c in shared]]  # fmt: skip
    out += ["", "Profile of the slowest cold endpoint:", "", api_profile.render(report["profile"])]
    out += ["", "Notes:", "", *notes(report)]
    return "\n".join(out)


def notes(report: dict[str, Any]) -> list[str]:
    warm = report["warm_in_process"]
    untimed = {g.size for g in report["guilds"]} - {
        c.guild for c in report["cells"] if c.mode == "raw SQL"
    }
    skipped = sorted(
        {(c.guild, c.endpoint) for c in report["cells"] if c.mode == "cold" and c.concurrency > 1}
        - {
            (c.guild, c.endpoint)
            for c in report["cells"]
            if c.mode == "raw SQL" and c.concurrency > 1
        }
        - {(g, e.name) for g in untimed for e in ENDPOINTS}
    )
    lines = [
        "**cold**: the server runs with `STATS_CACHE_TTL_SECONDS=0`, so every request computes its "
        "answer (voice/live: its Redis hash is dropped before each request and rebuilt from the "
        "events). **warm**: cache on, one priming request, then the same request again and again. "
        "**raw SQL**: `benchmarks/api/raw.py` from the benchmark process over psycopg (no HTTP), one "
        "connection per client thread, `jit=off` (with the server's `jit=on` the sessionizer's "
        "cost estimate sets off compilation that takes seconds); voice comes from the "
        "window-function sessionizer of `benchmarks/aggregate/sessions.sql` over all the guild's voice "
        "events, so the naive answers count voice too.",
        "The huge guild is a simulated world of one guild (the simulator's model at "
        f"{report['build']['huge_day_events']:,} events a day, one day shifted to every day like "
        "the world's), loaded by binary COPY a day at a time and rolled up by the same single-run "
        "backfills as the rest.",
        "Latency is the client's wall time. Client (one asyncio httpx process), server (uvicorn, "
        "one worker: the sync routes run in its thread pool, 10 pooled connections) and "
        "PostgreSQL share 2 cores: at concurrency 16 requests mostly wait for CPU, so p50 is "
        "about 16 × the single-request time over the parallelism actually achieved.",
        f"A warm hit in process (StatsResponder.respond, {warm['guild']} guild's dashboard week, "
        f"cache {warm['cache']}) takes p50 {warm['p50_ms']:.2f} ms, p95 {warm['p95_ms']:.2f} ms: "
        "the rest of a warm request over HTTP is uvicorn, FastAPI's dependency and thread-pool "
        "hops, and the client on the same busy cores.",
    ]
    left_out = unchecked(report["checks"], [g.size for g in report["guilds"]])
    if left_out:
        lines.append(
            "Not checked against raw SQL: " + ", ".join(f"{g} {e}" for g, e in left_out) + ". "
            "The huge guild's raw SQL takes minutes an answer at this size (its sessionizer "
            "replays all of the guild's voice events each time), so only the endpoints "
            "`Sizes.huge_checks` names are checked; the quick size checks all of them."
        )
    if untimed:
        lines.append(
            "Raw SQL is not timed for the " + ", ".join(sorted(untimed)) + " guild (at the full "
            "size one answer takes minutes; the goal compares raw SQL with the big guild's "
            "answers): its raw answers only check the API's, once each."
        )
    if any("HTTP 503" in e for c in report["cells"] for e in c.errors):
        lines.append(
            "Failed requests are 503s: `database unavailable`, the API's answer to a pool timeout "
            "(concurrent cold answers of a large guild each hold one of the 10 pooled connections "
            "for seconds, and a request that waits longer than `STATS_DB_POOL_TIMEOUT_SECONDS`, "
            "10 s, for one is shed with `Retry-After`), or a statement past the read deadline "
            "(`STATS_READ_STATEMENT_TIMEOUT_SECONDS`, 10 s); the first of each cell is under "
            "ERRORS. Only good answers are in the percentiles."
        )
    if skipped:
        lines.append(
            "Raw SQL at concurrency 16 not run where one answer took over "
            f"{RAW_CONCURRENT_LIMIT_S:.0f} s in the check (one round of 16 would take minutes): "
            + ", ".join(f"{g} {e}" for g, e in skipped)
            + "."
        )
    return [f"- {line}" for line in lines]
