"""EdgeJSON metrics: the benchmark authors' three (JSONExact, FieldF1, SchemaCompliance) plus our own.

The authors' definitions are reproduced with one deliberate fix: values are compared with
`values_equal`, which treats int and float as interchangeable (1 == 1.0) but keeps booleans strict.
Plain Python `==` (what the authors use) says `True == 1` and `False == 0.0`, which would score a
model that writes `true` for a count of 1 as correct.

Ours: `leaf_f1` (partial credit inside nested objects and lists, where the authors' top-level
FieldF1 is all-or-nothing per key) and `schema_valid` (real JSON Schema validation, including formats).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from maaza.eval.json_parse import parse_json_output

LeafPath = tuple[str | int, ...]

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
COMPLEXITY_ORDER: tuple[str, ...] = ("simple", "medium", "complex")
NO_OBJECT_PARSED = "$: no JSON object could be parsed from the output"


# --------------------------------------------------------------------------------------------- equality


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def values_equal(left: Any, right: Any) -> bool:
    """JSON value equality: int and float interchangeable (1 == 1.0), bool never equal to a number.

    Recurses into dicts (same key set, equal values) and lists (same length, equal in order).
    """
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) or _is_number(right):
        return _is_number(left) and _is_number(right) and left == right
    if isinstance(left, dict) or isinstance(right, dict):
        if not (isinstance(left, dict) and isinstance(right, dict)) or left.keys() != right.keys():
            return False
        return all(values_equal(left[key], right[key]) for key in left)
    if isinstance(left, list) or isinstance(right, list):
        if not (isinstance(left, list) and isinstance(right, list)) or len(left) != len(right):
            return False
        return all(values_equal(a, b) for a, b in zip(left, right, strict=True))
    return type(left) is type(right) and left == right


def json_type_name(value: Any) -> str:
    """JSON type of a parsed value, with int and float both "number" and bool its own "boolean"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


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


def flatten_leaves(value: Any) -> dict[LeafPath, Any]:
    """Map each leaf of a JSON value to its path: dict keys as str, list indices as int.

    Scalars, empty dicts and empty lists are leaves. Paths are tuples so a key containing "." or "["
    can never collide with a nested path; `format_leaf_path` renders them as `a.b[0].c`.
    """
    leaves: dict[LeafPath, Any] = {}

    def visit(node: Any, path: LeafPath) -> None:
        if isinstance(node, dict) and node:
            for key, child in node.items():
                visit(child, (*path, key))
        elif isinstance(node, list) and node:
            for index, child in enumerate(node):
                visit(child, (*path, index))
        else:
            leaves[path] = node

    visit(value, ())
    return leaves


def format_leaf_path(path: LeafPath) -> str:
    """Render a leaf path tuple as `a.b[0].c` (the root itself renders as "")."""
    rendered = ""
    for part in path:
        if isinstance(part, int):
            rendered += f"[{part}]"
        else:
            rendered += f".{part}" if rendered else part
    return rendered


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

_DATE_TIME_PREFIX = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_lenient_date_time(instance: object) -> bool:
    """ISO-8601 date-time with or without a UTC offset (EdgeJSON gold timestamps carry no zone).

    Requires a full date, a `T`/`t`/space separator and at least hours:minutes; a trailing `Z`/`z`
    means UTC. Non-strings pass, as JSON Schema formats only constrain strings.
    """
    if not isinstance(instance, str):
        return True
    if not _DATE_TIME_PREFIX.match(instance):
        return False
    normalised = f"{instance[:10]}T{instance[11:]}"
    if normalised[-1] in "zZ":
        normalised = normalised[:-1] + "+00:00"
    try:
        datetime.fromisoformat(normalised)
    except ValueError:
        return False
    return True


def is_uuid(instance: object) -> bool:
    """Hyphenated 8-4-4-4-12 hex UUID (draft-07 has no `uuid` format; we check it anyway)."""
    if not isinstance(instance, str):
        return True
    if not _UUID_TEXT.fullmatch(instance):
        return False
    uuid.UUID(instance)
    return True


def _build_format_checker(validator_class: type[Validator], lenient_datetime: bool) -> FormatChecker:
    base_checker: FormatChecker = validator_class.FORMAT_CHECKER
    checker = FormatChecker(formats=())
    checker.checkers = dict(base_checker.checkers)  # a copy: never mutate jsonschema's shared checker
    if "uuid" not in checker.checkers:
        checker.checks("uuid")(is_uuid)
    if lenient_datetime:
        checker.checks("date-time")(is_lenient_date_time)
    return checker


