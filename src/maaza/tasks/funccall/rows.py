"""EdgeFuncCall rows: a request, the functions offered and the possible answers (BFCL's format), and prompts.

A row is BFCL's `{"id", "question", "functions", "ground_truth"}` (`question`: a list of turns, each a list of
chat messages; `ground_truth`: `[{func_name: {param: [acceptable values]}}]`, `""` in a list meaning the
parameter may be left out, null when no function fits), plus optionally `category` (else read from the id,
`simple_python_12` -> `simple`) and `calls` (the exact answer a model is trained to write; else the first
acceptable value of each parameter). `data` is one JSONL or a folder of them (BFCL's five files).

Prompt formats: `tools` (plain text) and `tools-chat` (the instructions and specs as the system turn, the
request as the user turn, in the model's chat template).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError, location
from maaza.io import iter_jsonl
from maaza.tasks import base
from maaza.tasks.funccall.specs import calls_from_ground_truth, normalise_functions, render_functions

CATEGORY_ORDER = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
CATEGORY_ALIASES = {"simple_python": "simple"}  # BFCL's file/id prefix -> the category name reports use
PROMPT_FORMATS = ("tools", "tools-chat")
REQUIRED_FIELDS = ("id", "question", "functions")
INSTRUCTIONS = (
    "You are a function-calling assistant. Answer with a JSON list of the calls that fulfil the request, "
    'each {"name": <function name>, "arguments": {<parameter>: <value>}}. Use only the functions below; '
    "answer [] when none of them fits.\nFunctions:\n"
)
PLAIN_TEMPLATE = "{instructions}{functions}\n\nRequest: {request}\n\nCalls:"


@dataclass(frozen=True)
class FuncCallRow:
    id: str
    category: str
    messages: tuple[dict[str, str], ...]  # the request: chat messages (BFCL's one turn)
    functions: tuple[dict[str, Any], ...]  # normalised specs (`specs.normalise_functions`)
    ground_truth: tuple[dict[str, Any], ...] | None  # BFCL possible answers; None: no function fits
    calls: tuple[dict[str, Any], ...] = ()  # the training answer
    source_line: int = 0

    @property
    def groups(self) -> dict[str, str]:
        return {"category": self.category}

    @property
    def request(self) -> str:
        """The user's words (all user messages, joined)."""
        return "\n".join(m["content"] for m in self.messages if m.get("role") == "user")


def category_of(row_id: str) -> str:
    """`simple_python_12` -> `simple`; `parallel_multiple_3` -> `parallel_multiple`."""
    prefix = re.sub(r"_\d+$", "", row_id)
    return CATEGORY_ALIASES.get(prefix, prefix)


def _messages(question: Any, where: str) -> tuple[dict[str, str], ...]:
    """BFCL's question (a list of turns of messages, or one list of messages, or a string) as messages."""
    if isinstance(question, str):
        question = [[{"role": "user", "content": question}]]
    if not isinstance(question, list) or not question:
        raise MaazaError(f"{where} must be a non-empty list of turns (lists of chat messages) or a string")
    turns = question if isinstance(question[0], list) else [question]
    messages: list[dict[str, str]] = []
    for turn in turns:
        if not isinstance(turn, list):
            raise MaazaError(f"{where}: every turn must be a list of chat messages")
        for message in turn:
            if (not isinstance(message, Mapping) or message.get("role") not in ("system", "user", "assistant")
                    or not isinstance(message.get("content"), str)):
                raise MaazaError(f"{where}: every message needs a role (system/user/assistant) and a string content")
            messages.append({"role": message["role"], "content": message["content"]})
    if not any(m["role"] == "user" and m["content"].strip() for m in messages):
        raise MaazaError(f"{where}: no user message with text")
    return tuple(messages)


def _ground_truth(value: Any, names: set[str], where: str) -> tuple[dict[str, Any], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise MaazaError(f"{where} must be a list of {{function: {{parameter: [values]}}}} or null")
    for entry in value:
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise MaazaError(f"{where}: every entry must be one {{function: {{parameter: [values]}}}}")
        (name, params), = entry.items()
        if name not in names:
            raise MaazaError(f"{where}: function '{name}' is not among the row's functions")
        if not isinstance(params, Mapping) or any(not isinstance(v, list) for v in params.values()):
            raise MaazaError(f"{where}: '{name}' must map each parameter to a list of acceptable values")
    return tuple(value) if value else None


def _calls(value: Any, names: set[str], where: str) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list):
        raise MaazaError(f"{where} must be a list of {{name, arguments}} calls")
    for call in value:
        if not isinstance(call, Mapping) or call.get("name") not in names or not isinstance(call.get("arguments"), dict):
            raise MaazaError(f"{where}: every call needs a name among the row's functions and an arguments object")
    return tuple(value)


