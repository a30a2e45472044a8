"""Schemathesis fuzzes every operation of the app's own /openapi.json, in-process, for two roles
(the city organisation department and a community's staff): no 500, no request hanging past
10 s, and every answer matches the schema it declares (status code and body).

Cases are generated with hypothesis (bounded, derandomized so a run is repeatable) and sent through
httpx's ASGI transport on the test's own event loop (the app's asyncpg pool lives there)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance
from temporalio.client import Client

from api.app import create_app
from db.pool import Pool
from tests.api_fixtures import ApiCity, api_city_fixture  # noqa: F401

EXAMPLES_PER_OPERATION = 2
REQUEST_TIMEOUT_S = 10.0
FAR = 10**12
ROLES = ["org_city", "staff_a"]
# Left out, each for a reason: revoking a token can hit the fuzzer's own (ids are small numbers),
# after which every call is 401 and nothing more is tested; the roster upload is multipart, which
# schemathesis cannot re-read from the ASGI request to check (tests/test_roster_front_doors.py
# covers it).
EXCLUDED = {("POST", "/tokens/{token_id}/revoke"), ("POST", "/imports")}
_SENT_KEYS = {"method", "url", "headers", "params", "json", "data", "files", "cookies", "content"}


def _cases(schema: Any) -> list[Any]:
    """Every operation's generated cases (bounded, the same cases on every run)."""
    cases: list[Any] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        @given(case=operation.as_strategy())
        def collect(case: Any) -> None:
            cases.append(case)

        collect()
    return cases


@pytest.mark.parametrize("actor", ROLES)
async def test_openapi_fuzz(actor: str, pool: Pool, client: Client, api_city: ApiCity,
                            task_queue: str) -> None:
    app = create_app(pool=pool, temporal_client=client)
    app.state.task_queue = task_queue
    schema = schemathesis.openapi.from_dict(app.openapi())
    cases = _cases(schema)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        for case in cases:
            # Ids far above any row the rest of the suite creates: a fuzzed call must not reach a
            # real task or campaign another test left waiting on a queue nobody polls any more.
            case.path_parameters = {k: (v + FAR if isinstance(v, int) and 0 < v < FAR else v)
                                    for k, v in (case.path_parameters or {}).items()}
            kwargs = {k: v for k, v in case.as_transport_kwargs(base_url="http://api").items()
                      if k in _SENT_KEYS}
            headers = dict(kwargs.pop("headers", None) or {})
            headers.update(api_city.auth(actor))
            label = f"{case.method} {case.formatted_path}"
            try:
                response = await asyncio.wait_for(http.request(headers=headers, **kwargs),
                                                  timeout=REQUEST_TIMEOUT_S)
            except TimeoutError:
                failures.append(f"{label}: no answer within {REQUEST_TIMEOUT_S} s")
                continue
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            try:
                case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                         response_schema_conformance])
            except Exception as exc:
                failures.append(f"{label} → {response.status_code}: {str(exc)[:600]}")
    print(f"\nfuzz {actor}: {len(cases)} cases, statuses {sorted(statuses.items())}")
    assert len(cases) >= 100, len(cases)
    assert not failures, "\n".join(failures)
