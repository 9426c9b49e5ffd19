"""The train recipe on funccall rows: the generator's rows tokenize to (specs prompt, calls target) with the
loss on the calls only, a tiny LoRA run records the task, and its constrained eval scores against BFCL rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from maaza.config import from_dict
from maaza.eval.runner import EvalConfig, EvalRun
from maaza.tasks import get_task
from maaza.tasks.funccall.generator import generate_rows, write_rows
from maaza.train.config import TrainConfig
from maaza.train.data import prepare_data
from maaza.train.recipe import Recipe


def _config(run: Path, data: Path, model: Path) -> TrainConfig:
    return from_dict(TrainConfig, {
        "name": "tiny-funccall", "task": "funccall", "output_dir": str(run),
        "model": {"base": str(model), "method": "lora", "lora": {"r": 4, "alpha": 8, "dropout": 0.0}},
        "data": {"train": [str(data)], "prompt_format": "tools-chat", "val_fraction": 0.0, "max_length": 1024},
        "train": {"epochs": 1, "max_steps": 2, "lr": 1e-3, "batch_size": 4, "micro_batch_tokens": 2048,
                  "seed": 1, "threads": 1},
        "checkpoint": {"every_steps": 2, "keep_last": 1},
        "logging": {"tensorboard": False, "progress": False},
    })


def test_examples_put_the_loss_on_the_calls_only(tmp_path: Path, tiny_model_dir: Path, smollm2_tokenizer: Any) -> None:
    data = tmp_path / "train.jsonl"
    rows = generate_rows(10, seed=5)
    write_rows(data, rows)
    prepared = prepare_data(_config(tmp_path / "run", data, tiny_model_dir).data, smollm2_tokenizer, seed=1,
                            task="funccall")
    assert len(prepared.train) == 10 and prepared.dropped_overlength == 0
    by_id = {row["id"]: row for row in rows}
    for example in prepared.train:
        row = by_id[example.id]
        target = smollm2_tokenizer.decode(example.completion_ids, skip_special_tokens=True)
        assert json.loads(target) == row["calls"]  # the completion is exactly the calls (an empty list too)
        prompt = smollm2_tokenizer.decode(example.prompt_ids)
        assert row["question"][0][0]["content"] in prompt  # the request is in the prompt ...
        assert all(json.dumps(spec["name"]) in prompt for spec in row["functions"])  # ... with every spec
        if row["calls"]:  # ... and never the answer ("[]" is named in the instructions)
            assert json.dumps(row["calls"], separators=(",", ":")) not in prompt


def test_tiny_lora_run_trains_and_its_constrained_eval_scores_valid_calls(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    write_rows(train, generate_rows(8, seed=1))
    write_rows(test, generate_rows(5, seed=2, mix={"simple": 1.0}))
    run = tmp_path / "run"
    summary = Recipe(_config(run, train, tiny_model_dir)).run()
    assert summary["steps"] == 2 and summary["data"]["train"]["examples"] == 8
    metadata = json.loads((run / "adapter" / "maaza.json").read_text())
    assert metadata["task"] == "funccall" and metadata["prompt_format"] == "tools-chat"

    results = EvalRun(EvalConfig(data=str(test), task="funccall", model=str(tiny_model_dir),
                                 adapter=str(run / "adapter"), constrained=True, max_new_tokens=160, batch_size=5),
                      tmp_path / "eval.json").run(progress=False)
    overall = results["metrics"]["overall"]
    assert results["status"] == "complete" and overall["n"] == 5
    # the grammar allows only offered names with typed arguments: whatever parsed is valid against the specs
    parsed = [e for e in results["examples"] if e["parsed"]]
    assert all(e["spec_valid"] for e in parsed)
    assert overall["spec_valid"] == len(parsed) / 5 and overall["parse_rate"] == len(parsed) / 5
    assert overall["ast_accuracy"] == sum(e["ast_correct"] for e in results["examples"]) / 5
    assert get_task("funccall").summary_table(results).startswith("| group |")
