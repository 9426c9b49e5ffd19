"""Cached teacher logits for the distill loss (`train.distill.teacher_logits`).

One JSON file per dataset, written once by running the teacher over the training rows:

    {"format": "maaza.teacher_logits/1", "teacher": "intent-teacher-1b", "teacher_hash": "<sha256 ...>",
     "labels": ["book", "cancel", "other"], "logits": {"<row id>": [2.1, -0.3, 0.5], ...}}

Rows are keyed by the task's row id; each value is the teacher's logits for that example (for a classifier:
one number per label, in `labels` order, which must be the task's). `teacher_hash` names the exact teacher
(e.g. the sha256 of its weights) and is reported in the training summary. Loading checks that every
training row has its logits and names the first that has none.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.io import atomic_write_json
from maaza.train.data import TrainExample

FORMAT = "maaza.teacher_logits/1"
KEY = "train.distill.teacher_logits"


@dataclasses.dataclass(frozen=True)
class TeacherLogits:
    path: Path
    teacher: str
    teacher_hash: str
    labels: tuple[str, ...]
    logits: dict[str, tuple[float, ...]]

    def describe(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "teacher": self.teacher,
            "teacher_hash": self.teacher_hash,
            "rows": len(self.logits),
        }


def write_teacher_logits(
    path: str | Path,
    logits: Mapping[str, Sequence[float]],
    *,
    teacher: str,
    teacher_hash: str,
    labels: Sequence[str],
) -> Path:
    """Write a cache file (atomically): `logits` maps row id -> the teacher's logits over `labels`."""
    target = Path(path)
    rows = {str(row_id): [float(x) for x in values] for row_id, values in logits.items()}
    bad = [row_id for row_id, values in rows.items() if len(values) != len(labels)]
    if bad:
        raise MaazaError(f"teacher logits of '{bad[0]}': {len(rows[bad[0]])} values for {len(labels)} labels")
    payload = {
        "format": FORMAT,
        "teacher": teacher,
        "teacher_hash": teacher_hash,
        "labels": list(labels),
        "logits": rows,
    }
    atomic_write_json(target, payload)
    return target


def load_teacher_logits(path: str | Path, labels: Sequence[str], teacher_hash: str | None = None) -> TeacherLogits:
    """Read and check a cache file against the task's labels and, when given, the expected teacher's hash:
    logits of another teacher are refused, naming both hashes (a stale cache after retraining the teacher)."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MaazaError(f"{KEY}: file not found: {file}") from None
    except json.JSONDecodeError as exc:
        raise MaazaError(f"{KEY}: {file} is not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MaazaError(f'{KEY}: {file} is not a teacher-logits file (no "format": "{FORMAT}")')
    for name in ("teacher_hash", "labels", "logits"):
        if name not in data:
            raise MaazaError(f"{KEY}: {file} lacks '{name}'")
    if teacher_hash is not None and data["teacher_hash"] != teacher_hash:
        raise MaazaError(
            f"{KEY}: {file} holds the logits of teacher '{data.get('teacher', '')}' with hash "
            f"{data['teacher_hash'][:16]}..., this run's teacher has hash {teacher_hash[:16]}... "
            "(train.distill.teacher_hash); recompute the cache with this teacher"
        )
    if list(data["labels"]) != list(labels):
        raise MaazaError(
            f"{KEY}: {file} has labels {data['labels']}, the task's are {list(labels)} (same order)"
        )
    logits = {str(k): tuple(float(x) for x in v) for k, v in data["logits"].items()}
    for row_id, values in logits.items():
        if len(values) != len(labels):
            raise MaazaError(
                f"{KEY}: {file}: row '{row_id}' has {len(values)} logits for {len(labels)} labels"
            )
    return TeacherLogits(file, str(data.get("teacher", "")), str(data["teacher_hash"]), tuple(labels), logits)


def attach_teacher_logits(examples: list[TrainExample], cache: TeacherLogits) -> list[TrainExample]:
    """The examples with their cached logits; a training row without logits is an error naming it."""
    missing = [e.id for e in examples if e.id not in cache.logits]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise MaazaError(f"{KEY}: {cache.path} has no logits for training row '{missing[0]}'{more}")
    return [dataclasses.replace(e, teacher_logits=cache.logits[e.id]) for e in examples]
