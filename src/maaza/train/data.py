"""Training examples with completion-only labels, and length-grouped batching.

Prompt and completion are tokenized separately and concatenated, so the label mask comes from the
fields themselves (never from searching for a template string) and matches inference, where the
model continues from exactly the prompt's tokens.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.paths import resolve_under_data_root
from maaza.schemas import load_schema_folder
from maaza.tasks.edgejson import build_prompt, load_rows, target_text
from maaza.train.config import DataSettings

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TrainExample:
    """One tokenized (prompt, completion) pair; loss is taken on the completion tokens only."""

    id: str
    prompt_ids: tuple[int, ...]
    completion_ids: tuple[int, ...]

    @property
    def length(self) -> int:
        return len(self.prompt_ids) + len(self.completion_ids)


@dataclass
class PreparedData:
    train: list[TrainExample]
    val: list[TrainExample]
    dropped_overlength: int
    files: dict[str, str]  # path -> sha256

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


def edgejson_examples(
    path: Path,
    schemas: dict[str, Any],
    settings: DataSettings,
    tokenizer: Any,
) -> tuple[list[TrainExample], int]:
    examples: list[TrainExample] = []
    dropped = 0
    for row in load_rows(path, schemas):
        prompt = build_prompt(row.prompt, schemas[row.schema_id], settings.prompt_format, tokenizer)
        prompt_ids, completion_ids = tokenize_pair(
            tokenizer, prompt, target_text(row.expected_output, minify=settings.minify_targets)
        )
        if len(prompt_ids) + len(completion_ids) > settings.max_length:
            if settings.overlength == "error":
                raise MaazaError(
                    f"{path}:{row.source_line}: example '{row.id}' has {len(prompt_ids) + len(completion_ids)} "
                    f"tokens > data.max_length={settings.max_length} (set data.overlength: drop to skip such rows)"
                )
            dropped += 1
            continue
        examples.append(TrainExample(row.id, tuple(prompt_ids), tuple(completion_ids)))
    return examples, dropped


def prepare_data(settings: DataSettings, tokenizer: Any, seed: int) -> PreparedData:
    """Tokenize train (+val or a seeded hold-out), dropping/refusing over-length rows per policy."""
    schemas = load_schema_folder(resolve_under_data_root(settings.schemas))
    files: dict[str, str] = {}
    train: list[TrainExample] = []
    dropped = 0
    for name in settings.train:
        path = resolve_under_data_root(name)
        files[str(path)] = _sha256(path) if path.is_file() else "missing"
        part, part_dropped = edgejson_examples(path, schemas, settings, tokenizer)
        train.extend(part)
        dropped += part_dropped
    if settings.val:
        val_path = resolve_under_data_root(settings.val)
        files[str(val_path)] = _sha256(val_path) if val_path.is_file() else "missing"
        val, val_dropped = edgejson_examples(val_path, schemas, settings, tokenizer)
        dropped += val_dropped
    else:
        order = list(range(len(train)))
        random.Random(seed).shuffle(order)
        n_val = round(len(train) * settings.val_fraction)
        held = set(order[:n_val])
        val = [e for i, e in enumerate(train) if i in held]
        train = [e for i, e in enumerate(train) if i not in held]
    if settings.max_train_examples is not None:
        train = train[: settings.max_train_examples]
    if not train:
        raise MaazaError("no training examples left (all rows over data.max_length?)")
    return PreparedData(train, val, dropped, files)


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


def collate(batch: list[TrainExample], pad_id: int) -> dict[str, Any]:
    """Right-padded input ids, attention mask and labels (-100 on prompt and padding)."""
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
        labels[row, start : len(ids)] = torch.tensor(example.completion_ids)
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
