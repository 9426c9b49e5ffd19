from __future__ import annotations

import json

import pytest

from maaza.decoding.json_parse import (
    JsonObjectTracker,
    ParseResult,
    find_json_object_end,
    parse_json_output,
)

DEEP_OBJECT = {"a": {"b": {"c": {"d": {"e": 1}}}}, "z": [1, {"y": None}]}


# ------------------------------------------------------------------------------------ parse_json_output


def test_whole_text_object() -> None:
    assert parse_json_output('  {"name": "Ada", "age": 36}\n') == ParseResult(
        {"name": "Ada", "age": 36}, "whole"
    )


def test_json_fence_is_used() -> None:
    text = 'Here you go:\n```json\n{"title": "Hi", "tags": ["a", "b"]}\n```\nAnything else?'
    assert parse_json_output(text) == ParseResult({"title": "Hi", "tags": ["a", "b"]}, "fenced")


def test_bare_fence_is_used() -> None:
    text = '```\n{"ok": true}\n```'
    assert parse_json_output(text) == ParseResult({"ok": True}, "fenced")


def test_fence_holding_a_list_falls_through_to_scan() -> None:
    text = '```json\n[1, 2]\n```\nthen {"k": 1}'
    assert parse_json_output(text) == ParseResult({"k": 1}, "scan")


def test_trailing_text_after_object() -> None:
    text = '{"level": "INFO", "message": "ok"}\n\nThis JSON describes the log entry.'
    assert parse_json_output(text) == ParseResult({"level": "INFO", "message": "ok"}, "scan")


def test_leading_chatter_before_object() -> None:
    text = 'Sure! The extracted data is: {"city": "Paris", "lat": 48.85}'
    assert parse_json_output(text) == ParseResult({"city": "Paris", "lat": 48.85}, "scan")


def test_nesting_depth_four_is_found_where_the_authors_regex_fails() -> None:
    text = "Output: " + json.dumps(DEEP_OBJECT) + " -- end"
    assert parse_json_output(text) == ParseResult(DEEP_OBJECT, "scan")


def test_braces_inside_strings_do_not_confuse_the_scanner() -> None:
    expected = {"template": "Hello {name}, see }{ and {{x}}", "n": 2}
    text = "prefix " + json.dumps(expected) + " suffix }"
    assert parse_json_output(text) == ParseResult(expected, "scan")


def test_escaped_quotes_and_backslashes_inside_strings() -> None:
    expected = {"quote": 'She said "}" loudly', "path": "C:\\dir\\", "after": "{"}
    text = "x " + json.dumps(expected) + " y"
    assert parse_json_output(text) == ParseResult(expected, "scan")


def test_unclosed_object_fails() -> None:
    assert parse_json_output('{"name": "Ada", "address": {"city": "Paris"}, "age": ') == ParseResult(
        None, "fail"
    )


def test_truncated_object_does_not_return_a_nested_fragment() -> None:
    result = parse_json_output('Answer: {"outer": {"inner": 1}, "more": [')
    assert result == ParseResult(None, "fail")


def test_top_level_list_of_scalars_fails() -> None:
    assert parse_json_output("[1, 2, 3]") == ParseResult(None, "fail")


def test_top_level_scalar_fails() -> None:
    assert parse_json_output('"just a string"') == ParseResult(None, "fail")
    assert parse_json_output("42") == ParseResult(None, "fail")


def test_top_level_list_of_objects_yields_first_object_by_scan() -> None:
    assert parse_json_output('[{"a": 1}, {"b": 2}]') == ParseResult({"a": 1}, "scan")


def test_invalid_first_candidate_then_valid_later() -> None:
    text = "{'name': 'single quotes'}\nCorrected: {\"name\": \"double quotes\"}"
    assert parse_json_output(text) == ParseResult({"name": "double quotes"}, "scan")


def test_invalid_candidate_skips_its_own_nested_objects() -> None:
    text = '{\'outer\': {"inner": 1}} and {"good": true}'
    assert parse_json_output(text) == ParseResult({"good": True}, "scan")


