"""Training data: completion-only labels, over-length policy, length-grouped batching, seeded splits."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from train_helpers import CONTACT_SCHEMA, ROWS, TrainData, contact_row, write_rows

from maaza.errors import MaazaError
from maaza.models.loading import load_tokenizer
from maaza.tasks.edgejson import build_prompt, target_text
from maaza.train.config import DataSettings
from maaza.train.data import (
    IGNORE_INDEX,
    TrainExample,
    collate,
    epoch_order,
    micro_batches,
    prepare_data,
    step_groups,
    tokenize_pair,
)

EOS = 2


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    """The tokenizer exactly as the recipe loads it (right padding, pad = EOS)."""
    return load_tokenizer(str(tiny_model_dir), padding_side="right")


def settings(data: TrainData, **changes: Any) -> DataSettings:
    values: dict[str, Any] = {
        "train": [str(data.train)],
        "schemas": str(data.schemas),
        "prompt_format": "seed",
        "val_fraction": 0.0,
        "max_length": 128,
    }
    values.update(changes)
    return DataSettings(**values)


def test_tokenizer_fixture_has_the_expected_special_ids(tokenizer: Any) -> None:
    assert (tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.padding_side) == (EOS, EOS, "right")


@pytest.mark.parametrize("prompt_format", ["seed", "schema-chat"])
def test_prompt_is_tokenized_exactly_as_at_inference(
    train_data: TrainData, tokenizer: Any, prompt_format: str
) -> None:
    prepared = prepare_data(settings(train_data, prompt_format=prompt_format), tokenizer, seed=0)
    assert [e.id for e in prepared.train] == [row["id"] for row in ROWS]
    assert prepared.val == [] and prepared.dropped_overlength == 0
    for example, row in zip(prepared.train, ROWS, strict=True):
        prompt = build_prompt(row["prompt"], CONTACT_SCHEMA, prompt_format, tokenizer)
        assert list(example.prompt_ids) == tokenizer(prompt, add_special_tokens=False)["input_ids"]
        target = target_text(row["expected_output"], minify=True)
        target_ids = tokenizer(target, add_special_tokens=False)["input_ids"]
        assert list(example.completion_ids) == [*target_ids, EOS]
        assert tokenizer.decode(list(example.completion_ids[:-1])) == target
    first = prepared.train[0]
    prompt_end = "Input: Name: Ann\nEmail: ann@x0.io\n\nOutput:" if prompt_format == "seed" else "assistant\n"
    assert tokenizer.decode(list(first.prompt_ids)).endswith(prompt_end)
    assert tokenizer.decode(list(first.completion_ids)) == '{"name":"Ann","email":"ann@x0.io"}<|im_end|>'


def test_tokenize_pair_adds_eos_once(tokenizer: Any) -> None:
    prompt_ids, completion_ids = tokenize_pair(tokenizer, "Output:", '{"a":1}')
    assert completion_ids[-1] == EOS and completion_ids.count(EOS) == 1
    _, already = tokenize_pair(tokenizer, "Output:", '{"a":1}<|im_end|>')
    assert already == completion_ids
    assert prompt_ids == tokenizer("Output:", add_special_tokens=False)["input_ids"]


def test_collate_masks_everything_but_the_completion(train_data: TrainData, tokenizer: Any) -> None:
    prepared = prepare_data(settings(train_data), tokenizer, seed=0)
    batch_examples = [prepared.train[i] for i in (0, 13, 16)]  # "Ann", "Ned", "Quin": different lengths
    assert len({e.length for e in batch_examples}) > 1
    batch = collate(batch_examples, pad_id=EOS)
    width = max(e.length for e in batch_examples)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape == (3, width)
    for row, example in enumerate(batch_examples):
        n_prompt, n = len(example.prompt_ids), example.length
        ids = batch["input_ids"][row].tolist()
        labels = batch["labels"][row].tolist()
        assert ids[:n] == list(example.prompt_ids) + list(example.completion_ids)
        assert ids[n:] == [EOS] * (width - n)
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (width - n)
        assert labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
        assert labels[n_prompt:n] == list(example.completion_ids)
        assert labels[n - 1] == EOS
        assert labels[n:] == [IGNORE_INDEX] * (width - n)
    supervised = int((batch["labels"] != IGNORE_INDEX).sum())
    assert supervised == sum(len(e.completion_ids) for e in batch_examples)
    assert batch["input_ids"].dtype == batch["labels"].dtype == torch.long


def _with_long_row(data: TrainData, tmp_path: Path) -> tuple[Path, str]:
    rows = [*ROWS[:2], {**contact_row(99, "Zed"), "prompt": "Name: Zed\nNote: " + "very " * 80}, *ROWS[2:6]]
    return write_rows(tmp_path / "long.jsonl", rows), "r99"


def test_overlength_rows_are_dropped_and_counted(
    train_data: TrainData, tokenizer: Any, tmp_path: Path
) -> None:
    path, long_id = _with_long_row(train_data, tmp_path)
    prepared = prepare_data(settings(train_data, train=[str(path)], max_length=64), tokenizer, seed=0)
    assert prepared.dropped_overlength == 1
    assert [e.id for e in prepared.train] == [r["id"] for r in ROWS[:6]]
    assert long_id not in {e.id for e in prepared.train + prepared.val}
    assert max(e.length for e in prepared.train) <= 64
    assert prepared.stats()["dropped_overlength"] == 1
    roomy = prepare_data(settings(train_data, train=[str(path)], max_length=256), tokenizer, seed=0)
    assert roomy.dropped_overlength == 0 and len(roomy.train) == 7


def test_overlength_error_names_file_line_and_id(
    train_data: TrainData, tokenizer: Any, tmp_path: Path
) -> None:
    path, long_id = _with_long_row(train_data, tmp_path)
    strict = settings(train_data, train=[str(path)], max_length=64, overlength="error")
    with pytest.raises(MaazaError) as info:
        prepare_data(strict, tokenizer, seed=0)
    message = str(info.value)
    assert f"{path}:3:" in message  # the long row is on line 3
    assert f"'{long_id}'" in message and "data.max_length=64" in message


def test_all_rows_overlength_is_a_clear_error(train_data: TrainData, tokenizer: Any) -> None:
    with pytest.raises(MaazaError, match="no training examples"):
        prepare_data(settings(train_data, max_length=16), tokenizer, seed=0)


def _examples(lengths: list[int]) -> list[TrainExample]:
    return [TrainExample(f"e{i}", tuple(range(n - 1)), (EOS,)) for i, n in enumerate(lengths)]


@pytest.mark.parametrize("seed", range(5))
def test_micro_batches_respect_the_token_budget(seed: int) -> None:
    rng = random.Random(seed)
    examples = _examples([rng.randint(2, 90) for _ in range(40)])
    indices = rng.sample(range(40), 23)
    budget = 200
    batches = micro_batches(indices, examples, budget)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == sorted(indices)  # every index exactly once
    lengths = [examples[i].length for i in flat]
    assert lengths == sorted(lengths, reverse=True)  # grouped by length, longest first
    for batch in batches:
        longest = max(examples[i].length for i in batch)
        assert len(batch) * longest <= budget
    for batch, _following in itertools.pairwise(batches):  # greedy: a batch closes only when the next is over
        assert (len(batch) + 1) * examples[batch[0]].length > budget


def test_micro_batches_put_an_over_budget_example_alone() -> None:
    examples = _examples([300, 10, 10, 10])
    assert micro_batches([1, 0, 2, 3], examples, 100) == [[0], [1, 2, 3]]
    assert micro_batches([3], examples, 5) == [[3]]
    assert micro_batches([], examples, 100) == []


def test_epoch_order_is_a_seeded_permutation() -> None:
    orders = {(seed, epoch): epoch_order(50, seed, epoch) for seed in (1, 2) for epoch in (0, 1, 2)}
    for order in orders.values():
        assert sorted(order) == list(range(50))
    assert epoch_order(50, 1, 0) == orders[(1, 0)]  # a pure function of (seed, epoch)
    assert len({tuple(order) for order in orders.values()}) == 6  # differs across epochs and seeds
    assert epoch_order(50, 1, 0) == epoch_order(50, 1, 0)


def test_step_groups_are_consecutive_slices() -> None:
    order = epoch_order(10, 3, 0)
    groups = step_groups(order, 4)
    assert groups == [order[0:4], order[4:8], order[8:10]]


def test_val_split_is_seeded_and_disjoint(train_data: TrainData, tokenizer: Any) -> None:
    first = prepare_data(settings(train_data, val_fraction=0.25), tokenizer, seed=11)
    again = prepare_data(settings(train_data, val_fraction=0.25), tokenizer, seed=11)
    other = prepare_data(settings(train_data, val_fraction=0.25), tokenizer, seed=12)
    val_ids = [e.id for e in first.val]
    train_ids = [e.id for e in first.train]
    assert len(val_ids) == 6 and len(train_ids) == 18
    assert val_ids == [e.id for e in again.val] and train_ids == [e.id for e in again.train]
    assert not set(val_ids) & set(train_ids)
    assert sorted(val_ids + train_ids) == sorted(r["id"] for r in ROWS)
    assert train_ids == [r["id"] for r in ROWS if r["id"] not in val_ids]  # file order kept
    assert set(val_ids) != {e.id for e in other.val}


def test_explicit_val_file_and_max_train_examples(
    train_data: TrainData, tokenizer: Any, tmp_path: Path
) -> None:
    val_path = write_rows(tmp_path / "val.jsonl", [contact_row(50, "Yan"), contact_row(51, "Zoe")])
    prepared = prepare_data(settings(train_data, val=str(val_path), max_train_examples=5), tokenizer, seed=0)
    assert [e.id for e in prepared.val] == ["r50", "r51"]
    assert [e.id for e in prepared.train] == [r["id"] for r in ROWS[:5]]
    assert set(prepared.files) == {str(train_data.train), str(val_path)}
    assert all(len(digest) == 64 for digest in prepared.files.values())
