"""EdgeJSON: extract a JSON object matching a schema from a short text.

Rows are `{id, schema_id, complexity, prompt, expected_output}` (JSONL); schemas live in
`<schemas>/<complexity>/<schema_id>.json`. Prompt formats:

- `seed`: the published template (Maaza MLM-135M-JSON card / SLM-Bench).
- `schema`: the same plus a compact rendering of the target JSON Schema.
- `seed-chat` / `schema-chat`: the same text wrapped in the model's chat template as a user turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError, location
from maaza.io import iter_jsonl
from maaza.paths import data_root
from maaza.tasks import base

SEED_TEMPLATE = "Extract the structured JSON data from the following text.\n\nInput: {prompt}\n\nOutput:"
SCHEMA_TEMPLATE = (
    "Extract the structured JSON data from the following text.\n\n"
    "Schema: {schema}\n\nInput: {prompt}\n\nOutput:"
)
PROMPT_FORMATS = ("seed", "schema", "seed-chat", "schema-chat")
COMPLEXITY_ORDER = ("simple", "medium", "complex")
REQUIRED_FIELDS = ("id", "schema_id", "prompt", "expected_output")


@dataclass(frozen=True)
class EdgeJSONRow:
    id: str
    schema_id: str
    complexity: str
    prompt: str
    expected_output: dict[str, Any]
    source_line: int = 0
    schema: dict[str, Any] | None = None  # a row's own schema (an extraction request); else looked up by schema_id

    @property
    def groups(self) -> dict[str, str]:
        """The aggregate groups of the row (`EdgeJSONTask.group_keys`)."""
        return {"complexity": self.complexity, "schema_id": self.schema_id}


def default_paths() -> tuple[Path | None, Path | None]:
    """EdgeJSON v3 test file and schema folder under the data root, when present."""
    root = data_root()
    if root is None:
        return None, None
    base = root / "edgejson_v3"
    return base / "test.jsonl", base / "schemas"


def schema_complexity(folder: str | Path) -> dict[str, str]:
    """schema id -> the complexity folder it sits in (`simple/`, `medium/`, `complex/`); `folder` may join
    several folders with `os.pathsep`, as `load_schema_folder` takes them."""
    from maaza.schemas import schema_folders

    return {path.stem: path.parent.name for root in schema_folders(folder) for path in root.rglob("*.json")
            if path.parent != root}


def load_rows(
    path: str | Path, schemas: dict[str, dict[str, Any]] | None = None, *, limit: int | None = None
) -> list[EdgeJSONRow]:
    """Read and validate rows; every problem names file:line and the field."""
    rows: list[EdgeJSONRow] = []
    seen: dict[str, int] = {}
    for number, raw in iter_jsonl(path):
        for name in REQUIRED_FIELDS:
            if name not in raw:
                raise MaazaError(f"{location(path, number, name)} is missing")
        if not isinstance(raw["prompt"], str) or not raw["prompt"].strip():
            raise MaazaError(f"{location(path, number, 'prompt')} must be a non-empty string")
        if not isinstance(raw["expected_output"], dict):
            raise MaazaError(f"{location(path, number, 'expected_output')} must be a JSON object")
        row_id, schema_id = str(raw["id"]), str(raw["schema_id"])
        if row_id in seen:
            raise MaazaError(
                f"{location(path, number, 'id')}: duplicate id '{row_id}' (first on line {seen[row_id]})"
            )
        seen[row_id] = number
        if schemas is not None and schema_id not in schemas:
            raise MaazaError(
                f"{location(path, number, 'schema_id')}: no schema named '{schema_id}' in the schema folder"
            )
        complexity = str(raw.get("complexity") or "unknown")
        rows.append(EdgeJSONRow(row_id, schema_id, complexity, raw["prompt"], raw["expected_output"], number))
    if limit is not None:
        rows = stratified_slice(rows, limit)
    return rows


def stratified_slice(rows: list[EdgeJSONRow], limit: int) -> list[EdgeJSONRow]:
    """The first `limit` rows taken round-robin over complexities, so a small slice covers all levels."""
    return base.stratified_slice(rows, limit, "complexity", COMPLEXITY_ORDER)


def render_schema(schema: dict[str, Any]) -> str:
    """A compact, TypeScript-like rendering of a JSON Schema (far fewer tokens than the raw schema).

    `{"title":string,"n"?:integer,"tags":[string],"level":"low"|"high","at":string<date-time>}`;
    `?` marks keys that are not required.
    """
    return _render(schema)


def _render(node: Any) -> str:
    if not isinstance(node, dict):
        return "any"
    if "enum" in node:
        return "|".join(json.dumps(v, ensure_ascii=False) for v in node["enum"])
    if "const" in node:
        return json.dumps(node["const"], ensure_ascii=False)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return "|".join(_render(option) for option in node[key])
    kind = node.get("type")
    if isinstance(kind, list):
        return "|".join(_render({**node, "type": k}) for k in kind)
    if kind == "object" or "properties" in node:
        required = set(node.get("required", []))
        parts = [
            f"{json.dumps(key, ensure_ascii=False)}{'' if key in required else '?'}:{_render(sub)}"
            for key, sub in node.get("properties", {}).items()
        ]
        return "{" + ",".join(parts) + "}"
    if kind == "array":
        return "[" + _render(node.get("items", {})) + "]"
    if kind == "string" and "format" in node:
        return f"string<{node['format']}>"
    return str(kind) if kind else "any"


def prompt_text(row_prompt: str, schema: dict[str, Any] | None, prompt_format: str) -> str:
    """The user-visible instruction text for one row (before any chat template)."""
    if prompt_format not in PROMPT_FORMATS:
        raise MaazaError(
            f"unknown prompt format '{prompt_format}'; choose one of {', '.join(PROMPT_FORMATS)}"
        )
    if prompt_format.startswith("schema"):
        if schema is None:
            raise MaazaError(f"prompt format '{prompt_format}' needs the row's schema")
        return SCHEMA_TEMPLATE.format(schema=render_schema(schema), prompt=row_prompt)
    return SEED_TEMPLATE.format(prompt=row_prompt)


def build_prompt(row_prompt: str, schema: dict[str, Any] | None, prompt_format: str, tokenizer: Any) -> str:
    """The exact string fed to the model; chat formats go through the tokenizer's chat template."""
    text = prompt_text(row_prompt, schema, prompt_format)
    if not prompt_format.endswith("-chat"):
        return text
    if not getattr(tokenizer, "chat_template", None):
        raise MaazaError(f"prompt format '{prompt_format}' needs a tokenizer with a chat template")
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )


def target_text(expected: dict[str, Any], *, minify: bool = True) -> str:
    """The training target: the gold object as JSON (minified by default: fewer tokens to learn and emit)."""
    if minify:
        return json.dumps(expected, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(expected, ensure_ascii=False, indent=2)
