"""Times cold stats answers in process, against whichever stats_api is first on sys.path.

Run by `benchmarks.api.in_process` as a child process, once with this tree and once with an
older tree's files first on PYTHONPATH, so both are timed by the same loop. It imports nothing
from `benchmarks` (the older tree may not have what this one does), reads a JSON job on stdin
and prints medians as JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import psycopg
from fastapi import HTTPException

from stats_api.api import responder
from stats_api.api.params import ActivityQuery, LeaderboardQuery, MemberListQuery, PeriodQuery
from stats_api.api.routes import activity, dashboard, leaderboard, members
from stats_api.redis_gate import RedisGate
from stats_platform.settings import Settings

ROUTES = {
    "dashboard": (dashboard.dashboard_answer, PeriodQuery),
    "members": (members._member_list, MemberListQuery),
    "leaderboard": (leaderboard._leaderboard, LeaderboardQuery),
    "activity": (activity._activity, ActivityQuery),
}


def answer(answerer: responder.StatsResponder, path: str, params: dict, user: str) -> float:
    """Seconds of one cold answer: the snapshot, the route's compute and its JSON."""
    started = time.perf_counter()
    with answerer.snapshot() as snap:
        if path == "members/{user}":
            model = members._member(snap, user, PeriodQuery.model_validate(params))
        else:
            route, query = ROUTES[path]
            model = route(snap, query.model_validate(params))
        model.model_dump_json(by_alias=True)
    return time.perf_counter() - started


def main() -> None:
    job = json.load(sys.stdin)
    settings = Settings(database_url=job["url"], redis_url=job["redis_url"], cache_ttl_seconds=0)
    redis = RedisGate.from_url(job["redis_url"])
    found = {}
    with psycopg.connect(job["url"], autocommit=True) as conn:
        for guild in job["guilds"]:
            answerer = responder.StatsResponder(guild["id"], conn, redis, settings)
            for endpoint in job["endpoints"]:
                args = (endpoint["path"], endpoint["params"], guild["user"])
                try:
                    answer(answerer, *args)  # the first answer also warms imports and plans
                except HTTPException:
                    continue  # a guild too quiet for this question (no member to detail)
                seconds = [answer(answerer, *args) for _ in range(job["runs"])]
                found[f"{guild['size']}|{endpoint['name']}"] = statistics.median(seconds) * 1000
    redis.close()
    print(json.dumps(found))


if __name__ == "__main__":
    main()
