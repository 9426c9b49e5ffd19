"""The bundled GGUF behind `maaza serve` (llamacpp backend) and behind llama.cpp's own OpenAI-compatible server
(`llama-cpp-python[server]`, as docs/deploy.md runs it), called the same way with the official client.

Both answer a schema-constrained request with JSON that validates. Where they differ is recorded by assertions:
llama-cpp-python's server (0.3.x) takes the schema in its own form, `{"type": "json_object", "schema": ...}`,
and answers OpenAI's `json_schema` form with HTTP 500; for a schema with a keyword no grammar enforces
(`uniqueItems`) it answers 200 without enforcing it, while `maaza serve` refuses it with a 400 naming the keyword.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import openai
import pytest
from serve_helpers import live_server

from maaza.data.local_server import SERVER_MODULES, llama_cpp_server
from maaza.schemas import schema_valid

pytestmark = pytest.mark.integration
missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]

SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                                           "email": {"type": "string", "maxLength": 30},
                                           "vip": {"type": "boolean"}},
          "required": ["name", "email", "vip"], "additionalProperties": False}
UNENFORCEABLE = {"type": "object", "properties": {"tags": {"type": "array", "items": {"enum": ["a", "b"]},
                                                           "minItems": 3, "maxItems": 3, "uniqueItems": True}},
                 "required": ["tags"], "additionalProperties": False}
MESSAGES = [{"role": "user", "content": "Contact: Ann Lee, ann.lee@example.org, a VIP customer. As JSON please."}]


def _format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "contact", "schema": schema, "strict": True}}


@pytest.fixture(scope="module")
def bundled_gguf() -> Path:
    from maaza.models.registry import BUILTIN_MODELS

    return BUILTIN_MODELS["smollm2-135m"].locate_gguf()


@pytest.fixture(scope="module")
def maaza_client(bundled_gguf: Path) -> Any:
    from maaza.serve.models import ModelSpec, load_served_model

    served = load_served_model(ModelSpec.parse(f"smollm2={bundled_gguf}"))
    assert served.backend == "llamacpp"
    try:
        with live_server([served]) as (url, _app):
            yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    finally:
        served.close()


def test_maaza_serve_on_llamacpp_streams_the_same_answer(maaza_client: Any) -> None:
    whole = maaza_client.chat.completions.create(model="smollm2", messages=MESSAGES, max_tokens=64,
                                                 response_format=_format(SCHEMA))
    value = json.loads(whole.choices[0].message.content)
    assert schema_valid(value, SCHEMA)[0]
    assert value["name"] == "Ann Lee"  # the real model reads the text
    pieces = [c.choices[0].delta.content or "" for c in maaza_client.chat.completions.create(
        model="smollm2", messages=MESSAGES, max_tokens=64, response_format=_format(SCHEMA), stream=True) if c.choices]
    assert "".join(pieces) == whole.choices[0].message.content
    with pytest.raises(openai.BadRequestError, match="uniqueItems"):
        maaza_client.chat.completions.create(model="smollm2", messages=MESSAGES, response_format=_format(UNENFORCEABLE))


@pytest.mark.skipif(bool(missing), reason=f"llama-cpp-python's server is not installed (missing {missing})")
def test_llama_cpp_server_answers_validate_but_it_accepts_what_it_cannot_enforce(
    bundled_gguf: Path, tmp_path: Path, maaza_client: Any
) -> None:
    with llama_cpp_server(bundled_gguf, alias="smollm2", log_path=tmp_path / "server.log") as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.InternalServerError, match="json_schema"):  # OpenAI's form: not understood
            client.chat.completions.create(model="smollm2", messages=MESSAGES, max_tokens=64,
                                           response_format=_format(SCHEMA))
        reply = client.chat.completions.create(model="smollm2", messages=MESSAGES, max_tokens=64, temperature=0,
                                               response_format={"type": "json_object", "schema": SCHEMA})
        theirs = json.loads(reply.choices[0].message.content)
        assert schema_valid(theirs, SCHEMA)[0]
        loose = client.chat.completions.create(model="smollm2", messages=MESSAGES, max_tokens=64, temperature=0,
                                               response_format={"type": "json_object", "schema": UNENFORCEABLE})
        assert loose.choices[0].finish_reason in ("stop", "length")  # HTTP 200: no error for uniqueItems
    ours = json.loads(maaza_client.chat.completions.create(
        model="smollm2", messages=MESSAGES, max_tokens=64, response_format=_format(SCHEMA)).choices[0].message.content)
    assert set(ours) == set(theirs) == {"name", "email", "vip"}
