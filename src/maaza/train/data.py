"""Training examples with completion-only labels, and length-grouped batching.

Rows, prompts and targets come from the task (`maaza.tasks`: `load_rows`, `prompt`, `target`), so the
recipe trains any registered task the way its eval prompts it. Prompt and completion are tokenized
separately and concatenated, so the label mask comes from the fields themselves (never from searching for
a template string) and matches inference, where the model continues from exactly the prompt's tokens.
A sequence classifier's example is its prompt alone plus the index of its label (`ClassificationTask`).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.paths import resolve_under_data_root
from maaza.tasks import get_task
from maaza.train.config import EDGEJSON_RESOURCE, DataSettings
from maaza.train.mixture import mixture_order

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TrainExample:
    """One tokenized (prompt, completion) pair; loss is taken on the completion tokens only.

    A classifier's example has no completion but a `label` (index into the task's labels).
    """

    id: str
    prompt_ids: tuple[int, ...]
    completion_ids: tuple[int, ...]
    label: int | None = None
    task: int = 0  # index of the example's task in PreparedData.sources
    teacher_logits: tuple[float, ...] | None = None  # the distill loss's cached teacher output

    @property
    def length(self) -> int:
        return len(self.prompt_ids) + len(self.completion_ids)

    @property
    def units(self) -> int:
        """What the step's loss is averaged over: completion tokens, or one label."""
        return 1 if self.label is not None else len(self.completion_ids)


@dataclass(frozen=True)
class Source:
    """One task of the run: its share of every step's examples and the weight of its examples' loss."""

    task: str
    prompt_format: str
    weight: float = 1.0
    loss_weight: float = 1.0


