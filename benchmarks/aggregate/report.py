"""The aggregate benchmark's figures as markdown: its `## Aggregate` section."""

from __future__ import annotations

from benchmarks.harness import pg_settings
from benchmarks.report import rate, table
from benchmarks.report import seconds as s

OLD_DESIGN = 50_000  # events/s: the seed design computed 10,000 events in about 200 ms
GOAL = 2_000_000  # events/s of Polars compute
PG_SHOWN = [
    "jit",
    "max_parallel_workers_per_gather",
    "shared_buffers",
    "synchronous_commit",
    "work_mem",
]


def _header(r: dict) -> list[str]:
    m, load, n = r["machine"], r["load"], r["load"]["events"]
    mix = ", ".join(f"{t} {c / n:.1%}" for t, c in r["mix"])
    took = (r["finished"] - r["started"]).total_seconds() / 60
    return [
        f"Command: `{r['command']}`  ",
        f"Date: {r['started']:%Y-%m-%d %H:%M} UTC (the whole run took {took:.0f} min)  ",
        f"Machine: nproc {m['nproc']} ({m['cpu']}), {m['memory']} RAM, PostgreSQL {m['postgres']}"
        f" ({pg_settings(m, PG_SHOWN)}), Polars {m['polars']}, Python {m['python']}; shared and noisy "
        f"(load average {m.get('load', '?')} at the start), so expect ±20 % between runs.  ",
        f"Events: {n:,} over one UTC day ({r.get('day', '?')}), 50 guilds, seed {r['seed']}: "
        "the simulator's model (`benchmarks/events.py`), its world scaled to the count, generated in "
        f"{load['generate_s']:.0f} s, loaded with COPY in {load['copy_s']:.0f} s. Mix: {mix}; "
        f"{r['sql']['session_rows']:,} voice sessions.  ",
        f"Compute and SQL figures are the best of {r['repeat']} runs; reads and writes are single runs.",
    ]


def _polars(r: dict) -> list[str]:
    p, n = r["polars"], r["load"]["events"]
    reads = p["reads"]
    rows = [
        [
            "read events (COPY out + CSV parse)",
            "",
            s(reads["events"]),
            f"{n:,}",
            rate(n, reads["events"]),
            "",
        ],
        [
            "read voice events",
            "",
            s(reads["voice events"]),
            f"{p['voice_events']:,}",
            "",
            "",
        ],
    ]
    for grain, g in p["grains"].items():
        out = f"{g['rows'][0]:,} + {g['rows'][1]:,}"
        rows.append(
            [
                f"compute ({'ok' if g['mirror'] else 'MISMATCH'} vs compute_rollups)",
                grain,
                s(g["compute"]),
                out,
                rate(n, g["compute"]),
                f"goal ≥ {GOAL / 1e6:.0f} M/s; old design {OLD_DESIGN // 1000}k/s",
            ]
        )
    for grain, g in p["grains"].items():
        rows.append(
            [
                "write (replace window, COPY in)",
                grain,
                s(g["write"]),
                f"{sum(g['rows']):,}",
                "",
                "",
            ]
        )
    voice_s, sessions = p["voice_sessions"]
    rows.append(
        [
            "voice_sessions asset (read + sessionize + write)",
            "day",
            s(voice_s),
            f"{sessions:,}",
            "",
            "",
        ]
    )
    for step, (seconds, count) in p["member_stats"].items():
        rows.append([f"member_stats {step}", "lifetime", s(seconds), f"{count:,}", "", ""])
    prof = [
        [grain, *(s(v) for v in g["profile"].values()), s(g["compute"])]
        for grain, g in p["grains"].items()
    ]
    first = next(iter(p["grains"].values()))["profile"]
    return [
        "### Polars rollups: read, compute, write",
        "",
        "Rows: snapshots + member rows (the rows of the blocks). events/s = events of the day ÷ seconds.",
        "",
        table(["step", "grain", "seconds", "rows", "events/s", "baseline"], rows),
        "",
        "Where compute goes (each transform alone, its input collected; seconds):",
        "",
        table(["grain", *first.keys(), "all in one collect_all"], prof),
    ]