def parse_row(raw: Mapping[str, Any], path: str | Path, number: int) -> FuncCallRow:
    """One checked row; every problem names file:line and the field."""
    for name in REQUIRED_FIELDS:
        if name not in raw:
            raise MaazaError(f"{location(path, number, name)} is missing")
    functions = normalise_functions(raw["functions"], where=location(path, number, "functions"))
    names = {spec["name"] for spec in functions}
    truth = _ground_truth(raw.get("ground_truth"), names, location(path, number, "ground_truth"))
    if "calls" in raw:
        calls = _calls(raw["calls"], names, location(path, number, "calls"))
    else:
        calls = tuple(calls_from_ground_truth(list(truth or ())))
    row_id = str(raw["id"])
    category = str(raw.get("category") or category_of(row_id))
    return FuncCallRow(row_id, category, _messages(raw["question"], location(path, number, "question")),
                       tuple(functions), truth, calls, number)


def data_files(data: str | Path) -> list[Path]:
    """The JSONL itself, or a folder's `*.jsonl` in category order (the others after, alphabetically)."""
    path = Path(data)
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise MaazaError(f"{path}: no *.jsonl files in the folder")
        rank = {name: i for i, name in enumerate(("simple_python", *CATEGORY_ORDER[1:]))}
        return sorted(files, key=lambda f: (rank.get(f.stem, len(rank)), f.name))
    if not path.is_file():
        raise MaazaError(f"function-calling data not found: {path}")
    return [path]


def load_rows(data: str | Path, *, limit: int | None = None) -> list[FuncCallRow]:
    """Every row of the file(s); ids unique across them; `limit` takes a slice stratified by category."""
    rows: list[FuncCallRow] = []
    seen: dict[str, str] = {}
    for path in data_files(data):
        for number, raw in iter_jsonl(path):
            row = parse_row(raw, path, number)
            if row.id in seen:
                raise MaazaError(f"{location(path, number, 'id')}: duplicate id '{row.id}' (first at {seen[row.id]})")
            seen[row.id] = location(path, number)
            rows.append(row)
    if limit is not None:
        rows = base.stratified_slice(rows, limit, "category", CATEGORY_ORDER)
    return rows


def system_text(functions: Sequence[Mapping[str, Any]]) -> str:
    """The instructions and the offered specs (the chat format's system turn)."""
    return INSTRUCTIONS + render_functions(functions)


def build_prompt(
    messages: Sequence[Mapping[str, str]], functions: Sequence[Mapping[str, Any]], prompt_format: str, tokenizer: Any
) -> str:
    """The exact string fed to the model for a request and its functions."""
    if prompt_format not in PROMPT_FORMATS:
        raise MaazaError(f"unknown prompt format '{prompt_format}'; choose one of {', '.join(PROMPT_FORMATS)}")
    if prompt_format == "tools":
        request = "\n".join(m["content"] for m in messages if m["role"] == "user")
        return PLAIN_TEMPLATE.format(instructions=INSTRUCTIONS, functions=render_functions(functions),
                                     request=request)
    if not getattr(tokenizer, "chat_template", None):
        raise MaazaError(f"prompt format '{prompt_format}' needs a tokenizer with a chat template")
    system = system_text(functions)
    extra = [m["content"] for m in messages if m["role"] == "system"]
    turns = [{"role": "system", "content": "\n\n".join([system, *extra])}]
    turns += [dict(m) for m in messages if m["role"] != "system"]
    return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)


def target_text(calls: Sequence[Mapping[str, Any]], *, minify: bool = True) -> str:
    """The training answer: the calls as a JSON list."""
    if minify:
        return json.dumps(list(calls), ensure_ascii=False, separators=(",", ":"))
    return json.dumps(list(calls), ensure_ascii=False, indent=2)
