"""EdgeFuncCall metrics: BFCL's AST accuracy, the plan's parameter-extraction F1, spec validity, error classes.

Per row (`score_output`): the output parsed to a list of calls; `spec_valid` (the calls validate against the
JSON Schema of the offered specs, `specs.calls_schema`: the grammar's guarantee, measured); `ast_correct` and
its `error_class` (`checker.check_calls`); the (function, parameter, value) triple counts. `summarise` adds
them up for a group of rows.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator

from maaza.tasks.funccall.checker import ERROR_CLASSES, TripleCounts, check_calls, f1, parameter_triples
from maaza.tasks.funccall.specs import calls_schema

UNPARSABLE = "unparsable"  # the error class of an output that is no list of calls
ALL_ERROR_CLASSES = (*ERROR_CLASSES, UNPARSABLE)
_FENCE = re.compile(r"```[A-Za-z0-9_+.-]*\s*\n?(.*?)```", re.DOTALL)


def _as_calls(value: Any) -> list[dict[str, Any]] | None:
    """A list of calls from a parsed value: a list, one call object, or `{"calls": [...]}`/`{"tool_calls": [...]}`."""
    if isinstance(value, Mapping):
        for key in ("calls", "tool_calls"):
            if isinstance(value.get(key), list):
                return _as_calls(value[key])
        value = [value] if "name" in value else None
    if not isinstance(value, list):
        return None
    calls = []
    for call in value:
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            return None
        arguments = call.get("arguments", call.get("parameters", {}))
        if isinstance(arguments, str):  # OpenAI's wire form: arguments as a JSON string
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                return None
        calls.append({"name": call["name"], "arguments": arguments})
    return calls


def parse_calls(output: str) -> list[dict[str, Any]] | None:
    """The calls in a model's output: the whole text, a fenced block, or the first JSON value in it; None if none."""
    text = output.strip()
    candidates = [text, *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for candidate in candidates:
        try:
            calls = _as_calls(json.loads(candidate))
        except json.JSONDecodeError:
            continue
        if calls is not None:
            return calls
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char in "[{":
            try:
                value, _ = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                continue
            calls = _as_calls(value)
            if calls is not None:
                return calls
    return None


def spec_valid(calls: Sequence[Mapping[str, Any]], functions: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the calls validate against the JSON Schema of the offered specs (names, types, required keys)."""
    return Draft202012Validator(calls_schema(functions)).is_valid(list(calls))


def score_output(
    output: str, ground_truth: Sequence[Mapping[str, Any]] | None, functions: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """One row's scores (JSON-serialisable: the eval runner stores them beside the output)."""
    calls = parse_calls(output)
    truth = list(ground_truth) if ground_truth else None
    if calls is None:
        missed = parameter_triples([], truth)
        return {"parsed": False, "spec_valid": False, "ast_correct": False, "error_class": UNPARSABLE,
                "error_detail": "output is not a JSON list of calls", "calls": None,
                "tp": 0, "fp": 0, "fn": missed.false_negatives}
    result = check_calls(calls, truth, list(functions))
    counts = parameter_triples(calls, truth, list(functions))
    return {
        "parsed": True,
        "spec_valid": spec_valid(calls, functions),
        "ast_correct": result.valid,
        "error_class": result.error_class,
        "error_detail": result.detail,
        "calls": calls,
        "tp": counts.true_positives,
        "fp": counts.false_positives,
        "fn": counts.false_negatives,
    }


def summarise(examples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """AST accuracy, parameter F1 (micro over triples), spec validity, parse rate and error-class counts."""
    n = len(examples)
    if not n:
        return {"n": 0}
    triples = f1(TripleCounts(int(e.get("tp", 0)), int(e.get("fp", 0)), int(e.get("fn", 0))) for e in examples)
    errors = Counter(str(e["error_class"]) for e in examples if e.get("error_class"))
    return {
        "n": n,
        "ast_accuracy": sum(bool(e.get("ast_correct")) for e in examples) / n,
        "parameter_f1": triples.get("f1"),
        "parameter_precision": triples.get("precision"),
        "parameter_recall": triples.get("recall"),
        "spec_valid": sum(bool(e.get("spec_valid")) for e in examples) / n,
        "parse_rate": sum(bool(e.get("parsed")) for e in examples) / n,
        "errors": {name: errors[name] for name in ALL_ERROR_CLASSES if errors[name]},
    }
