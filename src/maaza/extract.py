"""Schema-guided JSON extraction as a product: the `Extractor` API and the `maaza extract` command.

    from maaza.extract import Extractor
    ex = Extractor.load("runs/x/merged")              # or Extractor.load(adapter="runs/x/adapter")
    ex.extract("Order A17 for Bob ...", "schemas/order.json")   # -> dict, valid against the schema

The prompt is built the way the model was trained: the `prompt_format` saved in the model's (or
adapter's) `maaza.json`, else `schema-chat` (the schema is rendered into the prompt, which is what lets
a base model extract fields of a schema it has never seen). Decoding is constrained by the schema
(llguidance) by default, and every answer is checked with full JSON Schema validation: `extract` either
returns a schema-valid object or raises `ExtractionError` saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError, check_encodable, location
from maaza.schemas import SchemaError, SchemaLike, check_schema, load_schema

__all__ = [
    "SUPPORTED_BACKENDS", "ExtractionError", "Extractor", "add_extract_parser", "check_schema", "load_schema",
]

SUPPORTED_BACKENDS = ("hf", "llamacpp", "onnx")

class ExtractionError(MaazaError):
    """One text could not be turned into schema-valid JSON; the message says why.

    `raw_output` holds the model's text when generation ran (None for input errors).
    """

    def __init__(self, message: str, *, raw_output: str | None = None) -> None:
        super().__init__(message)
        self.raw_output = raw_output


# ------------------------------------------------------------------------------------------- schemas


def _schema_key(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, default=str)


# ----------------------------------------------------------------------------------------- extractor


@dataclass
class _Item:
    index: int
    text: str
    schema: dict[str, Any]


@dataclass
class Extractor:
    """A loaded model that turns (text, JSON Schema) into a schema-valid JSON object."""

    runtime: Any  # maaza.decoding.backends.Backend
    backend: str
    prompt_format: str
    constrained: bool = True
    max_new_tokens: int = 512
    lenient_datetime: bool = True
    grounded: bool = False  # constrained values copied from the text (maaza.decoding.grounded)
    rewind_repeats: bool = False  # llamacpp, constrained: drop repeated list items (maaza.decoding.repeat_items)
    _grammar_errors: dict[str, str | None] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def load(
        cls,
        model: str | None = None,
        adapter: str | None = None,
        backend: str | None = None,
        *,
        constrained: bool = True,
        max_new_tokens: int = 512,
        lenient_datetime: bool = True,
        prompt_format: str | None = None,
        dtype: str = "float32",
        grounded: bool = False,
        rewind_repeats: bool = False,
    ) -> Extractor:
        """Load a model: a bundled name, folder, GGUF or hub id (+ an adapter); with neither `model` nor `adapter`,
        the shipped MLM-135M-JSON (`maaza models list`; `model="smollm2-135m"` for the plain base model).
        `backend` defaults to the shipped model's, else hf.

        `prompt_format` overrides the one saved in `maaza.json` (default `schema-chat`, or `schema` when
        the tokenizer has no chat template). `grounded` (constrained only) makes every free string and
        number a copy of a span of the text (`maaza.decoding.grounded`): for pure extraction, not for fields
        whose value must be inferred or normalised. `rewind_repeats` (constrained, llamacpp backend) drops
        a list item that repeats an earlier one and closes the list (`maaza.decoding.repeat_items`).
        """
        from maaza.decoding.options import check_decoding_options

        model, adapter, backend = resolve_model_arguments("edgejson", model, adapter, backend)
        check_decoding_options(constrained=constrained, grounded=grounded, rewind_repeats=rewind_repeats,
                               backend=backend)
        if max_new_tokens <= 0:
            raise MaazaError("max_new_tokens must be a positive number")
        runtime, chosen = load_task_runtime("edgejson", backend, model, adapter, prompt_format, dtype)
        return cls(runtime, backend, chosen, constrained, max_new_tokens, lenient_datetime, grounded,
                   rewind_repeats)

    # -------------------------------------------------------------------------------------- public

    def extract(self, text: str, schema: SchemaLike) -> dict[str, Any]:
        """The JSON object `text` holds, valid against `schema` (dict or path); raises ExtractionError."""
        result = self.extract_batch([(text, schema)], batch_size=1)[0]
        if isinstance(result, ExtractionError):
            raise result
        return result

    def extract_batch(
        self, items: Sequence[tuple[str, SchemaLike]], batch_size: int = 8, *, on_token: Any = None
    ) -> list[dict[str, Any] | ExtractionError]:
        """Extract many texts, `batch_size` decoded together; a failed item is its ExtractionError.

        `on_token(item_index, token_id) -> stop` sees every generated token (`maaza.decoding.backends.TokenCallback`,
        with the index into `items`); returning True abandons that item (its result is an ExtractionError).
        """
        if batch_size <= 0:
            raise MaazaError("batch_size must be a positive number")
        results: list[dict[str, Any] | ExtractionError | None] = [None] * len(items)
        pending: list[_Item] = []
        for index, (text, schema) in enumerate(items):
            try:
                pending.append(_Item(index, self._check_text(text), self._prepare_schema(schema)))
            except ExtractionError as exc:
                results[index] = exc
        # Similar lengths decode together: less left padding, same answers (greedy, masked padding).
        pending.sort(key=lambda item: len(item.text))
        for start in range(0, len(pending), batch_size):
            chunk = pending[start : start + batch_size]
            for item, outcome in zip(chunk, self._generate(chunk, on_token), strict=True):
                results[item.index] = outcome
        missing = ExtractionError("internal error: item was not processed")
        return [result if result is not None else missing for result in results]

    def describe(self) -> dict[str, Any]:
        """Model, adapter, backend and decoding settings (for logs and output headers)."""
        return {
            **self.runtime.describe(),
            "backend": self.backend,
            "prompt_format": self.prompt_format,
            "constrained": self.constrained,
            "grounded": self.grounded,
            "rewind_repeats": self.rewind_repeats,
            "max_new_tokens": self.max_new_tokens,
        }

    # ------------------------------------------------------------------------------------ internals

    @staticmethod
    def _check_text(text: Any) -> str:
        if not isinstance(text, str):
            raise ExtractionError(f"text must be a string, got {type(text).__name__}")
        stripped = text.strip()
        if not stripped:
            raise ExtractionError("empty text")
        try:
            return check_encodable(stripped, "text")
        except MaazaError as exc:
            raise ExtractionError(str(exc)) from None

    def _prepare_schema(self, schema: SchemaLike) -> dict[str, Any]:
        """Load + check a schema, and make sure it compiles to a grammar (cached per schema content)."""
        from maaza.decoding.constrained import ConstraintError, compile_grammar

        try:
            checked = load_schema(schema)
        except SchemaError as exc:
            raise ExtractionError(str(exc)) from None
        if self.constrained:
            cache = self._grammar_errors
            key = _schema_key(checked)  # -> None if the schema compiles, else the compile error
            if key not in cache:
                try:
                    compile_grammar(checked, lenient_datetime=self.lenient_datetime)
                    cache[key] = None
                except ConstraintError as exc:
                    cache[key] = str(exc)
            if cache[key] is not None:
                source = f"{schema}: " if isinstance(schema, str | os.PathLike) else ""
                raise ExtractionError(f"{source}schema cannot be used for constrained decoding: {cache[key]}")
        return checked

    def _generate(self, chunk: list[_Item], on_token: Any = None) -> list[dict[str, Any] | ExtractionError]:
        from maaza.decoding.constrained import ConstraintError
        from maaza.tasks import get_task

        fmt, tokenizer = self.prompt_format, self.runtime.tokenizer
        task = get_task("edgejson")
        rows = [task.request(item.text, item.schema, str(item.index)) for item in chunk]
        prompts = [task.prompt(row, fmt, tokenizer) for row in rows]
        constraints = [task.constraint(row, grounded=self.grounded) for row in rows]
        try:
            batch = self.runtime.generate(
                prompts,
                constraints if self.constrained else None,
                max_new_tokens=self.max_new_tokens,
                lenient_datetime=self.lenient_datetime,
                rewind_repeats=self.rewind_repeats,
                on_token=None if on_token is None else lambda row, token: on_token(chunk[row].index, token),
            )
        except ConstraintError as exc:
            if len(chunk) > 1:  # isolate the row that broke the grammar; the others still get answers
                return [self._generate([item], on_token)[0] for item in chunk]
            return [ExtractionError(f"constrained decoding failed: {exc}")]
        return [self._finish(gen, item.schema) for gen, item in zip(batch.generations, chunk, strict=True)]

    def _finish(self, gen: Any, schema: dict[str, Any]) -> dict[str, Any] | ExtractionError:
        from maaza.decoding.json_parse import parse_json_output
        from maaza.schemas import schema_valid

        if gen.finish_reason == "stopped":
            return ExtractionError("generation was stopped before the answer was complete", raw_output=gen.text)

        parsed = parse_json_output(gen.text)
        if not parsed.ok:
            if gen.finish_reason == "length":
                return ExtractionError(
                    f"output cut off at max_new_tokens={self.max_new_tokens} before the JSON object closed",
                    raw_output=gen.text,
                )
            message = f"model output is not a JSON object: {_preview(gen.text)}"
            return ExtractionError(message, raw_output=gen.text)
        valid, error = schema_valid(parsed.value, schema, lenient_datetime=self.lenient_datetime)
        if not valid:
            return ExtractionError(f"model output does not match the schema: {error}", raw_output=gen.text)
        return parsed.value


def _preview(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def check_backend(backend: str) -> None:
    """Raise MaazaError for a backend this version cannot run."""
    if backend not in SUPPORTED_BACKENDS:
        raise MaazaError(f"unknown backend '{backend}'; supported: {', '.join(SUPPORTED_BACKENDS)}")


def resolve_model_arguments(
    task: str, model: str | None, adapter: str | None, backend: str | None
) -> tuple[str | None, str | None, str]:
    """`model`, `adapter`, `backend` of a generative API's `load`: with neither model nor adapter, the shipped
    model of `task` and its backend; the backend defaults to hf and is checked."""
    if model is None and adapter is None:
        from maaza.models.shipped import shipped_for_task

        shipped = shipped_for_task(task).load_arguments()
        model, adapter = shipped["model"], shipped["adapter"]
        backend = backend or shipped["backend"]
    backend = backend or "hf"
    check_backend(backend)
    return model, adapter, backend


def load_task_runtime(
    task_name: str, backend: str, model: str | None, adapter: str | None, prompt_format: str | None, dtype: str
) -> tuple[Any, str]:
    """The loaded backend and the prompt format `task_name` uses with it (`choose_prompt_format`); a format the
    task does not know fails before the model loads."""
    from maaza.decoding.backends import load_backend
    from maaza.tasks import get_task
    from maaza.tasks.base import choose_prompt_format

    task = get_task(task_name)
    if prompt_format is not None:
        choose_prompt_format(prompt_format, {}, task)
    runtime = load_backend(backend, model, adapter=adapter, dtype=dtype)
    return runtime, choose_prompt_format(prompt_format, runtime.metadata, task, runtime.tokenizer)


# ---------------------------------------------------------------------------------------------- CLI


def add_extract_parser(sub: Any) -> None:
    """Register `maaza extract` on an argparse subparsers object."""
    from maaza.tasks.edgejson import PROMPT_FORMATS

    p = sub.add_parser(
        "extract",
        help="extract schema-valid JSON from text with a (fine-tuned) model",
        description="Extract a JSON object matching a JSON Schema from TEXT (or stdin: '-') and print it; "
        "or, with --input rows.jsonl --output out.jsonl, every row's `prompt` (schema from --schema, or the "
        "row's `schema_id` looked up in --schemas DIR), writing {id, output} or {id, error} per row. "
        "Re-running the same batch command skips rows already written.",
    )
    p.add_argument("text", nargs="?", default=None, help="the text to extract from; '-' reads stdin")
    p.add_argument("--model", default=None,
                   help="a bundled name (smollm2-135m: the base model), a model folder (e.g. runs/x/merged), a GGUF "
                   "or a hub id (default: the shipped MLM-135M-JSON, see `maaza models list`)")
    p.add_argument("--adapter", default=None, help="a peft LoRA adapter folder (its base unless --model)")
    p.add_argument("--backend", default=None, choices=SUPPORTED_BACKENDS,
                   help="hf (transformers), llamacpp (--model a .gguf), onnx (--model an ORT GenAI folder); "
                   "default: the shipped model's backend, else hf")
    p.add_argument("--schema", default=None, help="JSON Schema file for the text (or for every --input row)")
    p.add_argument("--schemas", default=None, help="schema folder; rows pick one by `schema_id` (file stem)")
    p.add_argument("--input", default=None, help="batch mode: JSONL rows with `prompt` (+ `id`, `schema_id`)")
    p.add_argument("--output", default=None, help="batch mode: JSONL of {id, output} / {id, error} rows")
    p.add_argument("--fresh", action="store_true", help="batch mode: ignore rows already in --output")
    p.add_argument("--indent", type=int, default=None, help="pretty-print the JSON with this indent")
    p.add_argument("--batch-size", type=int, default=8, help="rows decoded together (default 8)")
    p.add_argument("--max-new-tokens", type=int, default=512, help="generation budget per text (default 512)")
    p.add_argument("--prompt-format", default=None, choices=PROMPT_FORMATS,
                   help="prompt template (default: the model's maaza.json, else the task's: schema-chat)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--unconstrained", action="store_true",
                   help="free decoding (the answer is still parsed and schema-checked)")
    p.add_argument("--strict-datetime", action="store_true",
                   help="`date-time` needs an RFC 3339 offset (default accepts ISO-8601 without one)")
    p.add_argument("--grounded", action="store_true",
                   help="every free string and number must be copied from the text (spans on word boundaries)")
    p.add_argument("--no-progress", action="store_true", help="hide the batch progress bar")
    p.set_defaults(handler=run_extract)


def run_extract(args: argparse.Namespace) -> int:
    """Handler for `maaza extract`.

    Input errors (bad schema, unreadable/malformed input, empty text) raise MaazaError before the model is
    loaded (the CLI prints one line, exit 2); a text the model fails on exits 1 (single text) or becomes an
    `{id, error}` row (batch mode, exit 0).
    """
    if args.backend is not None:
        check_backend(args.backend)
    if args.batch_size <= 0:
        raise MaazaError("--batch-size must be a positive number")
    if args.max_new_tokens <= 0:
        raise MaazaError("--max-new-tokens must be a positive number")
    if args.input is not None:
        if args.text is not None:
            raise MaazaError("give either TEXT/- or --input rows.jsonl, not both")
        return _run_batch(args)
    if args.text is None:
        raise MaazaError("nothing to extract from: give TEXT, '-' (stdin) or --input rows.jsonl")
    if args.schema is None:
        raise MaazaError("--schema S.json is required")
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise ExtractionError("empty text" + (" on stdin" if args.text == "-" else ""))
    schema = load_schema(args.schema)
    extractor = _load_extractor(args)
    try:
        result = extractor.extract(text, schema)
    except ExtractionError as exc:  # the model failed (inputs were fine): exit 1, not the usage-error 2
        print(f"maaza: extraction failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=args.indent))
    return 0


def _load_extractor(args: argparse.Namespace) -> Extractor:
    return Extractor.load(
        args.model, args.adapter, args.backend, constrained=not args.unconstrained,
        max_new_tokens=args.max_new_tokens, lenient_datetime=not args.strict_datetime,
        prompt_format=args.prompt_format, dtype=args.dtype, grounded=args.grounded,
    )


@dataclass
class _BatchRow:
    id: Any
    key: str
    text: str
    schema_name: str


def _read_batch_rows(path: Path, schema_ids: set[str] | None) -> list[_BatchRow]:
    """Rows of the input JSONL; structural problems name file:line. `schema_ids` None: one --schema."""
    from maaza.io import iter_jsonl

    rows: list[_BatchRow] = []
    seen: dict[str, int] = {}
    for number, raw in iter_jsonl(path):
        prompt = raw.get("prompt")
        if not isinstance(prompt, str):
            what = "is missing" if prompt is None else "must be a string"
            raise MaazaError(f"{location(path, number, 'prompt')} {what}")
        row_id = raw.get("id", number)
        key = json.dumps(row_id, sort_keys=True)
        if key in seen:
            first = seen[key]
            raise MaazaError(f"{location(path, number, 'id')}: duplicate id {key} (first on line {first})")
        seen[key] = number
        schema_name = ""
        if schema_ids is not None:
            if "schema_id" not in raw:
                raise MaazaError(f"{location(path, number, 'schema_id')} is missing (needed with --schemas)")
            schema_name = str(raw["schema_id"])
            if schema_name not in schema_ids:
                raise MaazaError(f"{location(path, number, 'schema_id')}: no schema named '{schema_name}'")
        rows.append(_BatchRow(row_id, key, prompt, schema_name))
    return rows


def _load_batch_schemas(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """schema name -> checked schema; "" is the single --schema. Errors name the file."""
    if args.schema is not None and args.schemas is not None:
        raise MaazaError("give either --schema (one schema for all rows) or --schemas DIR, not both")
    if args.schema is not None:
        return {"": load_schema(args.schema)}
    if args.schemas is None:
        raise MaazaError("batch mode needs --schema S.json or --schemas DIR (rows pick one by `schema_id`)")
    from maaza.schemas import load_schema_folder

    return load_schema_folder(args.schemas)


def _read_done(output_path: Path, partial_path: Path) -> dict[str, dict[str, Any]]:
    """Rows written by an earlier run: the final output (written atomically) and the partial progress
    (checked lines: a torn or damaged line is not used, with a warning, and its row is extracted again)."""
    from maaza.io import read_checked_lines

    rows: list[Any] = []
    if output_path.is_file():
        for raw in output_path.read_bytes().splitlines():
            try:
                rows.append(json.loads(raw.decode("utf-8")))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                continue  # not a row of ours: it is rewritten at the end
    rows += read_checked_lines(partial_path, what="extraction progress")
    done: dict[str, dict[str, Any]] = {}
    for row in rows:
        if isinstance(row, dict) and "id" in row and ("output" in row or "error" in row):
            done[json.dumps(row["id"], sort_keys=True)] = row
    return done


def _run_batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from maaza.io import append_checked_lines, atomic_write_text

    if args.output is None:
        raise MaazaError("--input needs --output out.jsonl")
    input_path, output_path = Path(args.input), Path(args.output)
    if input_path.resolve() == output_path.resolve():
        raise MaazaError("--output must differ from --input")
    schemas = _load_batch_schemas(args)
    rows = _read_batch_rows(input_path, None if "" in schemas else set(schemas))
    partial_path = output_path.with_name(output_path.name + ".partial")
    if args.fresh:
        partial_path.unlink(missing_ok=True)
    done = {} if args.fresh else _read_done(output_path, partial_path)
    done = {row.key: done[row.key] for row in rows if row.key in done}
    # Similar lengths decode together (less padding); the output keeps the input order.
    todo = sorted((row for row in rows if row.key not in done), key=lambda row: len(row.text))

    if todo:
        extractor = _load_extractor(args)
        output_path.parent.mkdir(parents=True, exist_ok=True)
        bar = tqdm(total=len(todo), unit="row", desc="extract", disable=args.no_progress, file=sys.stderr)
        for start in range(0, len(todo), args.batch_size):
            chunk = todo[start : start + args.batch_size]
            items = [(row.text, schemas[row.schema_name]) for row in chunk]
            outcomes = extractor.extract_batch(items, batch_size=args.batch_size)
            records: list[dict[str, Any]] = []
            for row, outcome in zip(chunk, outcomes, strict=True):
                record: dict[str, Any] = {"id": row.id}
                if isinstance(outcome, ExtractionError):
                    record["error"] = str(outcome)
                else:
                    record["output"] = outcome
                done[row.key] = record
                records.append(record)
            append_checked_lines(partial_path, records)
            bar.update(len(chunk))
        bar.close()
    ordered = [done[row.key] for row in rows]
    atomic_write_text(output_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered))
    partial_path.unlink(missing_ok=True)
    errors = sum(1 for r in ordered if "error" in r)
    skipped = len(rows) - len(todo)
    print(
        f"{len(rows) - errors} extracted, {errors} errors"
        f"{f' ({skipped} already done)' if skipped else ''} -> {output_path}",
        file=sys.stderr,
    )
    return 0