def _sql(r: dict) -> list[str]:
    sql, p, n = r["sql"], r["polars"], r["load"]["events"]
    read = sum(p["reads"].values())
    rows, detail = [], {}
    for grain, g in sql["grains"].items():
        pg = p["grains"][grain]
        total = sql["sessions"] + sum(g["seconds"].values())
        end_to_end = read + pg["compute"] + pg["write"]
        same = g["members_diff"] == 0 and g["snapshots_diff"] == 0
        rows.append(
            [
                grain,
                s(pg["compute"]),
                s(end_to_end),
                s(total),
                f"{total / pg['compute']:.1f}×",
                rate(n, total),
                "equal" if same else f"{g['snapshots_diff']} + {g['members_diff']} rows differ",
            ]
        )
        for name, seconds in g["seconds"].items():
            detail.setdefault(name, []).append(s(seconds))
    equal = sql["sessions_equal"] and all(
        g["members_diff"] == 0 and g["snapshots_diff"] == 0 for g in sql["grains"].values()
    )
    counts = "; ".join(
        f"{grain} {g['snapshots']:,} snapshot + {g['members']:,} member rows"
        for grain, g in sql["grains"].items()
    )
    return [
        "### The same rollups by SQL GROUP BY inside PostgreSQL",
        "",
        "Voice included: a window-function sessionizer (runs of one channel per member in "
        "(ts, seq) order, a recursive split of runs longer than the cap, leave / move / cap "
        "closes), then sessions cut into windows with generate_series. Each statement writes a "
        f"temp table, so SQL has no transfer to the client; work_mem={r['work_mem']}, "
        f"jit={r['sql_jit']} for that session. SQL seconds include the sessionizer "
        f"({s(sql['sessions'])} s), as Polars compute includes sessionize.",
        "",
        table(
            [
                "grain",
                "Polars compute s",
                "Polars read+compute+write s",
                "SQL s",
                "SQL ÷ Polars compute",
                "SQL events/s",
                "rows",
            ],
            rows,
        ),
        "",
        table(["SQL statement (s)", *sql["grains"]], [[k, *v] for k, v in detail.items()]),
        "",
        f"**{'PASS' if equal else 'FAIL'}**: SQL results equal Polars results row for row "
        f"({sql['session_rows']:,} voice sessions{'' if sql['sessions_equal'] else ' DIFFER'}; "
        f"{counts}; every count, voice_ms, distinct user count, per-type JSON and timestamp).",
    ]


def _backfill(r: dict) -> list[str]:
    if "backfill_error" in r:
        return ["### Backfill of 7 days, one run per job", "", f"FAILED: {r['backfill_error']}"]
    if "backfill" not in r:
        return []
    load, jobs, totals = r["backfill_load"], r["backfill"], r["backfill_totals"]
    n = load["events"]
    rows = [
        [
            j["job"],
            j["partitions"],
            j["range"],
            s(j["seconds"]),
            s(j["steps_s"]),
            f"{j['materializations']:,}",
            rate(n, j["seconds"]),
            "ok" if j["success"] else "FAILED",
        ]
        for j in jobs
    ]
    wall = sum(j["seconds"] for j in jobs)
    steps = sum(j["steps_s"] for j in jobs)
    rows.append(["all three", "", "", s(wall), s(steps), "", rate(n, wall), ""])
    raw = totals["raw events"]
    checks = ", ".join(
        f"{g} {totals.get(f'{g} snapshot events', 0):,}" for g in ("daily", "hourly", "5min")
    )
    same = all(totals.get(f"{g} snapshot events") == raw for g in ("daily", "hourly", "5min"))
    header = ["job", "partitions", "range", "wall s", "in steps s", "materializations"]
    return [
        "### Backfill of 7 days, one run per job",
        "",
        f"{n:,} events over {len(jobs) and jobs[0]['partitions']} days (the same seeded day "
        f"repeated, so the same members come back), generated in {load['generate_s']:.0f} s and "
        f"loaded with COPY in {load['copy_s']:.0f} s, then `dg.materialize` with the "
        "`dagster/asset_partition_range_start/end` tags (single-run backfill policy), "
        "settle_seconds=0, batch_delay_seconds=0, an ephemeral instance.",
        "",
        table([*header, "events/s", "run"], rows),
        "",
        "wall s: the whole `dg.materialize` call; in steps s: Dagster's step durations (the asset "
        "bodies); the rest is run setup and storing one materialization event per partition "
        "and asset. Steps: "
        + "; ".join(
            f"{name} {s(seconds)} s" for j in jobs for name, seconds in j.get("steps", {}).items()
        )
        + ".",
        "",
        f"Snapshot totals vs raw events: raw {raw:,}; {checks} "
        f"({'all equal' if same else 'MISMATCH'}); member_stats "
        f"{totals['member_stats rows']:,} rows, voice_sessions {totals['voice_sessions rows']:,}.",
    ]


def render(r: dict) -> str:
    parts = [_header(r), _polars(r), _sql(r), _backfill(r)]
    return "\n\n".join("\n".join(p) for p in parts if p)
