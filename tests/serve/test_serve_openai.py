"""The server as users call it: the official `openai` client against a live server on loopback."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from serve_helpers import live_server

from conftest import CONTACT_SCHEMA, ORDER_SCHEMA
from maaza.schemas import schema_valid

MESSAGES = [{"role": "system", "content": "You extract contacts."}, {"role": "user", "content": "Bob, bob@x.io"}]


@pytest.fixture(scope="module")
def client(served_tiny: Any, served_tiny_tools: Any) -> Any:
    with live_server([served_tiny, served_tiny_tools]) as (url, _app):
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)


def _json_format(schema: dict[str, Any], name: str = "contact") -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def test_models_are_listed_with_their_capabilities(client: Any) -> None:
    models = {model.id: model for model in client.models.list().data}
    assert set(models) == {"tiny", "tiny-tools"}
    assert models["tiny"].model_extra["capabilities"] == ["chat", "extract"]
    assert models["tiny-tools"].model_extra["capabilities"] == ["chat", "tools"]
    assert client.models.retrieve("tiny").id == "tiny"


def test_plain_chat_counts_tokens_and_stops_at_max_tokens(client: Any) -> None:
    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=7)
    choice = reply.choices[0]
    assert isinstance(choice.message.content, str)
    assert reply.usage.completion_tokens <= 7
    assert reply.usage.prompt_tokens > 10
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert choice.finish_reason == ("length" if reply.usage.completion_tokens == 7 else "stop")


@pytest.mark.parametrize("schema", [CONTACT_SCHEMA, ORDER_SCHEMA], ids=["contact", "order"])
def test_json_schema_answers_always_validate(client: Any, schema: dict[str, Any]) -> None:
    for text in ("Bob, bob@x.io", "order A17: 2 x SKU9 for Ann, 40", "nothing here"):
        reply = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": text}], max_tokens=96,
            response_format=_json_format(schema))
        value = json.loads(reply.choices[0].message.content)
        assert schema_valid(value, schema)[0], value


def test_json_object_answers_are_objects(client: Any) -> None:
    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=48,
                                           response_format={"type": "json_object"})
    assert isinstance(json.loads(reply.choices[0].message.content), dict)


@pytest.mark.parametrize("fmt", [None, "schema"])
def test_streamed_chunks_concatenate_to_the_non_streamed_answer(client: Any, fmt: str | None) -> None:
    extra: dict[str, Any] = {"response_format": _json_format(CONTACT_SCHEMA)} if fmt else {}
    whole = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=40, **extra)
    stream = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=40, stream=True,
                                            stream_options={"include_usage": True}, **extra)
    pieces, finishes, usage = [], [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
    assert len([p for p in pieces if p]) >= 2  # really streamed, not one blob
    assert "".join(pieces) == whole.choices[0].message.content
    assert finishes == [whole.choices[0].finish_reason]
    assert usage is not None and usage.completion_tokens == whole.usage.completion_tokens


def test_stop_strings_end_generation_streamed_or_not(client: Any) -> None:
    full = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=24)
    text = full.choices[0].message.content
    stop = text[2:5]  # the random tiny model's text: cut it after its first characters
    assert len(stop) == 3
    expected = text[: text.find(stop)]
    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=24, stop=[stop, "zzz"])
    assert reply.choices[0].message.content == expected
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens < full.usage.completion_tokens  # generation ended there
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="tiny", messages=MESSAGES, max_tokens=24, stop=stop, stream=True) if c.choices)
    assert streamed == expected


def test_tools_go_to_the_function_calling_model(client: Any) -> None:
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
                                                        "unit": {"type": "string", "enum": ["c", "f"]}},
                       "required": ["city"]}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {
            "type": "object", "properties": {"zone": {"type": "string", "maxLength": 8}}, "required": ["zone"]}}}]
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    # sent to the chat model: routed to the one served model that calls tools
    reply = client.chat.completions.create(model="tiny", messages=messages, tools=tools, tool_choice="required",
                                           max_tokens=96)
    assert reply.model == "tiny-tools"
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    for call in choice.message.tool_calls:
        assert call.function.name in {"get_weather", "get_time"}
        arguments = json.loads(call.function.arguments)
        assert ("city" in arguments) if call.function.name == "get_weather" else ("zone" in arguments)
    named = client.chat.completions.create(model="tiny-tools", messages=messages, tools=tools, max_tokens=96,
                                           tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert {c.function.name for c in named.choices[0].message.tool_calls} == {"get_time"}
    streamed = list(client.chat.completions.create(model="tiny-tools", messages=messages, tools=tools,
                                                   tool_choice="required", max_tokens=96, stream=True))
    calls = [tc for c in streamed for ch in c.choices for tc in (ch.delta.tool_calls or [])]
    assert [c.function.name for c in calls] == [c.function.name for c in choice.message.tool_calls]


def test_errors_come_back_as_openai_errors(client: Any) -> None:
    with pytest.raises(openai.NotFoundError, match="not served here"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError, match="uniqueItems"):
        client.chat.completions.create(model="tiny", messages=MESSAGES, response_format=_json_format(
            {"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}}}))
    with pytest.raises(openai.BadRequestError, match="only n=1"):
        client.chat.completions.create(model="tiny", messages=MESSAGES, n=2)
    with pytest.raises(openai.BadRequestError, match="tools") as caught:
        client.chat.completions.create(model="tiny", messages=MESSAGES, tools=[
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
                "x": {"type": "string", "not": {"const": "a"}}}}}}])
    assert caught.value.body["param"] == "tools[0].function.parameters"
