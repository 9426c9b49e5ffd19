"""Fuzz targets of the user-facing readers: each one takes a generated input and must either work or raise a
`MaazaError` with a message; anything else (a traceback: UnicodeDecodeError, RecursionError, KeyError...) is a
bug. `run_target` drives one target with Hypothesis and counts the cases; the tests run them small, and
`benchmarks/reliability.py` runs them large and writes the table.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maaza.errors import MaazaError

# ------------------------------------------------------------------------------------------ inputs

UNICODE = st.text(st.characters(codec=None, categories=None), max_size=80)  # lone surrogates included
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | UNICODE
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(UNICODE, inner, max_size=4), max_leaves=20)
KEYWORDS = ["type", "properties", "required", "items", "enum", "const", "anyOf", "oneOf", "allOf", "not", "if",
            "then", "else", "$ref", "$defs", "definitions", "format", "pattern", "minLength", "maxLength",
            "minimum", "maximum", "uniqueItems", "contains", "dependentRequired", "additionalProperties",
            "patternProperties", "propertyNames", "minItems", "maxItems", "multipleOf", "unevaluatedProperties"]
TYPES = ["object", "string", "integer", "number", "boolean", "array", "null"]
BASE_SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8},
                                                "n": {"type": "integer", "minimum": 0, "maximum": 9}},
               "required": ["name"]}


def _nested(depth: int, ref_cycle: bool) -> dict[str, Any]:
    node: dict[str, Any] = {"$ref": "#/$defs/loop"} if ref_cycle else {"type": "string", "maxLength": 4}
    for _ in range(depth):
        node = {"type": "object", "properties": {"a": node}, "required": ["a"]}
    if ref_cycle:
        node["$defs"] = {"loop": {"$ref": "#/$defs/loop"}}
    return node


@st.composite
def schemas(draw: Any) -> Any:
    """Schema-like inputs: random JSON, the base schema with random keywords added, deep nesting, $ref cycles,
    references to files and URLs, schema text and paths that do not exist."""
    kind = draw(st.sampled_from(["random", "mutated", "deep", "cycle", "ref", "text", "path"]))
    if kind == "random":
        return draw(JSON_VALUES)
    if kind == "mutated":
        schema = json.loads(json.dumps(BASE_SCHEMA))
        # the nodes are taken before any mutation: one may replace `properties` itself
        nodes = [schema, schema["properties"]["name"], schema["properties"]["n"]]
        for _ in range(draw(st.integers(1, 4))):
            target = draw(st.sampled_from(nodes))
            target[draw(st.sampled_from(KEYWORDS))] = draw(JSON_VALUES | st.sampled_from(TYPES))
        return schema
    if kind == "deep":
        return _nested(draw(st.integers(10, 3000)), False)
    if kind == "cycle":
        return _nested(draw(st.integers(0, 5)), True)
    if kind == "ref":
        ref = draw(st.sampled_from(["file:///etc/passwd", "http://127.0.0.1:9/x.json", "../../etc/passwd",
                                    "#/nope", "#/$defs/../../x", "other.json#/a"]))
        return {"type": "object", "properties": {"a": {"$ref": ref}}}
    if kind == "text":
        return "{" + draw(UNICODE)
    return "/nonexistent/" + draw(st.text("abc./", max_size=10)) + ".json"


TEXTS = st.one_of(
    UNICODE,
    st.text(max_size=2000),
    st.integers(1, 40).map(lambda n: "Order A17 for Ann. " * (n * 500)),  # far beyond any context window
    st.binary(max_size=40),  # not a str at all
    st.none() | st.integers(),
)


@st.composite
def file_bytes(draw: Any) -> bytes:
    """Lines of JSON objects, broken JSON, invalid UTF-8, deep nesting, empty lines, BOMs, NUL bytes."""
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["object", "value", "binary", "deep", "blank", "bom", "nul"]))
        if kind == "object":
            parts.append(json.dumps(draw(st.dictionaries(UNICODE, JSON_VALUES, max_size=3)),
                                    ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass"))
        elif kind == "value":
            parts.append(json.dumps(draw(JSON_VALUES)).encode())
        elif kind == "binary":
            parts.append(draw(st.binary(max_size=30)))
        elif kind == "deep":
            depth = draw(st.integers(100, 200_000))
            parts.append(b"[" * depth + b"]" * depth)
        elif kind == "bom":
            parts.append(b"\xef\xbb\xbf{}")
        elif kind == "nul":
            parts.append(b"{\"a\": \"\x00\"}")
        else:
            parts.append(b"")
    return b"\n".join(parts)


@st.composite
def yaml_bytes(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["text", "binary", "deep", "anchors", "tags", "recipe"]))
    if kind == "text":
        return draw(UNICODE).encode("utf-8", "surrogatepass")
    if kind == "binary":
        return draw(st.binary(max_size=60))
    if kind == "deep":
        depth = draw(st.integers(10, 50_000))
        return b"a: " + b"[" * depth + b"]" * depth
    if kind == "anchors":  # a billion-laughs shape
        return b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b]\n"
    if kind == "tags":
        return draw(st.sampled_from([b"a: !!python/object/apply:os.system ['echo hi']\n", b"!!binary |\n  AAAA\n",
                                     b"a: !!set {x}\n", b"? [a]\n: b\n"]))
    keys = ["model", "data", "train", "lora", "task", "output_dir", "seed", "max_steps", "lr", "batch"]
    doc = {draw(st.sampled_from(keys)): draw(JSON_VALUES) for _ in range(draw(st.integers(1, 5)))}
    return json.dumps(doc).encode()


def _argv_for(parser: Any) -> Any:
    import argparse

    commands = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands = dict(action.choices)
    safe = sorted(name for name in commands if name not in ("serve",))  # serve would listen until killed

    @st.composite
    def argv(draw: Any) -> list[str]:
        name = draw(st.sampled_from(safe))
        flags = [opt for action in commands[name]._actions for opt in action.option_strings if opt.startswith("--")]
        tokens = [name]
        for _ in range(draw(st.integers(0, 5))):
            choice = draw(st.sampled_from(["flag", "value", "path"]))
            if choice == "flag" and flags:
                tokens.append(draw(st.sampled_from(flags)))
            elif choice == "path":
                tokens.append("/nonexistent/" + draw(st.text("abc", max_size=4)))
            else:
                tokens.append(draw(UNICODE.filter(lambda t: not t.startswith("@"))))
        return tokens

    return argv()


# ------------------------------------------------------------------------------------------ targets


@dataclass
class Outcome:
    """Cases run, how many ended in a MaazaError (handled), and the unhandled ones (type: message)."""

    cases: int = 0
    handled: int = 0
    unhandled: list[str] = field(default_factory=list)


def _check(outcome: Outcome, call: Callable[[], Any]) -> None:
    outcome.cases += 1
    try:
        call()
    except MaazaError as exc:
        if not str(exc).strip():
            outcome.unhandled.append(f"{type(exc).__name__} without a message")
        outcome.handled += 1
    except Exception as exc:  # the bug this fuzzing looks for
        outcome.unhandled.append(f"{type(exc).__name__}: {str(exc)[:120]}")


def _in_file(data: bytes, suffix: str) -> Path:
    with tempfile.NamedTemporaryFile("wb", suffix=suffix, delete=False) as handle:
        handle.write(data)
    return Path(handle.name)


def target_schema(extractor: Any) -> tuple[Any, Callable[[Any, Outcome], None]]:
    """Schema loading and checking as `Extractor` does it (load, check, compile the grammar)."""

    def run(value: Any, outcome: Outcome) -> None:
        _check(outcome, lambda: extractor._prepare_schema(value))

    return schemas(), run


def target_extract(extractor: Any) -> tuple[Any, Callable[[Any, Outcome], None]]:
    """`Extractor.extract(text, schema)` on the tiny model: random Unicode, non-str, huge texts, odd schemas."""

    def run(value: Any, outcome: Outcome) -> None:
        text, schema = value
        _check(outcome, lambda: extractor.extract(text, schema))

    return st.tuples(TEXTS, schemas() | st.just(BASE_SCHEMA)), run


def _file_target(strategy: Any, suffix: str, read: Callable[[Path], Any]) -> tuple[Any, Callable[[Any, Outcome], None]]:
    """A target that writes each generated input to a `suffix` file and reads it back with `read`."""

    def run(data: bytes, outcome: Outcome) -> None:
        path = _in_file(data, suffix)
        try:
            _check(outcome, lambda: read(path))
        finally:
            path.unlink()

    return strategy, run


def target_jsonl() -> tuple[Any, Callable[[Any, Outcome], None]]:
    from maaza.io import iter_jsonl

    return _file_target(file_bytes(), ".jsonl", lambda path: list(iter_jsonl(path)))


def target_json_file() -> tuple[Any, Callable[[Any, Outcome], None]]:
    from maaza.schemas import load_schema

    return _file_target(file_bytes(), ".json", load_schema)


def target_yaml() -> tuple[Any, Callable[[Any, Outcome], None]]:
    from maaza.config import load_config
    from maaza.train.config import TrainConfig

    return _file_target(yaml_bytes(), ".yaml", lambda path: load_config(TrainConfig, path))


def target_cli() -> tuple[Any, Callable[[Any, Outcome], None]]:
    """`maaza ARGS`: every outcome is an exit status (argparse's 2, a MaazaError's 2, 0/1), never a traceback."""
    from maaza.cli import build_parser, main

    def run(argv: list[str], outcome: Outcome) -> None:
        def call() -> None:
            err = io.StringIO()
            stdin, sys.stdin = sys.stdin, io.StringIO("")  # TEXT '-' reads stdin: an empty one
            with contextlib.ExitStack() as stack:
                stack.callback(setattr, sys, "stdin", stdin)
                stack.enter_context(contextlib.redirect_stderr(err))
                stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
                try:
                    status = main(argv)
                except SystemExit as exc:  # argparse: usage error or --help
                    status = exc.code
            if not isinstance(status, int):
                raise AssertionError(f"exit status {status!r}")
            if "Traceback" in err.getvalue():
                raise AssertionError(f"traceback printed for {argv}")

        _check(outcome, call)

    return _argv_for(build_parser()), run


def run_target(strategy: Any, run: Callable[[Any, Outcome], None], examples: int, seed: int = 0) -> Outcome:
    """Drive one target with `examples` Hypothesis cases (derandomized from `seed`); never raises."""
    outcome = Outcome()

    @given(strategy)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def drive(value: Any) -> None:
        run(value, outcome)

    drive._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    drive()
    return outcome
