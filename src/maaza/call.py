"""Function calling as a product: the `FunctionCaller` API and the `maaza call` command.

    from maaza.call import FunctionCaller
    fc = FunctionCaller.load()                      # the shipped MLM-135M-FuncCall (`maaza models list`)
    fc.call("What's the weather in Oslo in celsius?", tools)   # -> [{"name": ..., "arguments": {...}}]

`functions` are BFCL specs or OpenAI `tools` (`{"type": "function", "function": {...}}`), checked first
(`maaza.tasks.funccall.specs`: an unknown type, a missing `parameters`, a duplicate name or an empty list is
an error naming the spec and field). Decoding is constrained by the JSON Schema of calls to those specs, and
every answer is validated against it before it is returned: `call` returns calls valid against the offered
specs (possibly `[]`, when none fits) or raises `FunctionCallError` saying why.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError, check_encodable, location
from maaza.extract import SUPPORTED_BACKENDS, load_task_runtime, resolve_model_arguments

__all__ = ["FunctionCallError", "FunctionCaller", "add_call_parser", "load_functions"]

TASK = "funccall"


class FunctionCallError(MaazaError):
    """One request could not be answered with valid calls; `raw_output` holds the model's text when it ran."""

    def __init__(self, message: str, *, raw_output: str | None = None) -> None:
        super().__init__(message)
        self.raw_output = raw_output


def load_functions(source: Any) -> list[dict[str, Any]]:
    """Specs from a list (BFCL or OpenAI tools) or a JSON file holding one (or `{"tools": [...]}`), checked."""
    from maaza.tasks.funccall.specs import normalise_functions

    where = "functions"
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise MaazaError(f"functions file not found: {path}")
        try:
            source = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise MaazaError(f"{location(path, exc.lineno)}: not valid JSON ({exc.msg})") from None
        where = str(path)
    if isinstance(source, dict):
        source = source.get("tools", source.get("functions", [source]))
    return normalise_functions(source, where=where)


