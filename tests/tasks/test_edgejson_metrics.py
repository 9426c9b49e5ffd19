from __future__ import annotations

import copy
from typing import Any

import pytest

from maaza import schemas
from maaza.schemas import (
    flatten_leaves,
    format_leaf_path,
    is_lenient_date_time,
    json_type_name,
    schema_valid,
    values_equal,
)
from maaza.tasks.edgejson import metrics
from maaza.tasks.edgejson.metrics import (
    SCORE_FIELDS,
    aggregate,
    field_f1,
    json_exact,
    leaf_f1,
    schema_compliance,
    score_example,
)

NOTIFICATION_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "priority": {"type": "string", "enum": ["low", "high"]},
    },
    "required": ["title"],
    "additionalProperties": False,
}

ORDER_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email"},
        "order_date": {"type": "string", "format": "date"},
        "order_id": {"type": "string", "format": "uuid"},
        "site": {"type": "string", "format": "uri"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
                "required": ["sku", "qty"],
            },
        },
    },
    "required": ["email", "items"],
}

GOOD_ORDER: dict[str, Any] = {
    "email": "ada@example.com",
    "order_date": "2024-02-29",
    "order_id": "82377bd0-87e5-45c1-bdfc-b03a8f11b60e",
    "site": "https://example.com/shop",
    "items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}],
}


# ------------------------------------------------------------------------------------------- equality


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (1, 1.0, True),
        (0.5, 0.5, True),
        (True, 1, False),
        (1.0, True, False),
        (False, 0, False),
        (True, True, True),
        (None, None, True),
        (None, 0, False),
        ("1", 1, False),
        ([1, 2], [1.0, 2.0], True),
        ([1, 2], [2, 1], False),
        ([1], [1, 1], False),
        ({"a": False}, {"a": 0}, False),
        ({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1.0, {"c": 2.0}]}}, True),
        ({"a": 1}, {"a": 1, "b": None}, False),
        ({}, [], False),
    ],
)
def test_values_equal(left: Any, right: Any, equal: bool) -> None:
    assert values_equal(left, right) is equal
    assert values_equal(right, left) is equal


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (None, "null"),
        (True, "boolean"),
        (3, "number"),
        (3.5, "number"),
        ("s", "string"),
        ([], "array"),
        ({}, "object"),
    ],
)
def test_json_type_name(value: Any, type_name: str) -> None:
    assert json_type_name(value) == type_name


# ----------------------------------------------------------------------------------------- json_exact


def test_json_exact_int_float_equal_bool_strict() -> None:
    expected = {"count": 1, "ratio": 0.5, "on": True}
    assert json_exact({"count": 1.0, "ratio": 0.5, "on": True}, expected)
    assert not json_exact({"count": True, "ratio": 0.5, "on": True}, expected)
    assert not json_exact({"count": 1, "ratio": 0.5, "on": 1}, expected)


def test_json_exact_rejects_non_dicts_and_extra_keys() -> None:
    assert not json_exact(None, {"a": 1})
    assert not json_exact([{"a": 1}], {"a": 1})
    assert not json_exact({"a": 1, "b": 2}, {"a": 1})


# ------------------------------------------------------------------------------------------- field_f1


def test_field_f1_hand_computed() -> None:
    expected = {"a": 1, "b": "x", "c": True, "d": [1, 2]}
    pred = {"a": 1.0, "b": "x", "c": 1}  # a, b correct; c is a number, not a bool; d missing
    # P = 2/3, R = 2/4, F1 = 2PR/(P+R) = 4/7
    assert field_f1(pred, expected) == pytest.approx(4 / 7)


def test_field_f1_nested_value_is_all_or_nothing() -> None:
    expected = {"user": {"name": "Ada", "age": 36}, "id": 7}
    pred = {"user": {"name": "Ada", "age": 37}, "id": 7}
    assert field_f1(pred, expected) == pytest.approx(0.5)  # P = R = 1/2


def test_field_f1_edges() -> None:
    assert field_f1({}, {}) == 1.0
    assert field_f1({}, {"a": 1}) == 0.0
    assert field_f1({"a": 1}, {}) == 0.0
    assert field_f1(None, {"a": 1}) == 0.0
    assert field_f1(["a"], {"a": 1}) == 0.0
    assert field_f1({"a": 2}, {"a": 1}) == 0.0
    assert field_f1({"a": 1}, {"a": 1}) == 1.0