@dataclass
class PreparedData:
    train: list[TrainExample]  # the tasks' examples concatenated in source order
    val: list[TrainExample]
    dropped_overlength: int
    files: dict[str, str]  # path -> sha256
    sources: list[Source] = field(default_factory=list)
    mixture: bool = False  # several tasks drawn by weight (else: one task, today's epoch order)

    def sizes(self) -> list[int]:
        return [sum(1 for e in self.train if e.task == t) for t in range(len(self.sources))]

    def order(self, seed: int, epoch: int) -> list[int]:
        """The example order of an epoch: a pure function of (seed, epoch), so resume replays it exactly."""
        if not self.mixture:
            return epoch_order(len(self.train), seed, epoch)
        return mixture_order(self.sizes(), [s.weight for s in self.sources], seed, epoch)

    def stats(self) -> dict[str, Any]:
        def describe(examples: list[TrainExample]) -> dict[str, Any]:
            if not examples:
                return {"examples": 0}
            lengths = sorted(e.length for e in examples)
            return {
                "examples": len(examples),
                "tokens": sum(lengths),
                "completion_tokens": sum(len(e.completion_ids) for e in examples),
                "max_length": lengths[-1],
                "median_length": lengths[len(lengths) // 2],
            }

        return {
            "train": describe(self.train),
            "val": describe(self.val),
            "dropped_overlength": self.dropped_overlength,
            "files": self.files,
        }


def tokenize_pair(tokenizer: Any, prompt: str, completion: str) -> tuple[list[int], list[int]]:
    """Prompt ids, then completion ids ending with EOS (so the model learns to stop)."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    if eos is None:
        raise MaazaError("the tokenizer has no EOS token; cannot teach the model to stop")
    if not completion_ids or completion_ids[-1] != eos:
        completion_ids = [*completion_ids, eos]
    return prompt_ids, completion_ids


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class _Part:
    """What one task of the run reads: its files, resources and prompt format."""

    source: Source
    train: list[str]
    val: str | None
    resources: dict[str, str]


def _parts(settings: DataSettings, task: str) -> list[_Part]:
    def resources(name: str, schemas: str | None, extra: dict[str, str]) -> dict[str, str]:
        wanted = get_task(name).resource_names
        given = {EDGEJSON_RESOURCE: schemas or settings.schemas, **extra}
        return {key: value for key, value in given.items() if key in wanted}

    if settings.mixture is None:
        source = Source(task, settings.prompt_format)
        return [_Part(source, settings.train, settings.val, resources(task, None, settings.resources))]
    return [
        _Part(
            Source(e.task, e.prompt_format or settings.prompt_format, e.weight, e.loss_weight),
            e.train,
            e.val,
            resources(e.task, e.schemas, e.resources),
        )
        for e in settings.mixture
    ]


def task_examples(
    path: Path,
    part: _Part,
    index: int,
    settings: DataSettings,
    tokenizer: Any,
    *,
    classify: bool = False,
) -> tuple[list[TrainExample], int]:
    """The examples of one JSONL through the task protocol; over-length rows dropped (counted) or refused."""
    task = get_task(part.source.task)
    resolved = {name: resolve_under_data_root(value) for name, value in part.resources.items()}
    examples: list[TrainExample] = []
    dropped = 0
    for row in task.load_rows(path, resolved):  # build prompts right away: a task may keep per-file state
        prompt = task.prompt(row, part.source.prompt_format, tokenizer)
        label = None
        if classify:
            prompt_ids, completion_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"], []
            label = _label_index(task, row, path, tokenizer, prompt_ids)
        else:
            prompt_ids, completion_ids = tokenize_pair(
                tokenizer, prompt, task.target(row, minify=settings.minify_targets)
            )
        if len(prompt_ids) + len(completion_ids) > settings.max_length:
            if settings.overlength == "error":
                raise MaazaError(
                    f"{path}:{row.source_line}: example '{row.id}' has {len(prompt_ids) + len(completion_ids)} "
                    f"tokens > data.max_length={settings.max_length} (set data.overlength: drop to skip such rows)"
                )
            dropped += 1
            continue
        examples.append(TrainExample(row.id, tuple(prompt_ids), tuple(completion_ids), label, index))
    return examples, dropped


def _label_index(task: Any, row: Any, path: Path, tokenizer: Any, prompt_ids: list[int]) -> int:
    label = task.label_of(row)
    if label not in task.labels:
        raise MaazaError(
            f"{path}:{row.source_line}: label '{label}' of '{row.id}' is not one of {', '.join(task.labels)}"
        )
    if not prompt_ids or prompt_ids[-1] == tokenizer.pad_token_id:
        # transformers' classifiers pool the last token that is not padding: such a prompt would read another
        raise MaazaError(
            f"{path}:{row.source_line}: the prompt of '{row.id}' is empty or ends with the pad "
            "token; a sequence classifier reads its last token"
        )
    return task.labels.index(label)


def _hold_out(
    train: list[TrainExample], fraction: float, seed: int
) -> tuple[list[TrainExample], list[TrainExample]]:
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    held = set(order[: round(len(train) * fraction)])
    return [e for i, e in enumerate(train) if i not in held], [e for i, e in enumerate(train) if i in held]


def prepare_data(
    settings: DataSettings, tokenizer: Any, seed: int, *, task: str = "edgejson", classify: bool = False
) -> PreparedData:
    """Tokenize train (+val or a seeded hold-out) of the task (or of each task of the mixture), dropping
    or refusing over-length rows per policy; `classify`: label examples for a sequence classifier."""
    files: dict[str, str] = {}
    train: list[TrainExample] = []
    val: list[TrainExample] = []
    dropped = 0
    parts = _parts(settings, task)

    def read(name: str, part: _Part, index: int) -> list[TrainExample]:
        nonlocal dropped
        path = resolve_under_data_root(name)
        files[str(path)] = _sha256(path) if path.is_file() else "missing"
        examples, part_dropped = task_examples(path, part, index, settings, tokenizer, classify=classify)
        dropped += part_dropped
        return examples

    for index, part in enumerate(parts):
        part_train = [example for name in part.train for example in read(name, part, index)]
        if part.val:
            part_val = read(part.val, part, index)
        else:
            part_train, part_val = _hold_out(part_train, settings.val_fraction, seed)
        if settings.max_train_examples is not None:
            part_train = part_train[: settings.max_train_examples]
        if settings.mixture is not None and not part_train and part.source.weight > 0:
            raise MaazaError(
                f"data.mixture[{index}]: task '{part.source.task}' has no training examples left"
            )
        train.extend(part_train)
        val.extend(part_val)
    if not train:
        raise MaazaError("no training examples left (all rows over data.max_length?)")
    return PreparedData(train, val, dropped, files, [p.source for p in parts], settings.mixture is not None)


def epoch_order(n_examples: int, seed: int, epoch: int) -> list[int]:
    """The example order of an epoch: a pure function of (seed, epoch), so resume replays it exactly."""
    order = list(range(n_examples))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    return order


def step_groups(order: list[int], batch_size: int) -> list[list[int]]:
    """Consecutive groups of `batch_size` examples, one group per optimizer step (last may be short)."""
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def micro_batches(indices: list[int], examples: list[TrainExample], max_tokens: int) -> list[list[int]]:
    """Split one step's examples into forward passes of similar length under a padded-token budget."""
    ordered = sorted(indices, key=lambda i: examples[i].length, reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    for index in ordered:
        longest = examples[current[0]].length if current else examples[index].length
        if current and longest * (len(current) + 1) > max_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def collate(
    batch: list[TrainExample], pad_id: int, *, loss_weights: list[float] | None = None
) -> dict[str, Any]:
    """Right-padded input ids, attention mask and labels (-100 on prompt and padding; a classifier's
    labels are one index per row), plus each row's `loss_weight` (given per task) and teacher logits."""
    import torch

    width = max(e.length for e in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    for row, example in enumerate(batch):
        ids = list(example.prompt_ids) + list(example.completion_ids)
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        start = len(example.prompt_ids)
        if example.completion_ids:
            labels[row, start : len(ids)] = torch.tensor(example.completion_ids)
    out = {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
    if batch[0].label is not None:
        out["labels"] = torch.tensor([e.label for e in batch], dtype=torch.long)
    if loss_weights is not None:
        out["loss_weight"] = torch.tensor([loss_weights[e.task] for e in batch], dtype=torch.float32)
    if all(e.teacher_logits is not None for e in batch):
        out["teacher_logits"] = torch.tensor([e.teacher_logits for e in batch], dtype=torch.float32)
    return out