def test_no_json_at_all_fails() -> None:
    result = parse_json_output("I could not find any data.")
    assert result == ParseResult(None, "fail")
    assert not result.ok


def test_empty_object_is_a_success() -> None:
    result = parse_json_output("{}")
    assert result == ParseResult({}, "whole")
    assert result.ok


# -------------------------------------------------------------------------------- find_json_object_end


@pytest.mark.parametrize(
    ("text", "start", "expected_end"),
    [
        ('{"a": 1}', 0, 8),
        ('xx {"a": {"b": [1, {"c": 2}]}} yy', 0, 30),
        ('{"s": "}{"}', 0, 11),
        ('{"s": "\\"}"}', 0, 12),
        ('{"s": "\\\\"}', 0, 11),
        ('{"a": 1} {"b": 2}', 1, 17),
        ("{}", 0, 2),
    ],
)
def test_find_json_object_end_closed(text: str, start: int, expected_end: int) -> None:
    assert find_json_object_end(text, start) == expected_end


@pytest.mark.parametrize(
    "text",
    ["", "no braces", '{"a": 1', '{"a": "}', '{"a": "\\', '{"a": {"b": 2}', '{"s": "\\"}'],
)
def test_find_json_object_end_open(text: str) -> None:
    assert find_json_object_end(text) is None


def test_find_json_object_end_matches_json_decoder_on_nested_text() -> None:
    body = json.dumps(DEEP_OBJECT | {"tricky": 'x}"{\\'})
    text = "lead " + body + " trail"
    assert find_json_object_end(text) == len("lead ") + len(body)


def test_find_json_object_end_is_none_on_every_proper_prefix() -> None:
    body = json.dumps({"k": ['}"{', {"deep": {"er": "\\}"}}]})
    for cut in range(len(body)):
        assert find_json_object_end(body[:cut]) is None
    assert find_json_object_end(body) == len(body)


# ----------------------------------------------------------------------------------- JsonObjectTracker

STREAM_TEXT = 'Sure: {"a": "b}\\"{", "n": {"m": [1, {"x": "\\\\"}]}} trailing {"second": 1}'


def test_tracker_char_by_char_equals_all_at_once() -> None:
    whole = JsonObjectTracker()
    assert whole.feed(STREAM_TEXT)

    incremental = JsonObjectTracker()
    results = [incremental.feed(char) for char in STREAM_TEXT]

    assert incremental.closed_at == whole.closed_at == find_json_object_end(STREAM_TEXT)
    assert incremental.started_at == whole.started_at == STREAM_TEXT.index("{")
    first_true = results.index(True)
    assert first_true == whole.closed_at - 1
    assert all(results[first_true:])
    assert not any(results[:first_true])


@pytest.mark.parametrize("chunk_size", [2, 3, 5, 7])
def test_tracker_arbitrary_chunking(chunk_size: int) -> None:
    tracker = JsonObjectTracker()
    for offset in range(0, len(STREAM_TEXT), chunk_size):
        tracker.feed(STREAM_TEXT[offset : offset + chunk_size])
    assert tracker.closed
    assert tracker.closed_at == find_json_object_end(STREAM_TEXT)
    assert json.loads(STREAM_TEXT[tracker.started_at : tracker.closed_at]) == {
        "a": 'b}"{',
        "n": {"m": [1, {"x": "\\"}]},
    }


def test_tracker_escape_split_across_chunks() -> None:
    tracker = JsonObjectTracker()
    assert not tracker.feed('{"q": "\\')
    assert not tracker.feed('"')  # escaped quote: string still open
    assert not tracker.feed("}")  # brace inside the string
    assert tracker.feed('"}')
    assert tracker.closed_at == len('{"q": "\\"}"}')


def test_tracker_stays_open_without_object() -> None:
    tracker = JsonObjectTracker()
    assert not tracker.feed('some "quoted" chatter } ')
    assert not tracker.feed('{"a": [1, 2')
    assert tracker.closed_at is None
    assert tracker.started_at == len('some "quoted" chatter } ')
