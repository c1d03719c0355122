"""core-server's public API keeps its OpenAPI contract through nginx: schemathesis generates valid
and invalid requests from the document core-server serves at /api/openapi.json (the checked-in
core-server/src/main/resources/openapi/core-api.json) and checks every answer against it: no 5xx,
only documented statuses, content types, headers and bodies (problem+json errors included)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.generation import GenerationMode

pytestmark = pytest.mark.smoke

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    # Invalid input (wrong types, unknown fields, bad Idempotency-Key, ...) must be a 4xx.
    checks.negative_data_rejection,
]


@pytest.fixture(scope="module")
def core_api(lab_http: httpx.Client) -> Any:
    response = lab_http.get("/api/openapi.json")
    response.raise_for_status()
    schema = schemathesis.openapi.from_dict(response.json())
    # The document's server is "/": requests go to the entry point the document came from.
    schema.config.update(base_url=str(lab_http.base_url).rstrip("/"), request_timeout=10)
    return schema


# schemathesis.pytest.from_fixture would give one test per operation, but 4.32 reads pytest's
# private Node._nodeid, gone in pytest 9 (AttributeError); so: one subtest per operation, each a
# Hypothesis run over that operation's strategy (the Python API that from_fixture wraps).
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda mode: mode.value)
def test_public_api_conforms_to_its_openapi_contract(
    core_api: Any, mode: GenerationMode, subtests: pytest.Subtests
) -> None:
    operations = [result.ok() for result in core_api.get_all_operations()]
    assert operations, "the contract has no operations"
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not (any(operation.iter_parameters()) or operation.body):
            continue  # nothing to make invalid (GET /api/health, GET /api/jobs/stats)
        with subtests.test(msg=f"{mode.value} {operation.label}"):
            # Bounded and repeatable: 25 requests per operation and mode, the same ones every run.
            # No deadline: a request's time is the lab's, not the generator's; no example database.
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=25,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def requests_conform(case: schemathesis.Case) -> None:
                case.call_and_validate(checks=CHECKS)

            requests_conform()