# ---------------------------------------------------------------------------------- schema_compliance


def test_schema_compliance_types() -> None:
    expected = {"n": 1, "x": 2.5, "flag": False, "none": None, "tags": ["a"], "meta": {"k": 1}}
    compliant = {"n": 2.0, "x": 3, "flag": True, "none": None, "tags": [], "meta": {}, "extra": "ok"}
    assert schema_compliance(compliant, expected)
    assert not schema_compliance(compliant | {"n": True}, expected)  # bool is not a number
    assert not schema_compliance(compliant | {"flag": 0}, expected)
    assert not schema_compliance(compliant | {"none": "null"}, expected)
    assert not schema_compliance(compliant | {"tags": "a"}, expected)
    assert not schema_compliance({k: v for k, v in compliant.items() if k != "meta"}, expected)


def test_schema_compliance_non_dict_and_empty() -> None:
    assert not schema_compliance(None, {"a": 1})
    assert not schema_compliance([1], {"a": 1})
    assert not schema_compliance({}, {})  # the authors' `if not predicted` rejects an empty prediction


# -------------------------------------------------------------------------------------------- leaf_f1


def test_flatten_leaves_and_paths() -> None:
    value = {"a": {"b": [1, {"c": None}], "e": {}}, "f": [], "g.h": "dot"}
    leaves = flatten_leaves(value)
    assert leaves == {
        ("a", "b", 0): 1,
        ("a", "b", 1, "c"): None,
        ("a", "e"): {},
        ("f",): [],
        ("g.h",): "dot",
    }
    assert [format_leaf_path(path) for path in leaves] == ["a.b[0]", "a.b[1].c", "a.e", "f", "g.h"]
    assert flatten_leaves({}) == {(): {}}
    assert format_leaf_path(()) == ""


def test_leaf_f1_hand_computed() -> None:
    expected = {"a": {"b": [1, 2], "c": "x"}, "d": {}}  # leaves: a.b[0], a.b[1], a.c, d
    pred = {"a": {"b": [1, 3], "c": "x"}, "d": {}, "e": 5}  # correct: a.b[0], a.c, d of 5 leaves
    # P = 3/5, R = 3/4, F1 = 2/3; FieldF1 only credits "d": P = 1/3, R = 1/2, F1 = 2/5
    assert leaf_f1(pred, expected) == pytest.approx(2 / 3)
    assert field_f1(pred, expected) == pytest.approx(2 / 5)


def test_leaf_f1_edges() -> None:
    assert leaf_f1(None, {"a": 1}) == 0.0
    assert leaf_f1([{"a": 1}], {"a": 1}) == 0.0
    assert leaf_f1({}, {}) == 1.0
    assert leaf_f1({"a": [1.0, True]}, {"a": [1, True]}) == 1.0
    assert leaf_f1({"a": [True]}, {"a": [1]}) == 0.0
    assert leaf_f1({"a": {}}, {"a": {"b": 1}}) == 0.0


# --------------------------------------------------------------------------------------- schema_valid


def test_schema_valid_accepts_good_instance() -> None:
    assert schema_valid(GOOD_ORDER, ORDER_SCHEMA) == (True, None)


def test_timestamp_without_zone_is_lenient_only() -> None:
    note = {"title": "Hi", "timestamp": "2005-07-03T17:42:53.545351"}
    assert schema_valid(note, NOTIFICATION_SCHEMA) == (True, None)
    is_valid, error = schema_valid(note, NOTIFICATION_SCHEMA, lenient_datetime=False)
    assert not is_valid
    assert error is not None and error.startswith("$.timestamp: ") and "date-time" in error


def test_timestamp_with_zone_passes_both_modes() -> None:
    note = {"title": "Hi", "timestamp": "2005-07-03T17:42:53Z"}
    assert schema_valid(note, NOTIFICATION_SCHEMA, lenient_datetime=False) == (True, None)
    assert schema_valid(note, NOTIFICATION_SCHEMA, lenient_datetime=True) == (True, None)


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("2005-07-03T17:42:53.545351", True),
        ("2005-07-03 17:42:53", True),
        ("2005-07-03T17:42", True),
        ("2005-07-03t17:42:53z", True),
        ("2005-07-03T17:42:53+05:30", True),
        ("2005-07-03", False),
        ("2005-07-03T25:00:00", False),
        ("2005-02-30T10:00:00", False),
        ("20050703T174253", False),
        ("yesterday", False),
        (17, True),  # formats only constrain strings
    ],
)
def test_is_lenient_date_time(text: object, accepted: bool) -> None:
    assert is_lenient_date_time(text) is accepted


