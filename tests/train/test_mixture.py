"""Task mixtures: the sampling (pure in (seed, epoch), by weight) and a two-task run on a model built from config.

The run trains a random 2-layer Llama (hidden 32) on the EdgeJSON fixture rows plus the registered test task
`sentiment` (target: the label word), weights 3:1 and loss weights 1:1.5.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from train_helpers import TrainData, config_dict

from maaza.config import from_dict
from maaza.train import checkpoint as ckpt
from maaza.train.config import TrainConfig
from maaza.train.data import collate, prepare_data, step_groups
from maaza.train.logs import read_curve
from maaza.train.mixture import apportion, draws, interleave, mixture_order
from maaza.train.recipe import Recipe, build_model

ARCH = {"layers": 2, "hidden": 32, "heads": 4, "kv_heads": 2, "intermediate": 64, "context": 256}
WEIGHTS, LOSS_WEIGHTS = (3.0, 1.0), (1.0, 1.5)


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


# --- sampling ----------------------------------------------------------------------------------------


def test_apportion_sums_exactly_and_follows_the_weights() -> None:
    assert apportion(36, [3, 1]) == [27, 9]
    assert apportion(10, [0.4, 0.4, 0.2]) == [4, 4, 2]
    assert apportion(7, [1, 1, 1]) == [3, 2, 2]  # ties go to the earlier task
    assert apportion(5, [1, 0]) == [5, 0]
    for total in range(1, 40):
        assert sum(apportion(total, [0.4, 0.4, 0.2])) == total


def test_interleave_spreads_every_task_evenly() -> None:
    slots = interleave([27, 9])
    assert Counter(slots) == {0: 27, 1: 9}
    for end in range(1, len(slots) + 1):  # every prefix within one of its share
        assert abs(slots[:end].count(1) - end * 9 / 36) <= 1


def test_a_tasks_walk_visits_every_example_once_per_pass() -> None:
    walk = draws(5, seed=3, task=1, start=0, count=15)
    assert [sorted(walk[i : i + 5]) for i in (0, 5, 10)] == [list(range(5))] * 3
    assert walk[:5] != walk[5:10]  # each pass its own shuffle
    assert draws(5, 3, 1, start=7, count=4) == walk[7:11]  # any stretch, without replaying the ones before


def test_mixture_order_is_a_pure_function_of_seed_and_epoch() -> None:
    sizes, weights = [24, 12], [3.0, 1.0]
    first = mixture_order(sizes, weights, seed=7, epoch=0)
    assert first == mixture_order(sizes, weights, seed=7, epoch=0)
    assert (
        first
        != mixture_order(sizes, weights, seed=7, epoch=1)
        != mixture_order(sizes, weights, seed=8, epoch=1)
    )
    assert len(first) == 36
    for epoch in range(3):
        order = mixture_order(sizes, weights, 7, epoch)
        assert sum(1 for i in order if i < 24) == 27  # 3/4 of the draws from task 0, 1/4 from task 1
        for group in step_groups(order, 8):  # every step's share within one example of its weight
            assert abs(sum(1 for i in group if i >= 24) - len(group) / 4) <= 1
    # task 1 (12 rows, 9 draws an epoch) continues its walk across epochs: 4 epochs = 3 full passes
    walk = [i - 24 for epoch in range(4) for i in mixture_order(sizes, weights, 7, epoch) if i >= 24]
    assert [sorted(walk[i : i + 12]) for i in (0, 12, 24)] == [list(range(12))] * 3


def test_a_zero_weight_task_is_not_drawn() -> None:
    assert all(i < 10 for i in mixture_order([10, 6], [1.0, 0.0], seed=1, epoch=0))


# --- a two-task run -----------------------------------------------------------------------------------


def mixture_config(
    model_dir: Path, dataset: TrainData, sentiment: Path, out: Path, **train: Any
) -> TrainConfig:
    data = config_dict(model_dir, dataset, out)
    data["model"] = {"base": str(model_dir), "method": "full", "init": "config", "architecture": ARCH}
    data["data"] = {
        "schemas": str(dataset.schemas),
        "prompt_format": "seed",
        "val_fraction": 0.0,
        "max_length": 128,
        "mixture": [
            {
                "task": "edgejson",
                "train": [str(dataset.train)],
                "weight": WEIGHTS[0],
                "loss_weight": LOSS_WEIGHTS[0],
            },
            {
                "task": "sentiment",
                "train": [str(sentiment)],
                "prompt_format": "plain",
                "weight": WEIGHTS[1],
                "loss_weight": LOSS_WEIGHTS[1],
            },
        ],
    }
    data["train"].update({"max_steps": 4, "batch_size": 8, "lr": 1e-3, **train})
    data["checkpoint"] = {"every_steps": 2, "keep_last": 3}
    return from_dict(TrainConfig, data)


@dataclasses.dataclass(frozen=True)
class Run:
    config: TrainConfig
    out: Path
    summary: dict[str, Any]


@pytest.fixture(scope="module")
def mixture_run(
    tiny_model_dir: Path, train_data: TrainData, sentiment: Path, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.cuda, "is_available", lambda: False)
        out = tmp_path_factory.mktemp("mixture") / "run"
        config = mixture_config(tiny_model_dir, train_data, sentiment, out)
        return Run(config, out, Recipe(config).run())


def test_the_drawn_examples_follow_the_weights(mixture_run: Run) -> None:
    tasks = mixture_run.summary["tasks"]
    assert list(tasks) == ["edgejson", "sentiment"]
    assert (tasks["edgejson"]["train_rows"], tasks["sentiment"]["train_rows"]) == (24, 12)
    drawn = {name: report["examples_drawn"] for name, report in tasks.items()}
    assert sum(drawn.values()) == 4 * 8
    assert drawn["edgejson"] / 32 == pytest.approx(WEIGHTS[0] / sum(WEIGHTS), abs=0.05)
    # ... and they are the examples of the replayed schedule, task by task
    config = mixture_run.config
    tokenizer = _tokenizer(config)
    data = prepare_data(config.data, tokenizer, config.train.seed, task=config.task)
    groups = step_groups(data.order(config.train.seed, 0), 8)[:4]
    replayed = Counter(data.sources[data.train[i].task].task for group in groups for i in group)
    assert replayed == drawn
    for name, report in tasks.items():
        assert report["train_loss"] > 0 and report["loss_weight"] == LOSS_WEIGHTS[name == "sentiment"]
    meta = json.loads((mixture_run.out / "merged" / "maaza.json").read_text())
    assert meta["task"] == "edgejson" and meta["init"] == "config" and meta["architecture"]["hidden"] == 32
    assert [t["task"] for t in meta["tasks"]] == ["edgejson", "sentiment"]
    assert meta["tasks"][1] == {
        "task": "sentiment",
        "prompt_format": "plain",
        "weight": 1.0,
        "loss_weight": 1.5,
    }


def _tokenizer(config: TrainConfig) -> Any:
    from maaza.models.loading import load_tokenizer

    return load_tokenizer(config.model.base, padding_side="right")


def test_the_logged_loss_is_the_loss_weighted_mean(mixture_run: Run) -> None:
    """Step 1 recomputed by hand: the model the run started from (same seed), a plain transformers forward."""
    from accelerate.utils import set_seed

    config = mixture_run.config
    set_seed(config.train.seed)
    model, tokenizer, _ = build_model(config, torch.device("cpu"))
    data = prepare_data(config.data, tokenizer, config.train.seed, task=config.task)
    group = step_groups(data.order(config.train.seed, 0), 8)[0]
    examples = [data.train[i] for i in group]
    batch = collate(examples, tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    per_example, tokens = [], []
    for row, example in enumerate(examples):
        start, end = len(example.prompt_ids), example.length
        predicted = logits[row, start - 1 : end - 1]  # position t predicts token t + 1
        target = torch.tensor(example.completion_ids)
        per_example.append(float(torch.nn.functional.cross_entropy(predicted, target, reduction="sum")))
        tokens.append(len(example.completion_ids))
    weights = [LOSS_WEIGHTS[e.task] for e in examples]
    expected = math.fsum(w * loss for w, loss in zip(weights, per_example, strict=True)) / sum(tokens)
    logged = next(row for row in _metrics(mixture_run.out) if row["split"] == "train")
    assert logged["step"] == 1
    assert logged["loss"] == pytest.approx(expected, rel=1e-5)
    for t, name in enumerate(("edgejson", "sentiment")):  # each task's own (unweighted) loss
        mine = [i for i, e in enumerate(examples) if e.task == t]
        own = math.fsum(per_example[i] for i in mine) / sum(tokens[i] for i in mine)
        assert logged[f"loss/{name}"] == pytest.approx(own, rel=1e-5)
    assert sum(1 for e in examples if e.task == 1) == 2  # 8 examples at 3:1


def _metrics(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]


def test_a_mixture_run_resumes_exactly(
    mixture_run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = dataclasses.replace(mixture_run.config, output_dir=str(tmp_path / "run"))
    save = Recipe._save

    def crash_at_step_4(self: Recipe, name: str, *args: Any, **kwargs: Any) -> None:
        if name == f"{ckpt.PREFIX}00000004":
            raise RuntimeError("simulated crash")
        save(self, name, *args, **kwargs)

    monkeypatch.setattr(Recipe, "_save", crash_at_step_4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        Recipe(config).run()
    monkeypatch.setattr(Recipe, "_save", save)
    summary = Recipe(config).run(resume=True)
    assert read_curve(tmp_path / "run") == read_curve(mixture_run.out)
    assert summary["tasks"] == mixture_run.summary["tasks"]
