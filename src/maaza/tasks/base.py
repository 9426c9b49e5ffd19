"""The task protocol: what eval, train, pipeline, report and the Python APIs need from a benchmark task.

A task is one package under `maaza.tasks.<name>` (or any object a user registers) that supplies:

- its rows: `load_rows(data, resources, limit)` reads a JSONL (`default_data()` names the files under the
  data root), every problem naming file:line:field; each row has an `id`, a `source_line` and `groups`
  (the aggregate groups it belongs to, e.g. `{"complexity": "simple", "schema_id": "contact"}`);
- model input and target: `prompt(row, prompt_format, tokenizer)` is the exact string fed to the model,
  `target(row, minify)` the completion a model is trained to write;
- the decoding constraint of a row: `constraint(row, grounded=...)` returns a JSON Schema (an object
  schema, or `{"enum": labels}` for a label set) that `maaza.decoding` compiles to a grammar, or None;
- its metrics: `score(row, output, lenient_datetime=...)` per row, `aggregate(examples)` overall and by
  `group_keys`, with `headline_metric` the one number a leaderboard ranks by;
- its report sections: `summary_table(results)` (the markdown `maaza eval` prints) and
  `card_sections(results)` (what a model card adds for this task).

Optional: `group_order` (group key -> the values tables list first, e.g. simple, medium, complex);
`answer_is_object` (default True: an answer is one JSON object, so unconstrained decoding may stop once it
closes; False for an answer that is a list, e.g. function calls).

The protocol is a `typing.Protocol`, so a task is any object with these members; `TaskBase` holds the
parts most tasks share (stratified slicing, aggregation by groups, the summary table).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

# Every member a task object has (the Protocol's attributes and methods), for a clear registration error.
TASK_MEMBERS = (
    "name", "description", "group_keys", "headline_metric", "metric_names", "prompt_formats",
    "default_prompt_format", "resource_names", "default_data", "load_rows", "prompt", "target", "constraint",
    "score", "aggregate", "summary_table", "card_sections",
)


@dataclass(frozen=True)
class TaskData:
    """Where a task's rows are: the JSONL and the task's resource folders/files (e.g. `schemas`)."""

    rows: Path
    resources: dict[str, Path] = field(default_factory=dict)


@runtime_checkable
class TaskRow(Protocol):
    id: str
    source_line: int

    @property
    def groups(self) -> dict[str, str]: ...


@runtime_checkable
class Task(Protocol):
    name: str
    description: str
    group_keys: tuple[str, ...]
    headline_metric: str
    metric_names: tuple[str, ...]  # the aggregate keys a report shows, headline first
    prompt_formats: tuple[str, ...]
    default_prompt_format: str  # when neither the caller nor the model's maaza.json names one
    resource_names: tuple[str, ...]  # the keys `load_rows` reads from `resources`

    def default_data(self, split: str = "test") -> TaskData | None: ...

    def load_rows(
        self, data: str | Path, resources: Mapping[str, str | Path | None], *, limit: int | None = None
    ) -> list[Any]: ...

    def prompt(self, row: Any, prompt_format: str, tokenizer: Any) -> str: ...

    def target(self, row: Any, *, minify: bool = True) -> str: ...

    def constraint(self, row: Any, *, grounded: bool = False) -> dict[str, Any] | None: ...

    def score(self, row: Any, output: str, *, lenient_datetime: bool = True) -> dict[str, Any]: ...

    def aggregate(self, examples: list[dict[str, Any]]) -> dict[str, Any]: ...

    def summary_table(self, results: Mapping[str, Any]) -> str: ...

    def card_sections(self, results: Sequence[Mapping[str, Any]]) -> list[str]: ...


def stratified_slice(rows: Sequence[Any], limit: int, key: str | None, order: Sequence[str] = ()) -> list[Any]:
    """The first `limit` rows taken round-robin over the values of group `key`, so a small slice covers all.

    Values listed in `order` come first in that order, then the others alphabetically. No key: the first
    `limit` rows.
    """
    if limit >= len(rows):
        return list(rows)
    if key is None:
        return list(rows[:limit])
    buckets: dict[str, list[Any]] = {}
    for row in rows:
        buckets.setdefault(row.groups.get(key, "unknown"), []).append(row)
    names = sorted(buckets, key=lambda name: (order.index(name) if name in order else len(order), name))
    picked: list[Any] = []
    index = 0
    while len(picked) < limit:
        for name in names:
            if index < len(buckets[name]) and len(picked) < limit:
                picked.append(buckets[name][index])
        index += 1
    return picked


def fraction_true(flags: Iterable[Any]) -> float | None:
    values = [bool(flag) for flag in flags]
    return sum(values) / len(values) if values else None


def mean(numbers: Iterable[Any]) -> float | None:
    values = [float(number) for number in numbers]
    return math.fsum(values) / len(values) if values else None


def aggregate_by_groups(
    examples: list[dict[str, Any]],
    summarise: Any,
    group_keys: Sequence[str],
    group_order: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """`{"overall": summarise(all), "by_<key>": {value: summarise(members)}}` for each group key.

    A missing group value is "unknown". Values listed in `group_order[key]` come first in that order, the
    rest alphabetically, so tables are deterministic.
    """
    result: dict[str, Any] = {"overall": summarise(examples)}
    for key in group_keys:
        members: dict[str, list[dict[str, Any]]] = {}
        for example in examples:
            value = example.get(key)
            members.setdefault("unknown" if value is None else str(value), []).append(example)
        order = list((group_order or {}).get(key, ()))
        names = [name for name in order if name in members] + sorted(set(members).difference(order))
        result[f"by_{key}"] = {name: summarise(members[name]) for name in names}
    return result


def timing_line(results: Mapping[str, Any]) -> str:
    """The one line of decoding speed and memory under every task's summary table."""
    timing = results.get("timing", {})
    return (
        f"tokens/s {timing.get('tokens_per_s')} (batch {timing.get('batch_size')}), "
        f"TTFT mean {timing.get('ttft_s', {}).get('mean')} s, latency p50 {timing.get('latency_s', {}).get('p50')} s, "
        f"peak RSS {timing.get('peak_rss_mb')} MiB"
    )


