"""Where a cold stats answer's time goes: the route's own code run in process, phase by phase.

The answer is computed as the route computes it (StatsResponder.snapshot, the route's compute
function, model_dump_json), without HTTP, with the answer cache off. The steps of
`stats_api.engine` and `stats_platform.storage.warehouse` are wrapped where they are looked up, with
timers that nest, so each
phase shows its own time without its timed children (a COPY under the rollup read is listed
under it). A cProfile of one more run goes to benchmarks/out/.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.api.load import ENDPOINTS, Cell, Endpoint, Guild
from benchmarks.harness import OUT_DIR
from benchmarks.profiling import PhaseClock, cprofile_to
from stats_api.api import responder
from stats_api.api.params import ActivityQuery, LeaderboardQuery, MemberListQuery, PeriodQuery
from stats_api.api.routes import activity, dashboard, leaderboard, members
from stats_api.engine import activity as engine_activity
from stats_api.engine import lifetime
from stats_api.redis_gate import RedisGate
from stats_platform.settings import Settings
from stats_platform.storage import warehouse

PHASES: list[tuple[Any, str, str]] = [
    (responder, "_scalar", "scalar reads (guild known, first data, voice arrival)"),
    (responder, "activity", "activity"),
    (lifetime, "activity", "activity"),
    (responder, "lifetime_and_periods", "lifetime members"),
    (engine_activity, "plan_buckets", "coverage plan"),
    (engine_activity, "read_computed", "coverage query"),
    (lifetime, "read_computed", "coverage query"),
    (engine_activity, "read_rollups", "rollup rows"),
    (engine_activity, "compute_raw", "raw spans (Polars transforms)"),
    (engine_activity, "combine", "combine members (Polars)"),
    (engine_activity, "bucket_totals", "bucket totals (Polars)"),
    (warehouse, "load_voice_sessions", "voice sessions"),
    (warehouse, "copy_out", "COPY out + CSV parse"),
]
ROUTES: dict[str, tuple[Callable[..., Any], type]] = {
    "dashboard": (dashboard.dashboard_answer, PeriodQuery),
    "members": (members._member_list, MemberListQuery),
    "leaderboard": (leaderboard._leaderboard, LeaderboardQuery),
    "activity": (activity._activity, ActivityQuery),
}


def answer_once(
    answerer: responder.StatsResponder, guild: Guild, endpoint: Endpoint
) -> dict[str, float]:
    """One cold answer; seconds of the route's compute (own code) and of JSON encoding."""
    kind = "member" if endpoint.path == "members/{user}" else endpoint.path
    started = time.perf_counter()
    with answerer.snapshot() as snap:
        if kind == "member":
            query = PeriodQuery.model_validate(endpoint.params)
            model = members._member(snap, guild.top_user, query)
        else:
            route, query_model = ROUTES[kind]
            model = route(snap, query_model.model_validate(endpoint.params))
        encoding = time.perf_counter()
        model.model_dump_json(by_alias=True).encode()
        done = time.perf_counter()
    return {"total": done - started, "json": done - encoding}


