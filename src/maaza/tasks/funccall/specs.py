"""Function specs: BFCL's format and OpenAI `tools`, checked and normalised to one form, and the grammar of calls.

A spec is BFCL's `{"name", "description", "parameters": {"type": "dict", "properties": {...}, "required": [...]}}`
with BFCL's parameter types (`string`, `integer`, `float`, `boolean`, `array`, `tuple`, `dict`, `any`) or their
JSON Schema spellings (`number`, `object`); an OpenAI tool `{"type": "function", "function": {...}}` is the
same spec one level down. `normalise_functions` checks a list of them (every problem names the spec and field)
and returns BFCL's form, which is what the prompt shows, the checker reads and the training data uses.

`calls_schema(functions)` is the JSON Schema of an answer, `[{"name": ..., "arguments": {...}}]`: only the
offered names, each with an arguments object of its parameter types (enums kept, required parameters
required, no other keys), and the empty list. `maaza.decoding` compiles it to a grammar (llguidance), so
every backend produces only calls valid against the offered specs.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from maaza.errors import MaazaError

# BFCL type (or JSON Schema spelling) -> the JSON Schema type of its values; "any" has none.
TYPE_SCHEMA: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "float": {"type": "number"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "array": {"type": "array"},
    "tuple": {"type": "array"},
    "dict": {"type": "object"},
    "object": {"type": "object"},
    "any": {},
}
# JSON Schema spellings -> BFCL's, so the normalised specs use one vocabulary.
BFCL_SPELLING = {"number": "float", "object": "dict"}
MAX_CALLS = 8  # the grammar's bound on calls per answer (BFCL's parallel rows need at most 5)


def _spec_name(spec: Mapping[str, Any], index: int) -> str:
    name = spec.get("name")
    return f"function {index} ('{name}')" if isinstance(name, str) else f"function {index}"


def _normalise_parameter(node: Any, where: str) -> dict[str, Any]:
    """One parameter's spec (recursively for items/properties), in BFCL's spelling; bad types are errors."""
    if not isinstance(node, Mapping):
        raise MaazaError(f"{where} must be an object, got {type(node).__name__}")
    out = dict(node)
    kind = node.get("type", "any")
    if not isinstance(kind, str) or kind not in TYPE_SCHEMA:
        raise MaazaError(f"{where}.type: unknown type {kind!r}; known: {', '.join(TYPE_SCHEMA)}")
    out["type"] = BFCL_SPELLING.get(kind, kind)
    if "enum" in node and (not isinstance(node["enum"], list) or not node["enum"]):
        raise MaazaError(f"{where}.enum must be a non-empty list")
    if "items" in node:
        out["items"] = _normalise_parameter(node["items"], f"{where}.items")
    if "properties" in node:
        properties = node["properties"]
        if not isinstance(properties, Mapping):
            raise MaazaError(f"{where}.properties must be an object")
        out["properties"] = {
            key: _normalise_parameter(sub, f"{where}.properties.{key}") for key, sub in properties.items()
        }
        required = node.get("required", [])
        if not isinstance(required, list) or any(key not in properties for key in required):
            raise MaazaError(f"{where}.required must list names from its properties, got {required!r}")
    return out


def normalise_function(spec: Any, index: int = 0) -> dict[str, Any]:
    """One spec (BFCL or OpenAI tool) in BFCL's form; a problem is an error naming the spec and field."""
    if isinstance(spec, Mapping) and spec.get("type") == "function" and "function" in spec:
        spec = spec["function"]  # OpenAI tools: {"type": "function", "function": {name, description, parameters}}
    if not isinstance(spec, Mapping):
        raise MaazaError(f"function {index} must be an object, got {type(spec).__name__}")
    where = _spec_name(spec, index)
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MaazaError(f"{where}.name must be a non-empty string")
    if "parameters" not in spec:
        raise MaazaError(f"{where}: missing 'parameters' (give {{\"type\": \"dict\", \"properties\": {{}}}} for none)")
    parameters = spec["parameters"]
    if not isinstance(parameters, Mapping):
        raise MaazaError(f"{where}.parameters must be an object")
    if parameters.get("type", "dict") not in ("dict", "object"):
        raise MaazaError(f"{where}.parameters.type must be 'dict' (or 'object'), got {parameters.get('type')!r}")
    normal = _normalise_parameter({**parameters, "type": "dict", "properties": parameters.get("properties", {})},
                                  f"{where}.parameters")
    normal.setdefault("required", [])
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise MaazaError(f"{where}.description must be a string")
    return {"name": name, "description": description, "parameters": normal}


def normalise_functions(functions: Any, *, where: str = "functions") -> list[dict[str, Any]]:
    """A checked list of specs in BFCL's form: non-empty, every spec valid, no name twice."""
    if not isinstance(functions, Sequence) or isinstance(functions, (str, bytes)):
        raise MaazaError(f"{where} must be a list of function specs, got {type(functions).__name__}")
    if not functions:
        raise MaazaError(f"{where}: no functions offered (give at least one spec)")
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(functions):
        try:
            normal = normalise_function(spec, index)
        except MaazaError as exc:
            raise MaazaError(f"{where}: {exc}") from None
        if normal["name"] in seen:
            raise MaazaError(f"{where}: duplicate function name '{normal['name']}' (functions {seen[normal['name']]} "
                             f"and {index})")
        seen[normal["name"]] = index
        out.append(normal)
    return out


def value_schema(node: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one parameter's values (enums kept, nested items and properties converted)."""
    schema = dict(TYPE_SCHEMA[node.get("type", "any")])
    if "enum" in node:
        schema["enum"] = list(node["enum"])
    if "items" in node and schema.get("type") == "array":
        schema["items"] = value_schema(node["items"])
    if "properties" in node and schema.get("type") == "object":
        schema.update(arguments_schema(node))
    return schema


def arguments_schema(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a function's arguments object: its parameters only, the required ones required."""
    properties = parameters.get("properties", {})
    return {
        "type": "object",
        "properties": {key: value_schema(sub) for key, sub in properties.items()},
        "required": list(parameters.get("required", [])),
        "additionalProperties": False,
    }


def calls_schema(functions: Sequence[Mapping[str, Any]], *, max_calls: int = MAX_CALLS) -> dict[str, Any]:
    """The JSON Schema of an answer: a list (possibly empty) of calls to the offered functions."""
    options = [
        {
            "type": "object",
            "properties": {"name": {"const": spec["name"]}, "arguments": arguments_schema(spec["parameters"])},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for spec in functions
    ]
    items = options[0] if len(options) == 1 else {"anyOf": options}
    return {"type": "array", "items": items, "maxItems": max_calls}


def render_functions(functions: Sequence[Mapping[str, Any]]) -> str:
    """The specs as the prompt shows them: one minified JSON object per line."""
    return "\n".join(json.dumps(spec, ensure_ascii=False, separators=(",", ":")) for spec in functions)


def calls_from_ground_truth(ground_truth: Any) -> list[dict[str, Any]]:
    """A canonical answer from BFCL's possible answers: each parameter's first acceptable value, and the
    parameters whose first value is "" (may be omitted) left out; None (irrelevance) is []."""
    calls: list[dict[str, Any]] = []
    for entry in ground_truth or []:
        for name, params in entry.items():
            arguments = {key: copy.deepcopy(values[0]) for key, values in params.items()
                         if values and values[0] != ""}
            calls.append({"name": name, "arguments": arguments})
    return calls