@pytest.mark.parametrize(
    ("field", "bad_value"),
    [
        ("email", "not-an-email"),
        ("order_date", "2023-02-29"),
        ("order_id", "82377bd0-87e5-45c1-bdfc"),
        ("site", "not a uri"),
    ],
)
def test_schema_valid_checks_formats(field: str, bad_value: str) -> None:
    is_valid, error = schema_valid(GOOD_ORDER | {field: bad_value}, ORDER_SCHEMA)
    assert not is_valid
    assert error is not None and error.startswith(f"$.{field}: ")


def test_missing_required_key_reports_path() -> None:
    order = copy.deepcopy(GOOD_ORDER)
    del order["items"][1]["sku"]
    assert schema_valid(order, ORDER_SCHEMA) == (False, "$.items[1]: 'sku' is a required property")


def test_wrong_type_and_extra_property() -> None:
    assert schema_valid({"title": 3}, NOTIFICATION_SCHEMA)[1] == "$.title: 3 is not of type 'string'"
    is_valid, error = schema_valid({"title": "x", "color": "red"}, NOTIFICATION_SCHEMA)
    assert not is_valid
    assert error is not None and error.startswith("$: ") and "color" in error


def test_validators_are_cached_by_identity_and_content() -> None:
    first = schemas._compiled_validator(ORDER_SCHEMA, True)
    assert schemas._compiled_validator(ORDER_SCHEMA, True) is first
    assert schemas._compiled_validator(copy.deepcopy(ORDER_SCHEMA), True) is first
    assert schemas._compiled_validator(ORDER_SCHEMA, False) is not first


def test_lenient_checker_does_not_leak_into_jsonschema_defaults() -> None:
    from jsonschema import Draft7Validator

    schema_valid({"title": "Hi", "timestamp": "2005-07-03T17:42:53"}, NOTIFICATION_SCHEMA)
    assert not Draft7Validator.FORMAT_CHECKER.conforms("2005-07-03T17:42:53", "date-time")
    assert "uuid" not in Draft7Validator.FORMAT_CHECKER.checkers


# -------------------------------------------------------------------------------------- score_example


def test_score_example_success() -> None:
    expected = {"title": "Hi", "timestamp": "2005-07-03T17:42:53.545351", "priority": "low"}
    raw = 'Here is the JSON: {"title": "Hi", "timestamp": "2005-07-03T17:42:53.545351", "priority": "high"}'
    scored = score_example(raw, expected, NOTIFICATION_SCHEMA)
    assert tuple(scored) == SCORE_FIELDS
    assert scored["parsed"] == expected | {"priority": "high"}
    assert scored["parse_method"] == "scan"
    assert scored["parsed_ok"] is True
    assert scored["json_exact"] is False
    assert scored["field_f1"] == pytest.approx(2 / 3)
    assert scored["schema_compliance"] is True
    assert scored["leaf_f1"] == pytest.approx(2 / 3)
    assert scored["schema_valid"] is True
    assert scored["schema_error"] is None


def test_score_example_strict_datetime_and_no_schema() -> None:
    expected = {"title": "Hi", "timestamp": "2005-07-03T17:42:53.545351"}
    raw = '{"title": "Hi", "timestamp": "2005-07-03T17:42:53.545351"}'
    strict = score_example(raw, expected, NOTIFICATION_SCHEMA, lenient_datetime=False)
    assert strict["json_exact"] is True
    assert strict["schema_valid"] is False
    assert strict["schema_error"].startswith("$.timestamp: ")
    without_schema = score_example(raw, expected, None)
    assert without_schema["schema_valid"] is None
    assert without_schema["schema_error"] is None
    assert without_schema["parse_method"] == "whole"


def test_score_example_unparseable() -> None:
    scored = score_example('{"title": "Hi", ', {"title": "Hi"}, NOTIFICATION_SCHEMA)
    assert scored == {
        "parsed": None,
        "parse_method": "fail",
        "parsed_ok": False,
        "json_exact": False,
        "field_f1": 0.0,
        "schema_compliance": False,
        "leaf_f1": 0.0,
        "schema_valid": False,
        "schema_error": metrics.NO_OBJECT_PARSED,
    }


