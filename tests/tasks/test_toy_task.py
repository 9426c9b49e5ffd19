"""A task defined only in tests/ (toy_sentiment.py) goes data -> train -> eval -> card, with no change to src/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from toy_sentiment import LABELS, SentimentTask, engine_task

from maaza.config import from_dict
from maaza.data.dataset import write_dataset
from maaza.data.engine import run_generation
from maaza.data.teachers import make_teacher
from maaza.errors import MaazaError
from maaza.eval.runner import EvalConfig, EvalRun
from maaza.report.card import build_card
from maaza.tasks import get_task, register_task, task_names, unregister_task
from maaza.train.config import TrainConfig
from maaza.train.recipe import Recipe


@pytest.fixture
def toy_task() -> Iterator[SentimentTask]:
    task = register_task(SentimentTask())
    yield task
    unregister_task(task.name)


def test_registry_lists_and_refuses(toy_task: SentimentTask) -> None:
    assert "toy-sentiment" in task_names() and "edgejson" in task_names()
    assert get_task("toy-sentiment") is toy_task
    with pytest.raises(MaazaError, match="a task named 'toy-sentiment' is already registered"):
        register_task(SentimentTask())
    with pytest.raises(MaazaError, match=r"is not a maaza task: it lacks .*load_rows"):
        register_task(object())
    with pytest.raises(MaazaError, match=r"--task: unknown task 'nope'; registered tasks: .*toy-sentiment"):
        get_task("nope")


def test_toy_task_runs_data_train_eval_card(toy_task: SentimentTask, tiny_model_dir: Path, tmp_path: Path) -> None:
    # data: the task-free engine makes rows whose label is right by construction
    generated = run_generation(engine_task(), make_teacher("template"), n=15, seed=3)
    data = tmp_path / "data"
    write_dataset(data, engine_task(), generated, seed=3, val_fraction=0.0, test_fraction=0.2,
                  teacher_name="template", teacher={"name": "template"}, settings={})
    train_rows = toy_task.load_rows(data / "train.jsonl", {})
    test_rows = toy_task.load_rows(data / "test.jsonl", {})
    assert len(train_rows) == 12 and len(test_rows) == 3
    assert {row.label for row in train_rows} == set(LABELS)

    # train: the recipe speaks the protocol (task prompt + target), on a tiny model
    run = tmp_path / "run"
    config = from_dict(TrainConfig, {
        "name": "toy", "task": "toy-sentiment", "output_dir": str(run),
        "model": {"base": str(tiny_model_dir), "method": "lora", "lora": {"r": 4, "alpha": 8, "dropout": 0.0}},
        "data": {"train": [str(data / "train.jsonl")], "prompt_format": "plain", "val_fraction": 0.0,
                 "max_length": 96},
        "train": {"epochs": 1, "max_steps": 3, "lr": 1e-3, "batch_size": 4, "micro_batch_tokens": 256,
                  "seed": 1, "threads": 1},
        "checkpoint": {"every_steps": 3, "keep_last": 1},
        "logging": {"tensorboard": False, "progress": False},
    })
    summary = Recipe(config).run()
    assert summary["steps"] == 3 and summary["data"]["train"]["examples"] == 12
    adapter = run / "adapter"
    assert json.loads((adapter / "maaza.json").read_text())["task"] == "toy-sentiment"

    # eval: constrained to the label set; every answer is one of the labels
    results = EvalRun(EvalConfig(data=str(data / "test.jsonl"), task="toy-sentiment", adapter=str(adapter),
                                 model=str(tiny_model_dir), constrained=True, max_new_tokens=12, batch_size=2,
                                 extra={"variant": "fine-tuned"}), run / "eval" / "finetuned.json").run(progress=False)
    assert results["task"] == "toy-sentiment" and results["status"] == "complete"
    assert [e["predicted"] for e in results["examples"]] == [e["parsed"]["label"] for e in results["examples"]]
    assert all(e["predicted"] in LABELS for e in results["examples"])  # the grammar allows nothing else
    overall = results["metrics"]["overall"]
    assert overall["n"] == 3 and overall["accuracy"] == sum(e["correct"] for e in results["examples"]) / 3
    assert set(results["metrics"]["by_label"]) <= set(LABELS)

    # card: the task's own section, from the results JSON
    card = build_card(run)
    assert "## Sentiment accuracy" in card
    assert f"| fine-tuned | 3 | {100 * overall['accuracy']:.1f}% |" in card
