"""EdgeIntent rows: utterances with one intent label, their content-hash ids, label files, prompts and splits.

Rows are `{"text": <utterance>, "label": <intent>}` (JSONL, no ids: an id is the hash of the text, so a
teacher-logit cache keyed by row id survives reordering and re-exporting). Label files are a JSON list of
the intent names, in the order a classifier's outputs (and cached teacher logits) follow.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError, location
from maaza.io import iter_jsonl, read_json

PROMPT_FORMATS = ("text", "instruct")
# The instruction lists no labels (77 or 151 of them would dwarf the utterance): a generative model learns
# the label names from training, and constrained decoding allows nothing else.
INSTRUCT_TEMPLATE = (
    'Classify the intent of the message. Answer with JSON: {{"intent": "<intent>"}}\n\n'
    "Message: {text}\n\nAnswer:"
)
LABELS_FILE = "labels.json"
IN_SCOPE, OUT_OF_SCOPE = "in", "oos"


@dataclass(frozen=True)
class IntentRow:
    id: str  # "r" + 16 hex digits of sha256(text), "-2", "-3"... for a text repeated in one file
    text: str
    label: str
    source_line: int = 0
    split: str = ""  # the file's stem: train, test, val...
    scope: str = IN_SCOPE  # "oos" when the label is the task's out-of-scope label (set by load_rows)

    @property
    def groups(self) -> dict[str, str]:
        """The aggregate groups of the row: its label and its scope (`in`, or `oos`)."""
        return {"label": self.label, "scope": self.scope}


def text_id(text: str) -> str:
    """The content hash a row's id starts with: `r` + the first 16 hex digits of sha256(text)."""
    return "r" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def row_ids(texts: Sequence[str]) -> list[str]:
    """The ids of a file's texts: their content hashes, the 2nd, 3rd... copy of a text suffixed -2, -3..."""
    seen: dict[str, int] = {}
    ids = []
    for text in texts:
        base = text_id(text)
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids


def read_labels(path: str | Path) -> tuple[str, ...]:
    """A labels file: a non-empty JSON list of distinct strings; any other content names the file."""
    file = Path(path)
    if not file.is_file():
        raise MaazaError(f"labels file not found: {file}")
    value = read_json(file, what="labels file")
    return check_labels(value, str(file))


def check_labels(value: Any, where: str) -> tuple[str, ...]:
    """`value` as a label tuple, or an error naming `where` (a file, or how the labels were given)."""
    if not isinstance(value, list | tuple) or not value:
        raise MaazaError(f"{where}: labels must be a non-empty JSON list of strings")
    for index, label in enumerate(value):
        if not isinstance(label, str) or not label.strip():
            raise MaazaError(f"{where}: label {index} must be a non-empty string, got {json.dumps(label)}")
    seen: set[str] = set()
    for label in value:
        if label in seen:
            raise MaazaError(f"{where}: label '{label}' is listed twice")
        seen.add(label)
    return tuple(value)


def labels_difference(ours: Sequence[str], theirs: Sequence[str]) -> str:
    """How two label lists differ, in a few words (empty when they are the same list)."""
    if list(ours) == list(theirs):
        return ""
    missing = [label for label in ours if label not in set(theirs)]
    extra = [label for label in theirs if label not in set(ours)]
    if not missing and not extra:
        position = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
        return (
            f"the same {len(ours)} labels in a different order (position {position}: "
            f"'{theirs[position]}' there, '{ours[position]}' in the task's)"
        )
    parts = []
    if extra:
        parts.append(f"{len(extra)} not in the task's ({_some(extra)})")
    if missing:
        parts.append(f"{len(missing)} of the task's missing ({_some(missing)})")
    return f"{len(theirs)} labels vs the task's {len(ours)}: " + "; ".join(parts)


def _some(labels: list[str], shown: int = 3) -> str:
    listed = ", ".join(f"'{label}'" for label in labels[:shown])
    return listed + (f", ... {len(labels) - shown} more" if len(labels) > shown else "")


