"""The OpenAPI document fuzzed with Schemathesis: no 5xx, and every response (status, content type, headers,
body) is one the document declares. Cases come from each operation's Hypothesis strategy, valid and invalid
bodies both; the tiny model keeps generation short (max_tokens capped at 24). The count of cases run is asserted
and printed (`-s`)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from maaza.serve.app import create_app
from maaza.serve.settings import Limits, ServeSettings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
EXAMPLES = 40  # per operation and mode


def _fuzz(operation: Any, mode: Any, ran: dict[str, int]) -> None:
    label = f"{operation.method.upper()} {operation.path}"
    checks = [not_a_server_error, status_code_conformance] if operation.path == "/metrics" else CHECKS

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict) and "model" in case.body:
            case.body["model"] = "tiny"  # past the model lookup: fuzz messages, schemas, limits and decoding
        case.call_and_validate(checks=checks)
        ran[label] = ran.get(label, 0) + 1

    try:
        run()
    except Unsatisfiable:
        if mode is not GenerationMode.NEGATIVE:
            raise  # an operation without a body or typed parameters has no invalid input to send


def test_every_response_is_documented_and_none_is_5xx(served_tiny: Any) -> None:
    app = create_app([served_tiny], ServeSettings(limits=Limits(max_tokens=24, default_max_tokens=16)))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ran: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, ran)
    print(f"schemathesis cases: {sum(ran.values())} {ran}")
    assert len(ran) == 8, ran  # every route was fuzzed
    assert sum(ran.values()) >= 200