_VALIDATOR_CACHE_LIMIT = 256
# Identity fast path: holding the schema object keeps its id() from being reused while cached.
_validators_by_identity: dict[tuple[int, bool], tuple[Mapping[str, Any], Validator]] = {}
_validators_by_content: dict[tuple[str, bool], Validator] = {}


def _compiled_validator(schema: Mapping[str, Any], lenient_datetime: bool) -> Validator:
    identity_key = (id(schema), lenient_datetime)
    cached = _validators_by_identity.get(identity_key)
    if cached is not None and cached[0] is schema:
        return cached[1]
    content_key = (json.dumps(schema, sort_keys=True), lenient_datetime)
    validator = _validators_by_content.get(content_key)
    if validator is None:
        validator_class = validator_for(schema, default=Draft7Validator)
        validator_class.check_schema(schema)
        format_checker = _build_format_checker(validator_class, lenient_datetime)
        validator = validator_class(schema, format_checker=format_checker)
        if len(_validators_by_content) >= _VALIDATOR_CACHE_LIMIT:
            _validators_by_content.clear()
        _validators_by_content[content_key] = validator
    if len(_validators_by_identity) >= _VALIDATOR_CACHE_LIMIT:
        _validators_by_identity.clear()
    _validators_by_identity[identity_key] = (schema, validator)
    return validator


def schema_valid(
    pred: Any, schema: Mapping[str, Any], *, lenient_datetime: bool = True
) -> tuple[bool, str | None]:
    """Our SchemaValid: full JSON Schema validation of the prediction, formats included.

    Uses the validator for the schema's `$schema` (draft-07 by default) with a format checker, so
    `email`, `date`, `date-time`, `uri`, `uuid`, ... are enforced. With `lenient_datetime` the
    `date-time` format accepts ISO-8601 without a UTC offset, because EdgeJSON's own gold timestamps
    (e.g. `2005-07-03T17:42:53.545351`) fail strict RFC 3339. Returns (True, None) or
    (False, "<json path>: <message>") for jsonschema's best-matching error. Compiled validators are
    cached per schema; do not mutate a schema dict in place after validating against it.
    """
    validator = _compiled_validator(schema, lenient_datetime)
    error = best_match(validator.iter_errors(pred))
    if error is None:
        return True, None
    return False, f"{error.json_path}: {error.message}"


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


def _fraction_true(flags: Iterable[Any]) -> float | None:
    values = [bool(flag) for flag in flags]
    return sum(values) / len(values) if values else None


def _mean(numbers: Iterable[Any]) -> float | None:
    values = [float(number) for number in numbers]
    return math.fsum(values) / len(values) if values else None


def summarise_bucket(examples: list[dict[str, Any]]) -> dict[str, Any]:
    """Bucket summary: n, fractions for boolean metrics, means for F1s; None where nothing to average.

    `schema_valid` averages only over examples that were validated (value not None).
    """
    return {
        "n": len(examples),
        "json_exact": _fraction_true(example["json_exact"] for example in examples),
        "field_f1": _mean(example["field_f1"] for example in examples),
        "schema_compliance": _fraction_true(example["schema_compliance"] for example in examples),
        "leaf_f1": _mean(example["leaf_f1"] for example in examples),
        "schema_valid": _fraction_true(
            example["schema_valid"] for example in examples if example.get("schema_valid") is not None
        ),
        "parse_rate": _fraction_true(example["parsed_ok"] for example in examples),
    }


def _ordered_group_names(group_key: str, names: Iterable[str]) -> list[str]:
    unique_names = set(names)
    if group_key != "complexity":
        return sorted(unique_names)
    known = [name for name in COMPLEXITY_ORDER if name in unique_names]
    return known + sorted(unique_names.difference(COMPLEXITY_ORDER))


def aggregate(
    examples: list[dict[str, Any]], group_keys: tuple[str, ...] = ("complexity", "schema_id")
) -> dict[str, Any]:
    """Summarise scored examples overall and per group: `{"overall", "by_<group_key>": {name: bucket}}`.

    Each example holds the `score_example` fields plus the group keys (missing -> "unknown"). Order is
    deterministic: complexity as simple, medium, complex then others alphabetically; other groups
    alphabetically. An empty input gives n=0 and None metrics.
    """
    result: dict[str, Any] = {"overall": summarise_bucket(examples)}
    for group_key in group_keys:
        members: dict[str, list[dict[str, Any]]] = {}
        for example in examples:
            group_name = example.get(group_key)
            members.setdefault("unknown" if group_name is None else str(group_name), []).append(example)
        result[f"by_{group_key}"] = {
            name: summarise_bucket(members[name]) for name in _ordered_group_names(group_key, members)
        }
    return result
