"""Schemathesis against a served API, with real keys: no 5xx, every answer as documented."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from stats_testkit import fixed_events, midnight

from stats_platform.storage.api_keys import create_key
from tests.testkit.api import GUILD, Api

# Valid requests and invalid ones (which must be 4xx); about 60 s for the whole document.
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]


def checks_for(case: schemathesis.Case) -> list[Any]:
    """All of CHECKS, but an invalid event in a batch is a 202 with its rejection (contract
    §1), not a refused request: for the events body, negative data is checked by the 4xx
    answers of the whole-request rules only, which status_code_conformance covers."""
    if case.operation.path == "/v1/events":
        return [c for c in CHECKS if c is not checks.negative_data_rejection]
    return CHECKS


def test_no_operation_answers_5xx_or_off_its_schema(start_api: Callable[..., Api]) -> None:
    api = start_api(auth="on", STATS_RATE_LIMIT_PER_MINUTE="100000")
    with psycopg.connect(api.database_url, autocommit=True) as conn:
        ingest = create_key(conn, scope="ingest", all_guilds=True)[1]
        read = create_key(conn, scope="read", all_guilds=True)[1]
    sent = httpx.post(
        f"{api.url}/v1/events",
        json=fixed_events(midnight(10)),
        headers={"Authorization": f"Bearer {ingest}"},
    )
    assert sent.status_code == 202
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    # The live stream never ends, so a fuzzer's call would not return: its keys, guilds and
    # Redis-less answer are tested in test_live_stream.py.
    fuzzed = [o for o in operations if not o.path.endswith("/stats/live")]
    assert (len(operations), len(fuzzed)) == (11, 10)
    for operation in fuzzed:
        key = ingest if operation.path.startswith("/v1/events") else read
        for mode, examples in EXAMPLES.items():
            _fuzz(operation, mode, examples, api.url, key, failures)
    assert failures == []


def _fuzz(
    operation: Any, mode: GenerationMode, examples: int, url: str, key: str, failures: list[str]
) -> None:
    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=examples,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        if "guildId" in (case.path_parameters or {}):
            # The guild with data: a random one is a 404 before any parameter is read.
            case.path_parameters["guildId"] = GUILD
        try:
            case.call_and_validate(
                base_url=url, headers={"Authorization": f"Bearer {key}"}, checks=checks_for(case)
            )
        except Exception as exc:
            failures.append(f"{mode.value} {operation.method.upper()} {operation.path}: {exc}")

    try:
        run()
    except Unsatisfiable:
        # Nothing of the operation can be invalid (no parameters, no body): /healthz, /readyz.
        assert mode is GenerationMode.NEGATIVE and not operation.path.startswith("/v1/")