def answer_is_object(task: Any) -> bool:
    """Whether the task's answer is one JSON object (decoding may stop when it closes); default True."""
    return bool(getattr(task, "answer_is_object", True))


def choose_prompt_format(
    requested: str | None, metadata: Mapping[str, Any], task: Any, tokenizer: Any = None
) -> str:
    """The one rule for a run's prompt format: the one asked for, else the model's saved one (maaza.json),
    else the task's default; a defaulted `-chat` format falls back to its plain form when `tokenizer` is given
    and has no chat template. A format the task does not know is an error naming the choices."""
    from maaza.errors import MaazaError

    chosen = requested or metadata.get("prompt_format")
    if not chosen:
        chosen = task.default_prompt_format
        if tokenizer is not None and chosen.endswith("-chat") and not getattr(tokenizer, "chat_template", None):
            chosen = chosen.removesuffix("-chat")
    if chosen not in task.prompt_formats:
        raise MaazaError(
            f"unknown prompt format '{chosen}' for task {task.name}; choose one of {', '.join(task.prompt_formats)}"
        )
    return str(chosen)


# Every member a classification task adds to `Task` (checked by `is_classification_task`).
CLASSIFICATION_MEMBERS = ("labels", "label_of")


@runtime_checkable
class ClassificationTask(Task, Protocol):
    """Optional extension: a task whose rows each carry one label out of a fixed set (intent, sentiment).

    What `maaza train` with `model.kind: sequence_classifier` needs: `labels` fixes the order of the
    classifier's outputs (and of cached teacher logits), `label_of(row)` is the row's gold label, one of them.
    """

    labels: tuple[str, ...]

    def label_of(self, row: Any) -> str: ...


def is_classification_task(task: Any) -> bool:
    """Whether `task` has the `ClassificationTask` members (labels and label_of)."""
    return all(hasattr(task, name) for name in CLASSIFICATION_MEMBERS)
