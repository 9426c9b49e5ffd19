"""Which JSON Schemas a request may send, and the one check every schema passes before any decoding.

llama.cpp's server skips schema features it does not support and has answered a schema with HTTP 200 without
enforcing it; here a schema either compiles to a grammar that enforces all of it or is a 400 that names the
feature. llguidance (the grammar compiler) already refuses keywords it does not implement (`not`, `if`,
`uniqueItems`, `contains`, `dependentRequired`, ...) by name; on top of that this module refuses what the
offline `prepare_schema` would quietly relax (a `format` llguidance does not implement is dropped there) and
what a server must not follow (a `$ref` outside the schema itself: a file or URL), and bounds size and depth.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from maaza.serve.errors import ApiError, limit_error
from maaza.serve.settings import Limits


def _walk(node: Any, depth: int, limits: Limits, param: str, where: str) -> None:
    from maaza.decoding.formats import LLG_FORMATS

    if depth > limits.max_schema_depth:
        raise limit_error("max_schema_depth", depth, limits.max_schema_depth, param=param)
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None and (not isinstance(ref, str) or not ref.startswith("#")):
            raise ApiError(400, f"{param}: $ref {ref!r} at {where or '/'} is not supported: only references inside "
                           "the schema ('#/...') are followed, never files or URLs", param=param,
                           code="unsupported_schema_feature")
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt not in LLG_FORMATS:
            raise ApiError(400, f"{param}: format {fmt!r} at {where or '/'} is not supported by the grammar "
                           f"(supported: {', '.join(sorted(LLG_FORMATS))})", param=param,
                           code="unsupported_schema_feature")
        for key, value in node.items():
            if key in ("enum", "const", "default", "examples"):
                continue  # data, not subschemas
            _walk(value, depth + 1, limits, param, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _walk(value, depth + 1, limits, param, f"{where}/{index}")


_ACCEPTED: OrderedDict[str, None] = OrderedDict()  # schemas that passed every check (clients reuse schemas)
_ACCEPTED_LIMIT = 512


def check_request_schema(schema: Any, limits: Limits, *, param: str, object_only: bool = True) -> dict[str, Any]:
    """`schema` if the server can enforce all of it, else ApiError(400/413) naming the problem and `param`.

    A schema that passed is remembered (by its canonical JSON, with the limits and mode that passed it), so a
    client sending the same schema again does not pay the grammar compile twice on the request path.
    """
    from maaza.schemas import nesting_depth

    if not isinstance(schema, dict):
        raise ApiError(400, f"{param} must be a JSON Schema object", param=param)
    depth = nesting_depth(schema)  # first, and without recursion: everything after it recurses
    if depth > limits.max_schema_depth:
        raise limit_error("max_schema_depth", depth, limits.max_schema_depth, param=param)
    text = json.dumps(schema, separators=(",", ":"), sort_keys=True)
    if len(text) > limits.max_schema_bytes:
        raise limit_error("max_schema_bytes", len(text), limits.max_schema_bytes, param=param)
    key = f"{limits.max_schema_depth}:{object_only}:{text}"
    if key in _ACCEPTED:
        _ACCEPTED.move_to_end(key)
        return schema
    checked = _check(schema, limits, param, object_only)
    _ACCEPTED[key] = None
    if len(_ACCEPTED) > _ACCEPTED_LIMIT:
        _ACCEPTED.popitem(last=False)
    return checked


def _check(schema: dict[str, Any], limits: Limits, param: str, object_only: bool) -> dict[str, Any]:
    from maaza.decoding.constrained import ConstraintError, compile_grammar
    from maaza.schemas import SchemaError, check_schema

    _walk(schema, 1, limits, param, "")
    if object_only:
        try:
            schema = check_schema(schema, param)
        except SchemaError as exc:
            raise ApiError(400, str(exc), param=param, code="invalid_schema") from None
    else:
        from jsonschema.exceptions import SchemaError as JsonSchemaError
        from jsonschema.validators import Draft7Validator, validator_for

        try:
            validator_for(schema, default=Draft7Validator).check_schema(schema)
        except JsonSchemaError as exc:
            raise ApiError(400, f"{param}: invalid JSON Schema: {exc.message}", param=param,
                           code="invalid_schema") from None
    try:
        compile_grammar(schema)
    except ConstraintError as exc:
        raise ApiError(400, f"{param}: {exc}", param=param, code="unsupported_schema_feature") from None
    except RecursionError:
        raise ApiError(400, f"{param}: the schema nests too deeply to compile", param=param,
                       code="invalid_schema") from None
    return schema
