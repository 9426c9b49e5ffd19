"""JSON Schema and JSON value helpers shared by the data engine, decoding, tasks and the Python APIs.

One definition each of: loading and checking a JSON Schema (`check_schema`, `load_schema`, a folder of them
with `load_schema_folder`), validating an instance with formats enforced (`schema_valid`, with the lenient
`date-time` EdgeJSON's gold timestamps need), JSON value equality (`values_equal`: 1 == 1.0, true != 1),
and the leaves of a value by path (`flatten_leaves`).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from maaza.errors import MaazaError

LeafPath = tuple[str | int, ...]
SchemaLike = Mapping[str, Any] | str | os.PathLike[str]


class SchemaError(MaazaError):
    """A JSON Schema that cannot be read or is not a schema of a JSON object; the message names its source."""


#: JSON nesting (objects and arrays) a schema may have: the validator, the grammar compiler and the prompt
#: renderer all recurse over it, and no real schema comes near (EdgeJSON v3's deepest is under 10).
MAX_SCHEMA_NESTING = 64


def nesting_depth(value: Any) -> int:
    """How deeply objects/arrays nest in `value` (a scalar is 0), counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children = list(node.values())
        elif isinstance(node, list | tuple):
            children = list(node)
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


# ------------------------------------------------------------------------------------------ loading


def check_schema(schema: Any, source: str | None = None) -> dict[str, Any]:
    """Return `schema` if it is a JSON Schema for an object, else raise SchemaError naming `source`."""
    from jsonschema.exceptions import SchemaError as JsonSchemaError

    where = f"{source}: " if source else ""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"{where}a JSON Schema must be an object, got {type(schema).__name__}")
    schema = dict(schema)
    depth = nesting_depth(schema)
    if depth > MAX_SCHEMA_NESTING:
        raise SchemaError(f"{where}the schema nests {depth} levels deep (at most {MAX_SCHEMA_NESTING})")
    try:
        validator_for(schema, default=Draft7Validator).check_schema(schema)
    except JsonSchemaError as exc:
        path = "/".join(str(part) for part in exc.absolute_path) or "(root)"
        raise SchemaError(f"{where}invalid JSON Schema at {path}: {exc.message}") from None
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if kind is not None and "object" not in kinds:
        raise SchemaError(f"{where}the schema must describe a JSON object (type 'object'), got {kind!r}")
    return schema


def load_schema(schema: SchemaLike) -> dict[str, Any]:
    """A checked JSON Schema from a dict, a path to a `.json` file, or JSON text starting with `{`."""
    from maaza.io import read_json

    if isinstance(schema, Mapping):
        return check_schema(schema)
    if isinstance(schema, str) and schema.lstrip().startswith("{"):
        try:
            value = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"schema text is not valid JSON: {exc.msg} (line {exc.lineno})") from None
        return check_schema(value, "schema text")
    if isinstance(schema, str | os.PathLike):
        path = Path(schema).expanduser()
        if not path.is_file():
            raise SchemaError(f"schema file not found: {path}")
        try:
            value = read_json(path, what="schema")
        except MaazaError as exc:
            raise SchemaError(str(exc)) from None
        return check_schema(value, str(path))
    raise SchemaError(f"schema must be a dict or a path to a JSON file, got {type(schema).__name__}")


def schema_folders(folder: str | Path) -> list[Path]:
    """The folders of a schema-folder argument: one path, or several joined by `os.pathsep`."""
    return [Path(part) for part in str(folder).split(os.pathsep) if part] or [Path(folder)]


def load_schema_folder(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Every `*.json` under the folder (any depth), checked, keyed by file stem; a bad file is a clear error.

    `folder` may name several folders joined by `os.pathsep` (`v3/schemas:my/schemas`, as `PATH` does): a
    test set that adds its own schemas to EdgeJSON v3's names both, without copying v3's files. A schema id
    that two files share (in one folder or across them) is an error.
    """
    from maaza.io import read_json

    roots = schema_folders(folder)
    schemas: dict[str, dict[str, Any]] = {}
    seen: dict[str, Path] = {}
    for root in roots:
        if not root.is_dir():
            raise SchemaError(f"schema folder not found: {root}")
        found = sorted(root.rglob("*.json"))
        if not found:
            raise SchemaError(f"no schema files (*.json) under {root}")
        for path in found:
            if path.stem in schemas:
                raise SchemaError(f"{path}: duplicate schema id '{path.stem}' (also {seen[path.stem]})")
            schemas[path.stem] = check_schema(read_json(path, what="schema"), str(path))
            seen[path.stem] = path
    return schemas


# ------------------------------------------------------------------------------------------ equality


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


# ------------------------------------------------------------------------------------------- leaves


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
