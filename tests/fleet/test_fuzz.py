"""Schemathesis against the collector's own OpenAPI spec: every generated request must get
an answer below 500. Runs in-process on each backend; each request carries a token of the
role its endpoint is meant for (so the fuzzer gets past authentication)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from .helpers import Fleet, make_chunk

pytestmark = pytest.mark.fleet
EXAMPLES_PER_OPERATION = 60


def _role(path: str) -> str:
    if path.startswith("/v1/admin"):
        return "admin"
    if path.startswith("/v1/audit"):
        return "auditor"
    if path.startswith(("/v1/sessions", "/v1/erasures")):
        return "curator"
    return "contributor"


def test_schemathesis_zero_server_errors(backend):
    fleet = Fleet.start(backend, rate_per_s=1e6, rate_burst=10**6)
    try:
        dev = fleet.enroll("fuzzer")
        fleet.put(dev, make_chunk().data)
        tokens = {**fleet.tokens, "contributor": dev.token}
        schema = schemathesis.openapi.from_asgi("/openapi.json", fleet.client.app)
        count, errors = {"n": 0}, []
        for result in schema.get_all_operations():
            op = result.ok()

            @given(case=op.as_strategy())
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                token = tokens[_role(case.path)]
                if case.method == "DELETE" and case.path == "/v1/me":
                    token = "wp_not_a_token"           # keep the fuzzer's own data
                if count["n"] % 11 == 0:
                    token = tokens["auditor"]          # some requests with the wrong role
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
                response = case.call()
                count["n"] += 1
                if response.status_code >= 500:
                    errors.append((case.method, case.path, response.status_code, response.text[:300]))

            run()
        print(f"\nschemathesis [{backend.name}]: {count['n']} requests, {len(errors)} server errors")
        assert count["n"] >= 1000
        assert errors == []
    finally:
        fleet.close()