def load_rows(
    path: str | Path,
    labels: Sequence[str],
    *,
    labels_source: str,
    oos_label: str | None = None,
) -> list[IntentRow]:
    """Read and validate a JSONL of `{text, label}`; every problem names file:line and the field.

    `labels_source` says where the task's labels come from (`labels.json at PATH`), for the unknown-label error.
    """
    known = set(labels)
    split = Path(path).stem
    parsed: list[tuple[int, str, str]] = []
    for number, raw in iter_jsonl(path):
        if "text" not in raw:
            raise MaazaError(f"{location(path, number, 'text')} is missing")
        text = raw["text"]
        if not isinstance(text, str):
            raise MaazaError(f"{location(path, number, 'text')} must be a string, got {type(text).__name__}")
        if not text.strip():
            raise MaazaError(f"{location(path, number, 'text')} is empty")
        if "label" not in raw:
            raise MaazaError(f"{location(path, number, 'label')} is missing")
        label = raw["label"]
        if not isinstance(label, str):
            raise MaazaError(
                f"{location(path, number, 'label')} must be a string, got {type(label).__name__}"
            )
        if label not in known:
            raise MaazaError(
                f"{location(path, number, 'label')}: unknown label '{label}'; not one of the task's "
                f"{len(labels)} labels ({labels_source})"
            )
        parsed.append((number, text, label))
    ids = row_ids([text for _, text, _ in parsed])
    return [
        IntentRow(
            row_id,
            text,
            label,
            number,
            split,
            OUT_OF_SCOPE if oos_label is not None and label == oos_label else IN_SCOPE,
        )
        for row_id, (number, text, label) in zip(ids, parsed, strict=True)
    ]


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _draw_key(seed: int, row_id: str) -> str:
    return hashlib.sha256(f"{seed}:{row_id}".encode()).hexdigest()


def carve_validation(
    rows: Sequence[IntentRow], fraction: float = 0.1, seed: int = 0
) -> tuple[list[IntentRow], list[IntentRow]]:
    """Split `rows` into (train, validation), stratified by label, for datasets without a validation split.

    Each label with n rows gives round(fraction * n) of them (rounded half up) to validation, at least 1 when
    it has 2 or more and never all of them. Which ones is decided by a hash of (seed, row id), so the split
    is the same whatever the order of `rows` (and ids are content hashes: the same texts, the same split).
    Both parts keep the input order; they are disjoint and together are exactly `rows`.
    """
    if not 0.0 <= fraction < 1.0:
        raise MaazaError(f"validation fraction must be in [0, 1), got {fraction}")
    by_label: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_label.setdefault(row.label, []).append(index)
    chosen: set[int] = set()
    for members in by_label.values():
        n = len(members)
        take = _round_half_up(fraction * n)
        if n >= 2 and fraction > 0:
            take = max(take, 1)
        take = min(take, n - 1)
        if take <= 0:
            continue
        ranked = sorted(members, key=lambda i: (_draw_key(seed, rows[i].id), rows[i].id, rows[i].text))
        chosen.update(ranked[:take])
    train = [row for index, row in enumerate(rows) if index not in chosen]
    val = [row for index, row in enumerate(rows) if index in chosen]
    return train, val


def prompt_text(text: str, prompt_format: str) -> str:
    """The exact model input: the utterance itself (`text`), or it inside a short instruction (`instruct`)."""
    if prompt_format == "text":
        return text
    if prompt_format == "instruct":
        return INSTRUCT_TEMPLATE.format(text=text)
    raise MaazaError(f"unknown prompt format '{prompt_format}'; choose one of {', '.join(PROMPT_FORMATS)}")


def target_text(label: str, *, minify: bool = True) -> str:
    """The completion a generative model is trained on: `{"intent":"<label>"}`."""
    return json.dumps({"intent": label}, ensure_ascii=False, separators=(",", ":") if minify else None)


def answer_schema(labels: Sequence[str]) -> dict[str, Any]:
    """The decoding constraint: an object whose one key `intent` is one of the labels."""
    return {
        "type": "object",
        "properties": {"intent": {"enum": list(labels)}},
        "required": ["intent"],
        "additionalProperties": False,
    }