# ------------------------------------------------------------------------------------------ aggregate


def _example(
    complexity: str,
    schema_id: str,
    exact: bool,
    f1: float,
    compliant: bool,
    leaf: float,
    valid: bool | None,
    parsed_ok: bool,
) -> dict[str, Any]:
    return {
        "complexity": complexity,
        "schema_id": schema_id,
        "json_exact": exact,
        "field_f1": f1,
        "schema_compliance": compliant,
        "leaf_f1": leaf,
        "schema_valid": valid,
        "parsed_ok": parsed_ok,
    }


AGGREGATE_EXAMPLES = [
    _example("extra", "c", False, 0.0, False, 0.0, None, False),
    _example("complex", "a", False, 0.0, False, 0.0, None, False),
    _example("medium", "b", False, 0.25, False, 0.5, True, True),
    _example("simple", "b", False, 0.5, True, 0.75, False, True),
    _example("simple", "a", True, 1.0, True, 1.0, True, True),
]


def test_aggregate_hand_computed() -> None:
    result = aggregate(AGGREGATE_EXAMPLES)
    assert list(result) == ["overall", "by_complexity", "by_schema_id"]
    assert result["overall"] == pytest.approx(
        {
            "n": 5,
            "json_exact": 1 / 5,
            "field_f1": 1.75 / 5,
            "schema_compliance": 2 / 5,
            "leaf_f1": 2.25 / 5,
            "schema_valid": 2 / 3,
            "parse_rate": 3 / 5,
        }
    )
    by_complexity = result["by_complexity"]
    assert list(by_complexity) == ["simple", "medium", "complex", "extra"]
    assert by_complexity["simple"] == pytest.approx(
        {
            "n": 2,
            "json_exact": 0.5,
            "field_f1": 0.75,
            "schema_compliance": 1.0,
            "leaf_f1": 0.875,
            "schema_valid": 0.5,
            "parse_rate": 1.0,
        }
    )
    assert by_complexity["medium"] == pytest.approx(
        {
            "n": 1,
            "json_exact": 0.0,
            "field_f1": 0.25,
            "schema_compliance": 0.0,
            "leaf_f1": 0.5,
            "schema_valid": 1.0,
            "parse_rate": 1.0,
        }
    )
    assert by_complexity["complex"]["schema_valid"] is None
    assert by_complexity["complex"]["parse_rate"] == 0.0

    by_schema = result["by_schema_id"]
    assert list(by_schema) == ["a", "b", "c"]
    assert by_schema["a"] == pytest.approx(
        {
            "n": 2,
            "json_exact": 0.5,
            "field_f1": 0.5,
            "schema_compliance": 0.5,
            "leaf_f1": 0.5,
            "schema_valid": 1.0,
            "parse_rate": 0.5,
        }
    )
    assert by_schema["b"] == pytest.approx(
        {
            "n": 2,
            "json_exact": 0.0,
            "field_f1": 0.375,
            "schema_compliance": 0.5,
            "leaf_f1": 0.625,
            "schema_valid": 0.5,
            "parse_rate": 1.0,
        }
    )
    assert by_schema["c"]["n"] == 1
    assert by_schema["c"]["schema_valid"] is None


def test_aggregate_is_order_independent() -> None:
    assert aggregate(list(reversed(AGGREGATE_EXAMPLES))) == aggregate(AGGREGATE_EXAMPLES)


def test_aggregate_custom_group_keys_and_missing_values() -> None:
    examples = [dict(example) for example in AGGREGATE_EXAMPLES]
    examples[0]["teacher"] = "qwen"
    result = aggregate(examples, group_keys=("teacher",))
    assert list(result) == ["overall", "by_teacher"]
    assert list(result["by_teacher"]) == ["qwen", "unknown"]
    assert result["by_teacher"]["unknown"]["n"] == 4


def test_aggregate_empty() -> None:
    result = aggregate([])
    assert result["overall"] == {
        "n": 0,
        "json_exact": None,
        "field_f1": None,
        "schema_compliance": None,
        "leaf_f1": None,
        "schema_valid": None,
        "parse_rate": None,
    }
    assert result["by_complexity"] == {}
    assert result["by_schema_id"] == {}
