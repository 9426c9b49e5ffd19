"""A bounded load test on loopback: 64 requests at concurrency 16, mixed chat (json_schema) and extraction.
0 errors and 0 schema-invalid answers; on the hf backend concurrent requests are decoded in batches."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from serve_helpers import live_server

from conftest import CONTACT_SCHEMA, ORDER_SCHEMA
from maaza.schemas import schema_valid
from maaza.serve.settings import ServeSettings

REQUESTS, CONCURRENCY = 64, 16


def _request(index: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    schema = CONTACT_SCHEMA if index % 2 else ORDER_SCHEMA
    text = f"Request {index}: Ann Lee, ann{index}@example.org, order A{index} of 2 x SKU{index % 9}"
    if index % 3 == 0:
        return "/v1/extract", {"text": text, "schema": schema, "max_tokens": 96}, schema
    return "/v1/chat/completions", {
        "model": "tiny", "messages": [{"role": "user", "content": text}], "max_tokens": 96,
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}}, schema


async def _run(url: str) -> list[tuple[int, Any, dict[str, Any]]]:
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def one(index: int) -> tuple[int, Any, dict[str, Any]]:
            path, body, schema = _request(index)
            async with gate:
                response = await client.post(path, json=body)
            if response.status_code != 200:
                return response.status_code, response.text, schema
            payload = response.json()
            value = payload["output"] if path == "/v1/extract" else json.loads(
                payload["choices"][0]["message"]["content"])
            return 200, value, schema

        return await asyncio.gather(*(one(i) for i in range(REQUESTS)))


def test_load_without_errors_or_invalid_answers(served_tiny: Any) -> None:
    with live_server([served_tiny], ServeSettings(queue_size=CONCURRENCY, max_batch=8)) as (url, app):
        results = asyncio.run(_run(url))
        worker = app.state.maaza.workers["tiny"]
        assert httpx.get(url + "/health").json()["queued"] == {"tiny": 0}
    errors = [(status, value) for status, value, _ in results if status != 200]
    assert not errors, errors[:3]
    invalid = [value for _, value, schema in results if not schema_valid(value, schema)[0]]
    assert not invalid, invalid[:3]
    assert worker.largest_batch > 1, "concurrent chat requests were never batched"
    assert worker.batches < REQUESTS