@dataclass
class FunctionCaller:
    """A loaded model that turns (request, function specs) into calls valid against those specs."""

    runtime: Any  # maaza.decoding.backends.Backend
    backend: str
    prompt_format: str
    constrained: bool = True
    max_new_tokens: int = 512

    @classmethod
    def load(
        cls,
        model: str | None = None,
        adapter: str | None = None,
        backend: str | None = None,
        *,
        constrained: bool = True,
        max_new_tokens: int = 512,
        prompt_format: str | None = None,
        dtype: str = "float32",
    ) -> FunctionCaller:
        """A bundled name, folder, GGUF or hub id (+ an adapter); neither: the shipped function-calling model."""
        model, adapter, backend = resolve_model_arguments(TASK, model, adapter, backend)
        if max_new_tokens <= 0:
            raise MaazaError("max_new_tokens must be a positive number")
        runtime, chosen = load_task_runtime(TASK, backend, model, adapter, prompt_format, dtype)
        return cls(runtime, backend, chosen, constrained, max_new_tokens)

    def call(self, text: str, functions: Any) -> list[dict[str, Any]]:
        """The calls that answer `text` with the offered `functions` (`[]` when none fits)."""
        result = self.call_batch([(text, functions)])[0]
        if isinstance(result, FunctionCallError):
            raise result
        return result

    def call_batch(
        self, items: Sequence[tuple[str, Any]], batch_size: int = 4, *, min_calls: int = 0, on_token: Any = None
    ) -> list[list[dict[str, Any]] | FunctionCallError]:
        """Many requests, `batch_size` decoded together; a failed one is its FunctionCallError.

        `min_calls=1` makes the grammar demand at least one call (OpenAI's `tool_choice: "required"`);
        `on_token(item_index, token_id) -> stop` sees every generated token and may abandon that item.
        """
        from maaza.tasks import get_task

        if batch_size <= 0:
            raise MaazaError("batch_size must be a positive number")
        task = get_task(TASK)
        rows: list[Any] = []
        results: list[Any] = [None] * len(items)
        for index, (text, functions) in enumerate(items):
            if not isinstance(text, str) or not text.strip():
                results[index] = FunctionCallError("empty request text")
                continue
            try:
                check_encodable(text, "request text")
                rows.append((index, task.request(text.strip(), load_functions(functions), str(index))))
            except MaazaError as exc:
                results[index] = FunctionCallError(str(exc))
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            indices = [index for index, _ in chunk]
            hook = None if on_token is None else lambda row, token, at=indices: on_token(at[row], token)
            outcomes = self._generate([row for _, row in chunk], min_calls, hook)
            for index, outcome in zip(indices, outcomes, strict=True):
                results[index] = outcome
        return results

    def describe(self) -> dict[str, Any]:
        return {**self.runtime.describe(), "backend": self.backend, "prompt_format": self.prompt_format,
                "constrained": self.constrained, "max_new_tokens": self.max_new_tokens}

    def _generate(
        self, rows: list[Any], min_calls: int = 0, on_token: Any = None
    ) -> list[list[dict[str, Any]] | FunctionCallError]:
        from maaza.decoding.constrained import ConstraintError
        from maaza.tasks import get_task

        task = get_task(TASK)
        prompts = [task.prompt(row, self.prompt_format, self.runtime.tokenizer) for row in rows]
        constraints = None
        if self.constrained:
            constraints = [task.constraint(row) for row in rows]
            if min_calls:
                constraints = [{**schema, "minItems": min_calls} for schema in constraints]
        try:
            batch = self.runtime.generate(prompts, constraints, max_new_tokens=self.max_new_tokens,
                                          stop_on_json_close=False, on_token=on_token)  # the answer is a list
        except ConstraintError as exc:
            if len(rows) > 1:
                return [self._generate([row], min_calls, None if on_token is None else
                                       lambda _, token, at=i: on_token(at, token))[0]
                        for i, row in enumerate(rows)]
            return [FunctionCallError(f"constrained decoding failed: {exc}")]
        return [self._finish(gen, row) for gen, row in zip(batch.generations, rows, strict=True)]

    def _finish(self, gen: Any, row: Any) -> list[dict[str, Any]] | FunctionCallError:
        from maaza.tasks.funccall.metrics import parse_calls, spec_valid

        if gen.finish_reason == "stopped":
            return FunctionCallError("generation was stopped before the answer was complete", raw_output=gen.text)
        calls = parse_calls(gen.text)
        if calls is None:
            reason = (f"output cut off at max_new_tokens={self.max_new_tokens}" if gen.finish_reason == "length"
                      else f"model output is not a JSON list of calls: {gen.text[:80]!r}")
            return FunctionCallError(reason, raw_output=gen.text)
        if not spec_valid(calls, row.functions):
            return FunctionCallError("model output does not match the offered function specs", raw_output=gen.text)
        return calls


# ---------------------------------------------------------------------------------------------- CLI


def add_call_parser(sub: Any) -> None:
    """Register `maaza call` on an argparse subparsers object."""
    from maaza.tasks.funccall.rows import PROMPT_FORMATS

    p = sub.add_parser(
        "call",
        help="turn a request into function calls valid against the specs offered",
        description="Print the JSON list of calls that answer TEXT (or stdin: '-') with the functions of "
        "--functions (a JSON file: a list of BFCL specs or OpenAI tools, or {\"tools\": [...]}); [] when none "
        "fits. With --input rows.jsonl --output out.jsonl: every row's `question` (or `text`) with its own "
        "`functions` (or --functions), writing {id, calls} or {id, error} per row.",
    )
    p.add_argument("text", nargs="?", default=None, help="the request; '-' reads stdin")
    p.add_argument("--functions", default=None, help="JSON file of function specs / tools")
    p.add_argument("--model", default=None,
                   help="a bundled name (smollm2-135m: the base), a model folder, a GGUF or a hub id "
                   "(default: the shipped MLM-135M-FuncCall)")
    p.add_argument("--adapter", default=None, help="a peft LoRA adapter folder")
    p.add_argument("--backend", default=None, choices=SUPPORTED_BACKENDS, help="default: the shipped model's")
    p.add_argument("--input", default=None, help="batch mode: JSONL rows with question/text (+ id, functions)")
    p.add_argument("--output", default=None, help="batch mode: JSONL of {id, calls} / {id, error}")
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--prompt-format", default=None, choices=PROMPT_FORMATS)
    p.add_argument("--unconstrained", action="store_true", help="free decoding (answers are still checked)")
    p.add_argument("--indent", type=int, default=None)
    p.set_defaults(handler=run_call)


