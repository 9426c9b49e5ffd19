"""Every limit and error of the server (status code and message), the API key on and off, the full queue."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import httpx
import pytest
from serve_helpers import live_server

from maaza.serve.settings import Limits, ServeSettings
from maaza.serve.worker import Job

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "Bob, bob@x.io"}]
LIMITS = Limits(max_body_bytes=4000, max_messages=3, max_input_chars=200, max_schema_bytes=600, max_schema_depth=6,
                max_tokens=64, default_max_tokens=16, max_stop=2, max_tools=2, max_inputs=3)


@pytest.fixture(scope="module")
def server(served_tiny: Any) -> Any:
    with live_server([served_tiny], ServeSettings(limits=LIMITS)) as (url, app):
        yield url, app


def _post(url: str, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60, **kwargs)


def _error(response: httpx.Response, status: int, *needles: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    for needle in needles:
        assert needle in error["message"], error
    return error


def _schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        node = {"type": "object", "properties": {"a": node}}
    return node


@pytest.mark.parametrize("body,needles,param", [
    ({"model": "tiny", "messages": USER * 4}, ["max_messages limit exceeded: 4 > 3"], "messages"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "x" * 201}]}, ["max_input_chars", "201 > 200"],
     "messages"),
    ({"model": "tiny", "messages": USER, "max_tokens": 65}, ["max_tokens limit exceeded: 65 > 64"], "max_tokens"),
    ({"model": "tiny", "messages": USER, "stop": ["a", "b", "c"]}, ["max_stop"], "stop"),
    ({"model": "tiny", "messages": USER, "response_format": _schema_format(_nested(6))}, ["max_schema_depth"],
     "response_format.json_schema.schema"),
    ({"model": "tiny", "messages": USER, "response_format": _schema_format(
        {"type": "object", "properties": {f"field_{i}": {"type": "string"} for i in range(30)}})},
     ["max_schema_bytes"], "response_format.json_schema.schema"),
    ({"model": "tiny", "messages": USER, "response_format": _schema_format(
        {"type": "object", "properties": {"a": {"type": "string", "format": "iri"}}})},
     ["format 'iri'", "/properties/a"], "response_format.json_schema.schema"),
    ({"model": "tiny", "messages": USER, "response_format": _schema_format(
        {"type": "object", "properties": {"a": {"$ref": "file:///etc/passwd"}}})},
     ["$ref 'file:///etc/passwd'", "never files or URLs"], "response_format.json_schema.schema"),
    ({"model": "tiny", "messages": USER, "response_format": _schema_format(
        {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}})},
     ["Unimplemented keys", "if"], "response_format.json_schema.schema"),
    ({"model": "tiny", "messages": USER, "response_format": {"type": "json_schema"}}, ["json_schema.schema is required"],
     "response_format.json_schema.schema"),
    ({"model": "tiny", "messages": USER, "stop": "}", "response_format": {"type": "json_object"}},
     ["stop cannot be combined"], "stop"),
    ({"model": "tiny", "messages": []}, ["at least 1 item"], "messages"),
    ({"model": "tiny", "messages": [{"role": "robot", "content": "hi"}]}, ["messages.0.role"], "messages.0.role"),
    ({"messages": USER}, ["model: Field required"], "model"),
    ({"model": "tiny", "messages": USER, "tools": [{"type": "function", "function": {"name": "f"}}] * 3},
     ["max_tools"], "tools"),
])
def test_bad_requests_are_400_naming_the_field_or_limit(server: Any, body: dict[str, Any], needles: list[str],
                                                         param: str) -> None:
    url, _ = server
    error = _error(_post(url, CHAT, body), 400, *needles)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


def test_other_endpoints_check_their_inputs(server: Any) -> None:
    url, _ = server
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8}}}
    _error(_post(url, "/v1/extract", {"text": "  ", "schema": schema}), 400, "text is empty")
    _error(_post(url, "/v1/extract", {"text": "x" * 201, "schema": schema}), 400, "max_input_chars")
    _error(_post(url, "/v1/extract", {"text": "Bob", "schema": {"type": "array"}}), 400, "JSON object")
    _error(_post(url, "/v1/extract", {"text": "Bob", "schema": schema, "model": "nope"}), 404, "not served here")
    _error(_post(url, "/v1/classify", {"input": "hi"}), 400, "no served model can classify")
    _error(_post(url, "/v1/filter", {"input": "hi", "model": "tiny"}), 400, "cannot filter texts")
    _error(httpx.get(url + "/v1/models/nope"), 404, "model 'nope' is not served here")
    _error(httpx.get(url + "/no/such/path"), 404, "Not Found")


def test_body_size_and_malformed_json(server: Any) -> None:
    url, _ = server
    big = {"model": "tiny", "messages": USER, "user": "u" * 5000}
    error = _error(_post(url, CHAT, big), 413, "max_body_bytes limit exceeded")
    assert error["code"] == "max_body_bytes_exceeded"

    def chunks() -> Any:  # no Content-Length: the limit is counted while reading
        yield b'{"model": "tiny", "user": "'
        for _ in range(10):
            yield b"u" * 500
        yield b'"}'

    response = httpx.post(url + CHAT, content=chunks(), headers={"content-type": "application/json"}, timeout=30)
    _error(response, 413, "max_body_bytes")
    response = httpx.post(url + CHAT, content=b'{"model": "tiny", "messages": [', timeout=30,
                          headers={"content-type": "application/json"})
    _error(response, 400, "not valid JSON")


def test_a_full_queue_is_429_with_retry_after(served_tiny: Any) -> None:
    with live_server([served_tiny], ServeSettings(queue_size=1, limits=LIMITS)) as (url, app):
        state = app.state.maaza
        release = threading.Event()
        loop = asyncio.new_event_loop()
        blocker = Job(loop, loop.create_future(), "call", call=lambda _hook: release.wait(30))
        state.workers["tiny"].submit(blocker)  # the model is busy with one request: the queue (size 1) is full
        try:
            response = _post(url, CHAT, {"model": "tiny", "messages": USER})
            error = _error(response, 429, "queue_size 1")
            assert error["type"] == "rate_limit_error"
            assert int(response.headers["retry-after"]) >= 1
            health = httpx.get(url + "/health").json()
            assert health["queued"] == {"tiny": 1}
        finally:
            release.set()
        for _ in range(100):
            if state.workers["tiny"].depth() == 0:
                break
            threading.Event().wait(0.05)
        assert _post(url, CHAT, {"model": "tiny", "messages": USER, "max_tokens": 4}).status_code == 200
        loop.close()


def test_api_key_on_and_off(served_tiny: Any, caplog: pytest.LogCaptureFixture) -> None:
    key = "sk-test-4f1c9a0b77"
    body = {"model": "tiny", "messages": USER, "max_tokens": 4}
    caplog.set_level(logging.DEBUG)
    with live_server([served_tiny], ServeSettings(api_key=key, limits=LIMITS)) as (url, _app):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": key}, {"X-Api-Key": key}):
            error = _error(_post(url, CHAT, body, headers=headers), 401, "missing or wrong API key")
            assert error["type"] == "authentication_error"
        _error(httpx.get(url + "/metrics"), 401, "API key")
        assert _post(url, CHAT, body, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert httpx.get(url + "/health").status_code == 200  # probes need no key
        metrics = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {key}"}).text
    assert key not in metrics
    assert key not in caplog.text
    assert key not in repr(ServeSettings(api_key=key))
    with live_server([served_tiny], ServeSettings(limits=LIMITS)) as (url, _app):  # no key: open
        assert _post(url, CHAT, body).status_code == 200


def test_metrics_count_requests_errors_and_tokens(server: Any) -> None:
    url, _ = server
    assert _post(url, CHAT, {"model": "tiny", "messages": USER, "max_tokens": 5}).status_code == 200
    _post(url, CHAT, {"model": "tiny", "messages": USER, "max_tokens": 999})
    text = httpx.get(url + "/metrics").text
    assert 'maaza_requests_total{endpoint="/v1/chat/completions",model="tiny",status="200"}' in text
    assert 'maaza_requests_total{endpoint="/v1/chat/completions",model="tiny",status="400"}' in text
    assert 'maaza_errors_total{endpoint="/v1/chat/completions",type="invalid_request_error"}' in text
    assert 'maaza_request_seconds_bucket{endpoint="/v1/chat/completions",le="0.5"}' in text
    tokens = [line for line in text.splitlines() if line.startswith('maaza_generated_tokens_total{model="tiny"}')]
    assert tokens and float(tokens[0].split()[-1]) >= 5
    assert 'maaza_queue_depth{model="tiny"} 0.0' in text
    assert json.loads(httpx.get(url + "/health").text)["status"] == "ok"