def profile(
    url: str, guild: Guild, endpoint: Endpoint, redis_url: str, *, runs: int = 10
) -> dict[str, Any]:
    import psycopg

    if endpoint.path == "voice/live":
        return {"endpoint": endpoint.name, "guild": guild.size, "skipped": "voice/live"}
    settings = Settings(database_url=url, redis_url=redis_url, cache_ttl_seconds=0)
    redis = RedisGate.from_url(redis_url)
    with psycopg.connect(url, autocommit=True) as conn:
        answerer = responder.StatsResponder(guild.guild_id, conn, redis, settings)
        answer_once(answerer, guild, endpoint)
        clock = PhaseClock()
        per_run: list[dict[str, float]] = []
        with clock.installed(PHASES):
            for _ in range(runs):
                before = dict(clock.seconds)
                timing = answer_once(answerer, guild, endpoint)
                phases = {p: clock.seconds[p] - before.get(p, 0.0) for p in clock.seconds}
                timing["other"] = timing["total"] - timing["json"] - sum(phases.values())
                per_run.append({**timing, **phases})
        out = OUT_DIR / f"api_profile_{endpoint.name.replace(' ', '_')}_{guild.size}.txt"
        cprofile_to(out, lambda: answer_once(answerer, guild, endpoint))
    redis.close()
    phases = {
        path: statistics.median(r.get(path, 0.0) for r in per_run) * 1000 for path in clock.seconds
    }
    total = statistics.median(r["total"] for r in per_run) * 1000
    json_ms = statistics.median(r["json"] for r in per_run) * 1000
    return {
        "endpoint": endpoint.name,
        "guild": guild.size,
        "runs": runs,
        "total_ms": total,
        "json_ms": json_ms,
        "other_ms": statistics.median(r["other"] for r in per_run) * 1000,
        "phases": phases,
        "calls": {p: n // runs for p, n in clock.calls.items()},
        "cprofile": str(out.relative_to(OUT_DIR.parents[1])),
    }


def profile_slowest(url: str, cells: list[Cell], guilds: list[Guild], redis_url: str) -> dict:
    """Profiles the cold endpoint with the highest median at concurrency 1, voice/live excepted:
    the profiler has no route for it, and a huge guild's live voice can be the slowest answer."""
    live = {e.name for e in ENDPOINTS if e.path == "voice/live"}
    cold = [
        c
        for c in cells
        if c.mode == "cold" and c.concurrency == 1 and c.latencies and c.endpoint not in live
    ]
    slowest = max(cold, key=lambda c: c.percentile(50) or 0.0)
    guild = next(g for g in guilds if g.size == slowest.guild)
    endpoint = next(e for e in ENDPOINTS if e.name == slowest.endpoint)
    return profile(url, guild, endpoint, redis_url)


def warm_in_process(url: str, guild: Guild, redis_url: str, *, runs: int = 300) -> dict:
    """A cache hit of `dashboard week` as StatsResponder.respond serves it, without HTTP: the
    share of a warm answer that is the answer's own (snapshot, newest arrival, Redis GET)."""
    import psycopg

    endpoint = next(e for e in ENDPOINTS if e.name == "dashboard week")
    query = PeriodQuery.model_validate(endpoint.params)
    params = query.model_dump(mode="json", by_alias=True)
    settings = Settings(database_url=url, redis_url=redis_url, cache_ttl_seconds=3600)
    redis = RedisGate.from_url(redis_url)
    seconds = []
    with psycopg.connect(url, autocommit=True) as conn:
        answerer = responder.StatsResponder(guild.guild_id, conn, redis, settings)
        for _ in range(runs):
            started = time.perf_counter()
            answered = answerer.respond(
                "dashboard", params, lambda snap: dashboard.dashboard_answer(snap, query)
            )
            seconds.append(time.perf_counter() - started)
    redis.close()
    cuts = statistics.quantiles(seconds[runs // 10 :], n=100)
    return {
        "guild": guild.size,
        "cache": answered.headers.get("x-stats-cache"),
        "p50_ms": statistics.median(seconds[runs // 10 :]) * 1000,
        "p95_ms": cuts[94] * 1000,
    }


def render(result: dict[str, Any]) -> str:
    if "skipped" in result:
        return f"(profile skipped: {result['skipped']})"
    lines = [
        f"In process, median of {result['runs']} cold runs of `{result['endpoint']}` for the "
        f"{result['guild']} guild: {result['total_ms']:.1f} ms without HTTP.",
        "",
        "| phase (nested phases exclude their timed children) | calls | ms | share |",
        "|---|--:|--:|--:|",
    ]
    rows = [
        *result["phases"].items(),
        ("other: route code, answers, pydantic validation, transaction", result["other_ms"]),
        ("JSON encoding (model_dump_json)", result["json_ms"]),
    ]
    for path, ms in sorted(rows, key=lambda r: -r[1]):
        calls = result["calls"].get(path, 1)
        lines.append(f"| {path} | {calls} | {ms:.1f} | {ms / result['total_ms']:.0%} |")
    lines.append(f"\ncProfile of one more run: `{result['cprofile']}`.")
    return "\n".join(lines)