def _batch_items(path: Path, default_functions: list[dict[str, Any]] | None) -> list[tuple[Any, str, Any]]:
    from maaza.io import iter_jsonl
    from maaza.tasks.funccall.rows import FuncCallRow, _messages

    items = []
    for number, raw in iter_jsonl(path):
        question = raw.get("question", raw.get("text"))
        if question is None:
            raise MaazaError(f"{location(path, number, 'question')} is missing (or give `text`)")
        text = FuncCallRow("", "", _messages(question, location(path, number, "question")), (), None).request
        if "functions" in raw:
            functions = load_functions_at(raw["functions"], location(path, number, "functions"))
        elif default_functions is not None:
            functions = default_functions
        else:
            raise MaazaError(f"{location(path, number, 'functions')} is missing (or give --functions)")
        items.append((raw.get("id", number), text, functions))
    return items


def load_functions_at(source: Any, where: str) -> list[dict[str, Any]]:
    from maaza.tasks.funccall.specs import normalise_functions

    return normalise_functions(source, where=where)


def run_call(args: argparse.Namespace) -> int:
    """Handler for `maaza call`: input errors exit 2 before the model loads; a failed answer exits 1."""
    from maaza.io import atomic_write_text

    if args.max_new_tokens <= 0:
        raise MaazaError("--max-new-tokens must be a positive number")
    functions = load_functions(args.functions) if args.functions else None
    if args.input is not None:
        if args.text is not None or args.output is None:
            raise MaazaError("batch mode: give --input rows.jsonl and --output out.jsonl, and no TEXT")
        items = _batch_items(Path(args.input), functions)
    else:
        if args.text is None:
            raise MaazaError("nothing to answer: give TEXT, '-' (stdin) or --input rows.jsonl")
        if functions is None:
            raise MaazaError("--functions specs.json is required")
        text = sys.stdin.read() if args.text == "-" else args.text
        if not text.strip():
            raise MaazaError("empty request text" + (" on stdin" if args.text == "-" else ""))
        items = [(None, text, functions)]
    caller = FunctionCaller.load(args.model, args.adapter, args.backend, constrained=not args.unconstrained,
                                 max_new_tokens=args.max_new_tokens, prompt_format=args.prompt_format)
    outcomes = caller.call_batch([(text, specs) for _, text, specs in items])
    if args.input is None:
        outcome = outcomes[0]
        if isinstance(outcome, FunctionCallError):
            print(f"maaza: function call failed: {outcome}", file=sys.stderr)
            return 1
        print(json.dumps(outcome, ensure_ascii=False, indent=args.indent))
        return 0
    lines = []
    for (row_id, _, _), outcome in zip(items, outcomes, strict=True):
        record = {"id": row_id, **({"error": str(outcome)} if isinstance(outcome, FunctionCallError)
                                   else {"calls": outcome})}
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    atomic_write_text(args.output, "".join(lines))
    errors = sum(isinstance(o, FunctionCallError) for o in outcomes)
    print(f"{len(items) - errors} answered, {errors} errors -> {args.output}", file=sys.stderr)
    return 0
