"""The task endpoints answer exactly what the Python APIs answer: /v1/extract, /v1/classify, /v1/filter."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from serve_helpers import live_server

from conftest import ORDER_SCHEMA
from maaza.schemas import schema_valid
from maaza.serve.models import ModelSpec, load_served_model
from maaza.tasks.filter.spans import redact

TEXTS = ["I lost my card yesterday, please block it", "Call me at +44 20 7946 0958 or mail ann.lee@example.org",
         "WINNER!! Claim your free prize now, text WIN to 80086"]


@pytest.fixture(scope="module")
def shipped_small() -> list[Any]:
    """The shipped INT8 intent classifier and filter (committed under benchmarks/artifacts)."""
    return [load_served_model(ModelSpec.parse(name)) for name in ("mlm-60m-intent", "nlm-5m-filter")]


def test_classify_and_filter_match_the_python_apis(shipped_small: list[Any]) -> None:
    intent, filt = shipped_small
    assert intent.capabilities == ("classify",) and filt.capabilities == ("filter",)
    with live_server(shipped_small) as (url, _app):
        reply = httpx.post(url + "/v1/classify", json={"input": TEXTS, "top_k": 3}, timeout=60).json()
        assert reply["model"] == "mlm-60m-intent"
        batch = intent.classifier.classify_batch(TEXTS, top_k=3)  # INT8 scores shift with padding: same batch
        for result, direct in zip(reply["results"], batch, strict=True):
            assert result["label"] == direct.label
            assert result["score"] == pytest.approx(direct.score, abs=1e-6)
            assert [entry["label"] for entry in result["top_k"]] == [label for label, _ in direct.top_k]
        single = httpx.post(url + "/v1/classify", json={"input": TEXTS[0], "model": "mlm-60m-intent"}).json()
        assert single["results"][0]["label"] == reply["results"][0]["label"]

        reply = httpx.post(url + "/v1/filter", json={"input": TEXTS, "redact": True}, timeout=60).json()
        checked = filt.filter.check_batch(TEXTS)
        for text, result, direct in zip(TEXTS, reply["results"], checked, strict=True):
            assert result["spam_score"] == pytest.approx(direct.spam_score, abs=1e-6)
            assert result["toxicity_label"] == direct.toxicity_label
            assert [(s["label"], s["start"], s["end"]) for s in result["pii"]] == [
                (s.label, s.start, s.end) for s in direct.pii]
            assert all(s["text"] == text[s["start"] : s["end"]] for s in result["pii"])
            assert result["redacted"] == redact(text, direct.pii)
        assert reply["results"][2]["is_spam"] is True  # the shipped filter knows this one
        ruled = httpx.post(url + "/v1/filter", json={"input": TEXTS[1], "rules": True}, timeout=60).json()
        assert [(s["label"], s["start"], s["end"]) for s in ruled["results"][0]["pii"]] == [
            (s.label, s.start, s.end) for s in filt.filter.check_batch(TEXTS[1:2], pii_rules=True)[0].pii]
        assert ("EMAIL_ADDRESS", "ann.lee@example.org") in {(s["label"], s["text"]) for s in ruled["results"][0]["pii"]}
        error = httpx.post(url + "/v1/chat/completions", json={
            "model": "mlm-60m-intent", "messages": [{"role": "user", "content": "hi"}]}).json()["error"]
        assert "cannot chat" in error["message"]


def test_extract_matches_the_extractor(served_tiny: Any) -> None:
    text = "Order A17 for Ann (age 40): 2 x SKU9, shipped."
    with live_server([served_tiny]) as (url, _app):
        for grounded in (False, True):
            reply = httpx.post(url + "/v1/extract", json={"text": text, "schema": ORDER_SCHEMA, "grounded": grounded,
                                                          "max_tokens": 128}, timeout=60)
            assert reply.status_code in (200, 422), reply.text
            direct = served_tiny.extractor.__class__(served_tiny.runtime, "hf", served_tiny.extractor.prompt_format,
                                                     grounded=grounded, max_new_tokens=128)
            try:
                expected = direct.extract(text, ORDER_SCHEMA)
            except Exception as exc:  # the tiny random model may fail a text: the server must say so too
                assert reply.status_code == 422 and "extraction failed" in reply.json()["error"]["message"], exc
                continue
            body = reply.json()
            assert body["output"] == expected
            assert schema_valid(body["output"], ORDER_SCHEMA)[0]
            assert body["usage"]["completion_tokens"] > 0
