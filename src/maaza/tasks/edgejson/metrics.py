"""EdgeJSON metrics: the benchmark authors' three (JSONExact, FieldF1, SchemaCompliance) plus our own.

The authors' definitions are reproduced with one deliberate fix: values are compared with
`values_equal`, which treats int and float as interchangeable (1 == 1.0) but keeps booleans strict.
Plain Python `==` (what the authors use) says `True == 1` and `False == 0.0`, which would score a
model that writes `true` for a count of 1 as correct.

Ours: `leaf_f1` (partial credit inside nested objects and lists, where the authors' top-level
FieldF1 is all-or-nothing per key) and `schema_valid` (real JSON Schema validation, including formats).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from maaza.decoding.json_parse import parse_json_output
from maaza.schemas import flatten_leaves, json_type_name, schema_valid, values_equal
from maaza.tasks.base import aggregate_by_groups, fraction_true, mean
from maaza.tasks.edgejson.rows import COMPLEXITY_ORDER

SCORE_FIELDS: tuple[str, ...] = (
    "parsed",
    "parse_method",
    "parsed_ok",
    "json_exact",
    "field_f1",
    "schema_compliance",
    "leaf_f1",
    "schema_valid",
    "schema_error",
)
NO_OBJECT_PARSED = "$: no JSON object could be parsed from the output"


# ----------------------------------------------------------------------------------- authors' metrics


def json_exact(pred: Any, expected: Mapping[str, Any]) -> bool:
    """JSONExact: the prediction is an object equal to the gold object (via `values_equal`).

    The strictest signal: one wrong character anywhere fails the whole example.
    """
    return isinstance(pred, dict) and values_equal(pred, dict(expected))


def _f1(correct: int, predicted_count: int, expected_count: int) -> float:
    precision = correct / predicted_count if predicted_count else 0.0
    recall = correct / expected_count if expected_count else 0.0
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def field_f1(pred: Any, expected: Mapping[str, Any]) -> float:
    """FieldF1 as the EdgeJSON authors define it: F1 over top-level keys whose values match exactly.

    correct = keys in both with equal values; P = correct / |pred keys|; R = correct / |expected keys|;
    F1 = 2PR / (P + R), or 0 when P + R == 0. A nested value earns nothing unless it matches entirely.
    0.0 when `pred` is not an object. Both empty counts as a perfect match (1.0), as in the authors' code.
    Gives partial credit per field, so it separates "almost right" outputs that JSONExact lumps together.
    """
    if not isinstance(pred, dict):
        return 0.0
    if not pred and not expected:
        return 1.0
    correct = sum(1 for key in expected.keys() & pred.keys() if values_equal(pred[key], expected[key]))
    return _f1(correct, len(pred), len(expected))


def schema_compliance(pred: Any, expected: Mapping[str, Any]) -> bool:
    """SchemaCompliance as the EdgeJSON authors define it: a structural check against the gold object.

    True when `pred` is a non-empty object holding every gold top-level key, each with the same JSON
    type as the gold value (int/float interchangeable; bool and null are their own types). Extra keys
    and nested contents are not checked. An empty prediction is non-compliant (authors' `if not
    predicted`). Measures "did the model produce the right shape" independently of the values.
    """
    if not isinstance(pred, dict) or not pred:
        return False
    return all(
        key in pred and json_type_name(pred[key]) == json_type_name(expected_value)
        for key, expected_value in expected.items()
    )


# ------------------------------------------------------------------------------------------ leaf F1


def leaf_f1(pred: Any, expected: Mapping[str, Any]) -> float:
    """Our LeafF1: F1 over (leaf path, value) pairs of the flattened objects, compared with `values_equal`.

    Unlike FieldF1, a large nested object with one wrong leaf still earns most of the credit, which
    makes it the more informative metric on medium/complex schemas. List items are matched by index.
    0.0 when `pred` is not an object; two empty objects score 1.0 (the empty root is one matching leaf).
    """
    if not isinstance(pred, dict):
        return 0.0
    pred_leaves = flatten_leaves(pred)
    expected_leaves = flatten_leaves(dict(expected))
    correct = sum(
        1
        for path in pred_leaves.keys() & expected_leaves.keys()
        if values_equal(pred_leaves[path], expected_leaves[path])
    )
    return _f1(correct, len(pred_leaves), len(expected_leaves))


# ------------------------------------------------------------------------------------- schema validity

# ------------------------------------------------------------------------------------ per example


def score_example(
    raw_text: str,
    expected: Mapping[str, Any],
    schema: Mapping[str, Any] | None,
    *,
    lenient_datetime: bool = True,
) -> dict[str, Any]:
    """Parse one raw model output and compute every metric against the gold object (and schema).

    Keys are `SCORE_FIELDS`; `schema_valid` / `schema_error` are None when no schema is given. An
    output with no recoverable object scores 0/False everywhere and schema_valid False.
    """
    parsed = parse_json_output(raw_text)
    pred = parsed.value
    schema_is_valid: bool | None = None
    schema_error: str | None = None
    if schema is not None:
        if pred is None:
            schema_is_valid, schema_error = False, NO_OBJECT_PARSED
        else:
            schema_is_valid, schema_error = schema_valid(pred, schema, lenient_datetime=lenient_datetime)
    return {
        "parsed": pred,
        "parse_method": parsed.method,
        "parsed_ok": pred is not None,
        "json_exact": json_exact(pred, expected),
        "field_f1": field_f1(pred, expected),
        "schema_compliance": schema_compliance(pred, expected),
        "leaf_f1": leaf_f1(pred, expected),
        "schema_valid": schema_is_valid,
        "schema_error": schema_error,
    }


# -------------------------------------------------------------------------------------- aggregation


def summarise_bucket(examples: list[dict[str, Any]]) -> dict[str, Any]:
    """Bucket summary: n, fractions for boolean metrics, means for F1s; None where nothing to average.

    `schema_valid` averages only over examples that were validated (value not None).
    """
    return {
        "n": len(examples),
        "json_exact": fraction_true(example["json_exact"] for example in examples),
        "field_f1": mean(example["field_f1"] for example in examples),
        "schema_compliance": fraction_true(example["schema_compliance"] for example in examples),
        "leaf_f1": mean(example["leaf_f1"] for example in examples),
        "schema_valid": fraction_true(
            example["schema_valid"] for example in examples if example.get("schema_valid") is not None
        ),
        "parse_rate": fraction_true(example["parsed_ok"] for example in examples),
    }


def aggregate(
    examples: list[dict[str, Any]], group_keys: tuple[str, ...] = ("complexity", "schema_id")
) -> dict[str, Any]:
    """Summarise scored examples overall and per group: `{"overall", "by_<group_key>": {name: bucket}}`.

    Each example holds the `score_example` fields plus the group keys (missing -> "unknown"). Order is
    deterministic: complexity as simple, medium, complex then others alphabetically; other groups
    alphabetically. An empty input gives n=0 and None metrics.
    """
    return aggregate_by_groups(examples, summarise_bucket, group_keys, {"complexity": COMPLEXITY_ORDER})
