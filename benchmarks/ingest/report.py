"""The ingest benchmark's table, its verdicts against the goals, and its section text."""

from __future__ import annotations

from datetime import UTC, datetime

from benchmarks.events import GUILDS
from benchmarks.harness import machine, pg_settings
from benchmarks.ingest.paths import Result
from benchmarks.report import command, table

HTTP_GOAL_VS_COPY = 0.5
HTTP_GOAL_VS_SEED = 10.0


def fastest(results: list[Result], prefix: str, concurrency: int | None = None) -> Result | None:
    matching = [
        r for r in results
        if r.path.startswith(prefix) and not r.gzip and not r.problems
        and concurrency in (None, r.senders)
    ]  # fmt: skip
    return max(matching, key=lambda r: r.rate) if matching else None


def verdicts(results: list[Result]) -> list[str]:
    """The goals, judged on the fastest of each path, then at one connection / sender each."""
    lines = []
    for concurrency, scope in ((None, "fastest of each path"), (1, "one sender / connection each")):
        http = fastest(results, "HTTP", concurrency)
        copy = fastest(results, "COPY", concurrency)
        seed = fastest(results, "seed", concurrency)
        if not http:
            continue
        parts = [f"HTTP {http.rate:,.0f} events/s (batch {http.batch}, {http.senders} sender(s))"]
        if copy:
            ok = "met" if http.rate / copy.rate >= HTTP_GOAL_VS_COPY else "NOT met"
            parts.append(
                f"{http.rate / copy.rate:.1%} of COPY's {copy.rate:,.0f} with {copy.senders} "
                f"connection(s) (goal ≥ {HTTP_GOAL_VS_COPY:.0%}: {ok})"
            )
        if seed:
            ok = "met" if http.rate / seed.rate >= HTTP_GOAL_VS_SEED else "NOT met"
            parts.append(
                f"{http.rate / seed.rate:.1f}× the seed path's {seed.rate:,.0f} ({seed.path}, "
                f"{seed.senders} connection(s); goal ≥ {HTTP_GOAL_VS_SEED:.0f}×: {ok})"
            )
        lines.append(f"{scope}: " + "; ".join(parts))
    return lines


def render(results: list[Result]) -> tuple[str, list[str]]:
    copy, seed = fastest(results, "COPY"), fastest(results, "seed")
    header = [
        "path", "batch", "conc.", "gzip", "events/s", "rounds", "÷ COPY", "× seed",
        "p50 ms", "p95 ms", "API CPU s", "PG CPU s", "client CPU s", "CPU µs/event",
        "others' CPU s", "check",
    ]  # fmt: skip
    rows = []
    for r in results:
        p50, p95 = r.latency_ms(50), r.latency_ms(95)
        rows.append([
            r.path, str(r.batch), str(r.senders), "on" if r.gzip else "off", f"{r.rate:,.0f}",
            " ".join(f"{x / 1000:.1f}k" for x in r.all_rates),
            f"{r.rate / copy.rate:.0%}" if copy else "",
            f"{r.rate / seed.rate:.1f}×" if seed else "",
            "" if p50 is None else f"{p50:.1f}", "" if p95 is None else f"{p95:.1f}",
            "" if r.api_cpu is None else f"{r.api_cpu:.1f}", f"{r.pg_cpu:.1f}", f"{r.client_cpu:.1f}",
            f"{r.own_cpu * 1e6 / r.events:.0f}" if r.events else "",
            f"{r.other_cpu:.1f} / {r.seconds:.1f}", "ok" if not r.problems else "FAILED",
        ])  # fmt: skip
    lines = verdicts(results)
    lines += [f"{r.path} ({r.senders} conn.): {note}" for r in results for note in r.notes]
    return table(header, rows, right=range(1, 15)), lines


def section(
    text: str, verdicts: list[str], results: list[Result], n: int, seed: int, rounds: int
) -> str:
    m = machine()
    problems = [f"- {r.path} batch {r.batch}/{r.senders}: {p}" for r in results for p in r.problems]
    return "\n".join([
        f"Command: `{command('benchmarks.ingest')}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: nproc {m['nproc']} ({m['cpu']}), {m['memory']} RAM, PostgreSQL {m['postgres']} "
        f"({pg_settings(m, ['synchronous_commit', 'fsync'])}), Python {m['python']}; "
        "shared and noisy, so expect ±20 % between runs.  ",
        f"Events: {n:,} of the last 3 hours from the simulator's model (`benchmarks/events.py`, "
        f"{GUILDS} guilds, seed {seed}), the same for every path; each run loads them into a "
        f"fresh migrated database. {rounds} round(s) of every row, "
        "run round by round; `events/s` is the row's fastest round, `rounds` lists them all "
        "(others' load only ever slows a run down).",
        "",
        text,
        "",
        *[f"- {v}" for v in verdicts],
        *problems,
        *([""] if verdicts or problems else []),
        "What each row measures:",
        "",
        "- **HTTP**: `POST /v1/events` to uvicorn (a subprocess, one worker) through httpx from the "
        "same machine; bodies encoded before the clock starts; only `202` answers whose `accepted` "
        "equals the batch size count, and the table must hold every event sent afterwards. p50/p95 "
        "are per-request latencies. The client competes with the server and PostgreSQL for the 2 cores.",
        "- **COPY**: psycopg 3 `COPY events (...) FROM STDIN (FORMAT BINARY)` with the endpoint's columns, one "
        "transaction per batch, rows built before the clock starts: what the database can take.",
        "- **seed**: the seed design: per event one `INSERT INTO events` and one "
        "`INSERT INTO member_stats ... ON CONFLICT DO UPDATE` counter upsert (psycopg prepares "
        "both after a few uses), one transaction per batch (a request's worth; `--seed-batches 1` "
        "adds autocommit); rows built before the clock starts. One connection: with four, "
        "concurrent batches deadlock on the member counters (38 of 80 batches in a trial, each "
        "costing `deadlock_timeout`), which only makes the seed path slower.",
        "- `conc.`: concurrent HTTP senders, or concurrent database connections (threads) for "
        "COPY and seed. `÷ COPY` and `× seed` compare with the fastest COPY and seed rows.",
        "- CPU columns: seconds of CPU of the API process, of the PostgreSQL backends serving the "
        "benchmark database, and of the benchmark process (the HTTP client) during the timed part; "
        "`others' CPU s` is the rest of the machine's busy CPU (other processes, PostgreSQL's WAL "
        "writer and checkpointer, steal) over the timed wall-clock seconds: the noise of the row. "
        "`CPU µs/event` (API + PostgreSQL backends + client, per event) moves far less with "
        "others' load than events/s does: on 2 saturated cores, a path's ceiling is about "
        "2 s / (CPU µs/event).",
    ])  # fmt: skip
