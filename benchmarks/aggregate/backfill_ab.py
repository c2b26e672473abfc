"""The 7-day backfill by an older tree beside this one, on the same events, round by round.

    STATS_BENCH_BASE=<older commit> .venv/bin/python -m benchmarks.aggregate.backfill_ab --size full

A fresh database with the older tree's schema (`STATS_BENCH_BASE`, else where this branch left
main: a `git archive`) gets seven days of events (`benchmarks.events.load_days`, as
`benchmarks.aggregate` loads its week); a copy of it, migrated by this tree, is this tree's. Then
each round backfills them with every job in one run each (`benchmarks.backfill.run`, the real
assets through `dg.materialize`), once with the older tree (first on PYTHONPATH of a child
process) on its database and once with this one on its own, the order alternating round by
round, so a busy spell of the shared machine hits both. The events are vacuumed first, so no run
pays for setting the fresh rows' hint bits, and each tree backfills once untimed, so every timed
run replaces what the one before wrote, as a retried backfill does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import typer

from benchmarks.events import DAY, load_days, utc_midnight
from benchmarks.harness import fresh_database, machine, run_in_tree
from benchmarks.ingest.live_cost import base_name, main_tree
from benchmarks.report import DocOption, Size, SizeOption, command, doc_path, publish, table
from stats_platform.settings import PROJECT_ROOT

DAYS = 7
RUNNER = Path(__file__).with_name("backfill_runner.py")


@dataclass(frozen=True)
class Sizes:
    per_day: int
    rounds: int


SIZES = {Size.quick: Sizes(per_day=50_000, rounds=1), Size.full: Sizes(per_day=2_000_000, rounds=2)}


def backfilled(tree: Path, url: str, first: datetime, end: datetime) -> list[dict]:
    """benchmarks.backfill.run of `tree`, in a process of its own."""
    job = {"url": url, "first": first.isoformat(), "end": end.isoformat()}
    return run_in_tree(RUNNER, tree, job)  # type: ignore[no-any-return]


def main(
    size_name: Size = typer.Option(Size.quick, "--size", help=SizeOption.help),
    doc: Path | None = DocOption,
    seed: int = typer.Option(1, help="generator seed"),
) -> None:
    size = SIZES[size_name]
    started = datetime.now(UTC)
    info = machine()
    end = utc_midnight()
    first = end - DAYS * DAY
    runs: dict[str, list[list[dict]]] = {"before": [], "after": []}
    with main_tree() as base, fresh_database("backfill_ab_before", migrations=base / "sql") as url:
        print(f"loading {DAYS} days x about {size.per_day:,} events ...", flush=True)
        loaded = load_days(url, first, DAYS, size.per_day, seed=seed)
        # The first scan after a bulk load sets every row's hint bits, writing every page: a
        # cost of the load, not of whichever tree happens to read first.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (FREEZE, ANALYZE) events")
        with fresh_database("backfill_ab_after", template=url) as after_url:
            trees = [("before", base, url), ("after", PROJECT_ROOT, after_url)]
            # Untimed: after it every timed run replaces a week of rollups, as a retried
            # backfill does; the first run into empty tables had no rows to delete.
            for name, tree, db in trees:
                print(f"  a first backfill by {name}, untimed ...", flush=True)
                backfilled(tree, db, first, end)
            for round_no in range(1, size.rounds + 1):
                for name, tree, db in trees if round_no % 2 else trees[::-1]:
                    print(f"  [{round_no}/{size.rounds}] {name} ...", flush=True)
                    runs[name].append(backfilled(tree, db, first, end))
    publish("Aggregate: the 7-day backfill, before and after", render(runs, loaded, info, started),
            doc_path(size_name, doc))  # fmt: skip


def render(runs: dict[str, list[list[dict]]], loaded: dict, info: dict, started: datetime) -> str:
    jobs = [job["job"] for job in runs["after"][0]]
    rows = []
    for i, job in enumerate(jobs):
        before = [r[i]["seconds"] for r in runs["before"]]
        after = [r[i]["seconds"] for r in runs["after"]]
        rows.append([job, _seconds(before), _seconds(after), f"{min(before) / min(after):.2f}x"])
    before = [sum(j["seconds"] for j in r) for r in runs["before"]]
    after = [sum(j["seconds"] for j in r) for r in runs["after"]]
    rows.append(
        ["all three", _seconds(before), _seconds(after), f"{min(before) / min(after):.2f}x"]
    )
    failed = [j["job"] for rs in runs.values() for r in rs for j in r if not j["success"]]
    return "\n".join(
        [
            f"Command: `{command('benchmarks.aggregate.backfill_ab')}`  ",
            f"Date: {started:%Y-%m-%d %H:%M} UTC  ",
            f"Machine: nproc {info['nproc']} ({info['cpu']}), {info['memory']}, PostgreSQL"
            f" {info['postgres']}, Polars {info['polars']}; shared and noisy.  ",
            f"Events: {loaded['events']:,} over {DAYS} days (one simulated day repeated), loaded"
            f" with COPY in {loaded['copy_s']:.0f} s. **before** is {base_name()}; each cell is"
            " the wall seconds of one `dg.materialize` run per job, every round's, the faster"
            " first; the speed-up is the faster before over the faster after.",
            "",
            table(["job", "before s", "after s", "speed-up"], rows, right=(1, 2, 3)),
            "",
            "Every run succeeded." if not failed else f"FAILED runs: {', '.join(failed)}.",
        ]
    )


def _seconds(values: list[float]) -> str:
    return " / ".join(f"{v:.1f}" for v in sorted(values))


if __name__ == "__main__":
    typer.run(main)
