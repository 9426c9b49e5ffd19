"""Check a hand-written EdgeJSON test set: schema-valid gold answers whose values are spans of their text.

A hand-written row is an EdgeJSON row (`id, schema_id, complexity, prompt, expected_output`) plus
`genre` (what kind of text it is: e-mail, chat, log, ...) and `normalised`: the leaf paths (`a.b[0].c`) whose
gold value is *not* written verbatim in the text (an enum the text words differently, a boolean the text
implies). Every other leaf must occur in the text as its output form, on word boundaries
(`maaza.data.validate.is_grounded`, the data engine's grounding rule), so a reader that copies spans can
reach the gold answer. `python -m maaza.tasks.edgejson.handwritten FILE --schemas DIRS` prints every
problem as file:line: field: what is wrong, and a count per genre, schema and complexity.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from maaza.data.validate import is_grounded, record_leaves
from maaza.errors import MaazaError, location
from maaza.io import iter_jsonl
from maaza.schemas import format_leaf_path, load_schema_folder, schema_valid
from maaza.tasks.edgejson.rows import REQUIRED_FIELDS, schema_complexity

GENRES = (
    "email", "email_thread", "chat", "sms", "log", "invoice", "receipt", "form", "notes", "ticket", "report",
    "table", "letter", "web",
)
HANDWRITTEN_FIELDS = (*REQUIRED_FIELDS, "complexity", "genre")


def row_problems(raw: Mapping[str, Any], schemas: Mapping[str, dict[str, Any]],
                 complexity_of: Mapping[str, str]) -> list[tuple[str, str]]:
    """(field, problem) pairs of one row; empty when the row is a valid hand-written row."""
    problems = [(name, "is missing") for name in HANDWRITTEN_FIELDS if name not in raw]
    if problems:
        return problems
    text, gold, schema_id = raw["prompt"], raw["expected_output"], raw["schema_id"]
    if not isinstance(text, str) or not text.strip():
        return [("prompt", "must be a non-empty string")]
    if not isinstance(gold, dict) or not gold:
        return [("expected_output", "must be a non-empty JSON object")]
    if raw["genre"] not in GENRES:
        problems.append(("genre", f"'{raw['genre']}' is not one of {', '.join(GENRES)}"))
    if schema_id not in schemas:
        return [*problems, ("schema_id", f"no schema named '{schema_id}'")]
    expected_complexity = complexity_of.get(schema_id)
    if expected_complexity and raw["complexity"] != expected_complexity:
        problems.append(("complexity", f"'{raw['complexity']}', but schema '{schema_id}' is {expected_complexity}"))
    valid, error = schema_valid(gold, schemas[schema_id])
    if not valid:
        problems.append(("expected_output", f"not valid against '{schema_id}': {error}"))
    normalised = raw.get("normalised", [])
    if not isinstance(normalised, list) or not all(isinstance(item, str) for item in normalised):
        return [*problems, ("normalised", "must be a list of leaf paths such as 'items[0].price'")]
    leaves = {format_leaf_path(path): value for path, value in record_leaves(gold)}
    for path in normalised:
        if path not in leaves:
            problems.append(("normalised", f"'{path}' is not a leaf of expected_output"))
        elif is_grounded(leaves[path], text):
            problems.append(("normalised", f"'{path}' is written verbatim in the text: drop it from the list"))
    for path, value in leaves.items():
        if path not in normalised and not is_grounded(value, text):
            problems.append((f"expected_output.{path}", f"{value!r} is not written in the text"))
    return problems


def check_file(path: str | Path, schemas: Mapping[str, dict[str, Any]],
               complexity_of: Mapping[str, str]) -> tuple[list[str], list[dict[str, Any]]]:
    """Every problem of the file as 'file:line: field: problem', and its rows."""
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, raw in iter_jsonl(path):
        row_id = str(raw.get("id"))
        if row_id in seen:
            problems.append(f"{location(path, number, 'id')}: duplicate id '{row_id}' (line {seen[row_id]})")
        seen[row_id] = number
        problems += [f"{location(path, number, name)}: {problem}" for name, problem in
                     row_problems(raw, schemas, complexity_of)]
        rows.append(raw)
    return problems, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="hand-written JSONL files")
    parser.add_argument("--schemas", required=True, help="schema folder(s), joined by os.pathsep")
    args = parser.parse_args(argv)
    try:
        schemas = load_schema_folder(args.schemas)
        complexity_of = schema_complexity(args.schemas)
        problems: list[str] = []
        rows: list[dict[str, Any]] = []
        for file in args.files:
            file_problems, file_rows = check_file(file, schemas, complexity_of)
            problems += file_problems
            rows += file_rows
    except MaazaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    for key in ("genre", "complexity", "schema_id"):
        counts = Counter(str(row.get(key)) for row in rows)
        print(f"{key}: " + ", ".join(f"{name} {count}" for name, count in sorted(counts.items())))
    print(f"{len(rows)} rows, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
