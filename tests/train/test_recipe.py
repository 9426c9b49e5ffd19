"""The training recipe end to end on a tiny random Llama: loss values, exact resume, outputs, logs.

The module's `baseline` run (8 LoRA steps, dropout 0.1, checkpoints and eval every 2 steps) is shared
by the tests that only read a finished run; the others train small runs of their own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import (
    ROWS,
    TrainData,
    config_dict,
    make_config,
    reaped,
    subprocess_env,
    write_config,
    write_rows,
)

from maaza.errors import MaazaError
from maaza.models import load_model, load_tokenizer
from maaza.train import checkpoint as ckpt
from maaza.train.config import TrainConfig
from maaza.train.data import collate, epoch_order, micro_batches, prepare_data, step_groups
from maaza.train.logs import read_curve
from maaza.train.recipe import Recipe, build_model, completion_loss_sum, recipe_hash

VOCAB = 49152
LORA_R8_PARAMS = 16384  # r=8 on q,k,v,o,gate,up,down of 2 layers (hidden 64, kv 32, mlp 128)


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests compare runs bit for bit, so every run (in-process or child) trains on the CPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@dataclasses.dataclass(frozen=True)
class Run:
    config: TrainConfig
    out: Path
    summary: dict[str, Any]


BASELINE: dict[str, Any] = {"model": {"lora": {"dropout": 0.1}}, "logging": {"tensorboard": True}}


@pytest.fixture(scope="module")
def baseline(tiny_model_dir: Path, train_data: TrainData, tmp_path_factory: pytest.TempPathFactory) -> Run:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.cuda, "is_available", lambda: False)
        out = tmp_path_factory.mktemp("baseline") / "run"
        config = make_config(tiny_model_dir, train_data, out, **BASELINE)
        return Run(config, out, Recipe(config).run())


def moved(config: TrainConfig, out: Path) -> TrainConfig:
    return dataclasses.replace(config, output_dir=str(out))


def losses(out: Path, split: str = "train") -> list[tuple[int, float]]:
    return read_curve(out, split)


# --- the loss itself -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixed_batch_run(
    tiny_model_dir: Path, train_data: TrainData, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """4 rows, batch 4, no hold-out: every one of the 8 steps trains on the same batch."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.cuda, "is_available", lambda: False)
        root = tmp_path_factory.mktemp("fixed")
        rows = write_rows(root / "four.jsonl", ROWS[:4])
        config = make_config(
            tiny_model_dir,
            train_data,
            root / "run",
            data={"train": [str(rows)], "val_fraction": 0.0},
            train={"epochs": 8, "lr": 1e-2, "warmup_ratio": 0.0},
            checkpoint={"every_steps": 100},
        )
        return Run(config, root / "run", Recipe(config).run())


def test_a_few_steps_lower_the_loss_on_a_fixed_batch(fixed_batch_run: Run) -> None:
    curve = losses(fixed_batch_run.out)
    assert [step for step, _ in curve] == list(range(1, 9))
    values = [value for _, value in curve]
    assert values[0] == pytest.approx(math.log(VOCAB), abs=0.1)  # a random model is ~uniform over the vocab
    assert all(later < earlier for earlier, later in itertools.pairwise(values)), values
    assert values[-1] < values[0] - 0.4, values  # 10.80 -> 10.25 with this seed
    summary = fixed_batch_run.summary
    assert summary["steps"] == 8 and summary["steps_per_epoch"] == 1
    assert summary["final_train_loss"] == values[-1]
    assert summary["best_val_loss"] is None and summary["data"]["val"] == {"examples": 0}


def test_recipe_loss_equals_the_transformers_loss(fixed_batch_run: Run, tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    config = fixed_batch_run.config
    tokenizer = load_tokenizer(str(tiny_model_dir), padding_side="right")
    data = prepare_data(config.data, tokenizer, config.train.seed)
    batch = collate(data.train, tokenizer.pad_token_id)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    with torch.no_grad():
        hf_loss = float(model(**batch).loss)  # transformers' own shift + mean over labels != -100
        loss_sum, count = completion_loss_sum(model, batch)
    assert count == sum(len(e.completion_ids) for e in data.train) == int((batch["labels"] != -100).sum())
    assert float(loss_sum) == pytest.approx(hf_loss * count, rel=1e-5)
    # Step 1 of the recipe (LoRA B starts at zero: the base model; split in micro-batches) logged the same.
    assert losses(fixed_batch_run.out)[0][1] == pytest.approx(hf_loss, rel=1e-5)
    # With a trained adapter, the decoder the loss runs through still carries the LoRA layers.
    from peft import PeftModel

    tuned = PeftModel.from_pretrained(model, str(fixed_batch_run.out / "adapter")).eval()
    with torch.no_grad():
        tuned_loss = float(tuned(**batch).loss)
        tuned_sum, _ = completion_loss_sum(tuned, batch)
    assert tuned_loss < hf_loss - 0.4
    assert float(tuned_sum) == pytest.approx(tuned_loss * count, rel=1e-5)


# --- exact resume ------------------------------------------------------------------------------------


def assert_same_curve(got: list[tuple[int, float]], expected: list[tuple[int, float]], rel: float) -> None:
    assert [step for step, _ in got] == [step for step, _ in expected]
    assert [value for _, value in got] == pytest.approx([value for _, value in expected], rel=rel, abs=0)


def adapter_weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "adapter" / "adapter_model.safetensors"))


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 0.0) -> None:
    assert a.keys() == b.keys() and a
    for name in a:
        assert torch.allclose(a[name], b[name], rtol=0, atol=atol), name


def tb_scalars(out: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tb"), size_guidance={"scalars": 0})
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_resume_after_a_crash_equals_the_uninterrupted_run(
    baseline: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash while step 6's checkpoint is being written (dropout 0.1: the RNG state must come back too)."""
    config = moved(baseline.config, tmp_path / "run")
    out = Path(config.output_dir)
    save = Recipe._save

    def crash_at_step_6(self: Recipe, name: str, *args: Any, **kwargs: Any) -> None:
        if name == f"{ckpt.PREFIX}00000006":
            raise RuntimeError("simulated crash")
        save(self, name, *args, **kwargs)

    monkeypatch.setattr(Recipe, "_save", crash_at_step_6)
    with pytest.raises(RuntimeError, match="simulated crash"):
        Recipe(config).run()
    monkeypatch.setattr(Recipe, "_save", save)
    assert [step for step, _ in losses(out)] == [1, 2, 3, 4, 5, 6]
    assert ckpt.latest_checkpoint(out / "checkpoints") == out / "checkpoints" / "step-00000004"
    assert not (out / "adapter").exists() and not (out / "merged").exists()

    summary = Recipe(config).run(resume=True)
    assert losses(out) == losses(baseline.out)  # steps 5 and 6 were truncated and re-run identically
    assert losses(out, "eval") == losses(baseline.out, "eval")
    assert_same_weights(adapter_weights(out), adapter_weights(baseline.out))
    keys = ("best_val_loss", "best_step", "useful_tokens", "padded_tokens", "final_train_loss", "final_val_loss")
    for key in keys:
        assert summary[key] == baseline.summary[key], key
    # TensorBoard: the re-run steps replace the crashed run's, each step once.
    assert [step for step, _ in tb_scalars(out, "train/loss")] == list(range(1, 9))
    # resuming a finished run trains nothing and reports the same losses (the last val loss is in the state)
    again = Recipe(config).run(resume=True)
    for key in keys:
        assert again[key] == baseline.summary[key], key
    assert [step for step, _ in losses(out)] == list(range(1, 9))


def test_resume_refuses_a_changed_recipe(baseline: Run, tmp_path: Path) -> None:
    out = tmp_path / "run"
    latest = ckpt.latest_checkpoint(baseline.out / "checkpoints")
    assert latest is not None
    shutil.copytree(latest, out / "checkpoints" / latest.name)
    for change in ({"lr": 1e-3}, {"seed": 8}):
        changed = moved(
            dataclasses.replace(baseline.config, train=dataclasses.replace(baseline.config.train, **change)),
            out,
        )
        with pytest.raises(MaazaError, match="different model/data/train config"):
            Recipe(changed).run(resume=True)
    # A different LoRA rank cannot even take the saved weights: still the same clear error.
    lora = dataclasses.replace(baseline.config.model.lora, r=4)
    changed = moved(
        dataclasses.replace(baseline.config, model=dataclasses.replace(baseline.config.model, lora=lora)), out
    )
    with pytest.raises(MaazaError, match="different model/data/train config"):
        Recipe(changed).run(resume=True)
    with pytest.raises(MaazaError, match=r"already has checkpoints: pass --resume"):
        Recipe(moved(baseline.config, out)).run()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [latest.name]  # nothing was touched


def _train_command(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "maaza", "train", str(config), *extra]


def test_sigkill_mid_run_then_resume_equals_the_uninterrupted_run(
    tiny_model_dir: Path, train_data: TrainData, tmp_path: Path
) -> None:
    changes = {**BASELINE, "train": {"max_steps": 16, "epochs": 4}}
    config_path = write_config(
        tmp_path / "kill.yaml", config_dict(tiny_model_dir, train_data, tmp_path / "killed", **changes)
    )
    out = tmp_path / "killed"
    log = tmp_path / "killed.log"
    with log.open("wb") as handle:
        child = subprocess.Popen(
            _train_command(config_path),
            env=subprocess_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with reaped(child):
            deadline = time.monotonic() + 240
            while not (out / "checkpoints" / "step-00000004").is_dir():
                assert child.poll() is None, f"training ended before the kill:\n{log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, "no checkpoint after 240 s"
                time.sleep(0.01)
            os.kill(child.pid, signal.SIGKILL)  # lands in step 5 or so, of 16
            child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    logged = [step for step, _ in losses(out)]
    assert 4 <= logged[-1] < 16, logged
    assert not (out / "merged").exists() and not (out / "adapter").exists()
    assert not (out / "training_summary.json").exists()

    resumed = subprocess.Popen(
        _train_command(config_path, "--resume"),
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    reference = tmp_path / "reference"  # the uninterrupted run, trained here while the child resumes
    with reaped(resumed):
        Recipe(make_config(tiny_model_dir, train_data, reference, **changes)).run()
        output = resumed.communicate(timeout=300)[0].decode(errors="replace")
    assert resumed.returncode == 0, output[-3000:]
    assert "trained 16 steps" in output

    assert [step for step, _ in losses(out)] == list(range(1, 17))
    assert_same_curve(losses(out), losses(reference), rel=0.0)
    assert_same_curve(losses(out, "eval"), losses(reference, "eval"), rel=0.0)
    assert_same_weights(adapter_weights(out), adapter_weights(reference))
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "best",
        "step-00000012",
        "step-00000014",
        "step-00000016",
    ]  # no '.'-staging leftovers
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert [step for step, _ in tb_scalars(out, "train/loss")] == list(range(1, 17))


# --- checkpoints, outputs, logs ----------------------------------------------------------------------


def test_a_failed_checkpoint_write_is_a_clear_error_and_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a full disk did to a 1.6 GB full fine-tune checkpoint: torch's zip writer raised RuntimeError."""
    import torch

    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    folder = tmp_path / "checkpoints"
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "state": {"global_step": 2}}
    ckpt.save_checkpoint(folder, "step-00000002", **parts)
    real_save = torch.save

    def full_disk(obj: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).name == "optimizer.pt":
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 980424512 vs 980424400")
        real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(MaazaError, match=r"could not write checkpoint .*step-00000004 \(RuntimeError: .*unexpected "
                       r"pos.*GB free there now.*rerun with --resume"):
        ckpt.save_checkpoint(folder, "step-00000004", **parts)
    assert [p.name for p in folder.iterdir()] == ["step-00000002"]  # no staging folder left behind
    assert ckpt.latest_checkpoint(folder) == folder / "step-00000002"


def test_checkpoint_rotation_keeps_last_three_and_the_best(baseline: Run) -> None:
    folder = baseline.out / "checkpoints"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["best", "step-00000004", "step-00000006", "step-00000008"]
    for step in (4, 6, 8):
        state = json.loads((folder / f"step-{step:08d}" / ckpt.STATE_FILE).read_text())
        assert state["global_step"] == step and state["world_size"] == 1
        assert state["recipe_hash"] == recipe_hash(baseline.config)
        assert {p.name for p in (folder / f"step-{step:08d}").iterdir()} == {
            "trainable.safetensors",
            "optimizer.pt",
            "scheduler.pt",
            "rng_rank0.pt",
            ckpt.STATE_FILE,
            ckpt.CHECKSUMS_FILE,
        }
    evals = losses(baseline.out, "eval")
    assert [step for step, _ in evals] == [2, 4, 6, 8]
    best_step, best_loss = min(evals, key=lambda item: item[1])
    best = json.loads((folder / "best" / ckpt.STATE_FILE).read_text())
    assert (best["best_step"], best["global_step"]) == (best_step, best_step)
    assert best["best_val_loss"] == best_loss
    assert (baseline.summary["best_step"], baseline.summary["best_val_loss"]) == (best_step, best_loss)
    assert baseline.summary["exported_from"] == f"best (step {best_step})"
    # The trainable weights of the best checkpoint are what adapter/ ships (export_best).
    saved = load_file(str(folder / "best" / "trainable.safetensors"))
    assert len(saved) == 2 * 7 * 2  # lora_A and lora_B of 7 projections in 2 layers
    shipped = adapter_weights(baseline.out)
    assert_same_weights({name.replace(".default", ""): value for name, value in saved.items()}, shipped)


def test_outputs_carry_metadata_and_merged_equals_base_plus_adapter(
    baseline: Run, tiny_model_dir: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter, merged_dir = baseline.out / "adapter", baseline.out / "merged"
    assert baseline.summary["outputs"] == {"adapter": str(adapter), "merged": str(merged_dir)}
    for kind, folder in (("adapter", adapter), ("merged", merged_dir)):
        meta = json.loads((folder / "maaza.json").read_text())
        assert meta["kind"] == kind and meta["method"] == "lora" and meta["task"] == "edgejson"
        assert meta["base_model"] == str(tiny_model_dir)
        assert meta["prompt_format"] == "seed" and meta["minify_targets"] is True
        assert meta["training_config_hash"] == recipe_hash(baseline.config) == baseline.summary["recipe_hash"]
        assert (folder / "tokenizer.json").is_file()
    assert (adapter / "adapter_config.json").is_file() and (merged_dir / "model.safetensors").is_file()
    assert not (merged_dir / "adapter_config.json").exists()

    tokenizer = load_tokenizer(str(adapter))
    prompt = "Extract the structured JSON data from the following text.\n\nInput: Name: Ann\n\nOutput:"
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    with_adapter = PeftModel.from_pretrained(base, str(adapter)).eval()
    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype=torch.float32).eval()
    greedy = {"max_new_tokens": 10, "min_new_tokens": 10, "do_sample": False, "pad_token_id": 2}
    with torch.no_grad():
        expected = with_adapter(input_ids=ids).logits
        with with_adapter.disable_adapter():
            plain = with_adapter(input_ids=ids).logits
        assert torch.allclose(merged(input_ids=ids).logits, expected, atol=1e-4)
        assert (expected - plain).abs().max() > 1e-3  # the adapter is not a no-op
        tokens = with_adapter.generate(input_ids=ids, **greedy)
        assert torch.equal(merged.generate(input_ids=ids, **greedy), tokens)
        assert tokens.shape[1] == ids.shape[1] + 10

    loaded = load_model(adapter=str(adapter))  # no model named: the base comes from maaza.json
    assert loaded.resolved.path == str(tiny_model_dir)
    assert loaded.metadata["training_config_hash"] == recipe_hash(baseline.config)
    with torch.no_grad():
        assert torch.allclose(loaded.model(input_ids=ids).logits, expected, atol=1e-5)


def test_tensorboard_holds_the_logged_curves(baseline: Run) -> None:
    assert list((baseline.out / "tb").glob("events.out.tfevents.*"))
    train = tb_scalars(baseline.out, "train/loss")
    assert_same_curve(train, losses(baseline.out), rel=1e-6)  # float32 in the event file
    assert [step for step, _ in train] == list(range(1, 9))
    assert_same_curve(tb_scalars(baseline.out, "eval/loss"), losses(baseline.out, "eval"), rel=1e-6)
    lrs = [value for _, value in tb_scalars(baseline.out, "train/lr")]
    assert lrs[0] == 0.0  # warmup of round(0.1 * 8) = 1 step starts from 0
    assert lrs[1] == pytest.approx(5e-3, rel=1e-6)  # the peak, then cosine decay
    assert all(later < earlier for earlier, later in itertools.pairwise(lrs[1:]))


def test_training_summary_counts_what_was_trained(
    baseline: Run, tiny_model_dir: Path, train_data: TrainData, tiny_model_params: int
) -> None:
    summary = baseline.summary
    assert json.loads((baseline.out / "training_summary.json").read_text()) == json.loads(json.dumps(summary))
    config = baseline.config
    tokenizer = load_tokenizer(str(tiny_model_dir), padding_side="right")
    data = prepare_data(config.data, tokenizer, config.train.seed)
    assert (len(data.train), len(data.val)) == (19, 5)
    useful = padded = completion = 0
    for step in range(8):  # replay the schedule: 5 steps per epoch over 19 examples
        epoch, index = divmod(step, 5)
        group = step_groups(epoch_order(19, config.train.seed, epoch), 4)[index]
        completion += sum(len(data.train[i].completion_ids) for i in group)
        for micro in micro_batches(group, data.train, config.train.micro_batch_tokens):
            useful += sum(data.train[i].length for i in micro)
            padded += len(micro) * max(data.train[i].length for i in micro)
    assert (summary["steps"], summary["steps_per_epoch"], summary["epochs"]) == (8, 5, 1.6)
    assert (summary["useful_tokens"], summary["padded_tokens"]) == (useful, padded)
    assert summary["padding_efficiency"] == round(useful / padded, 4)
    seconds = summary["train_seconds"]  # rounded to 0.01 s in the summary
    assert summary["useful_tokens_per_s"] > 0 and summary["completion_tokens_per_s"] > 0
    assert summary["useful_tokens_per_s"] == pytest.approx(useful / seconds, rel=0.02)
    assert summary["completion_tokens_per_s"] == pytest.approx(completion / seconds, rel=0.02)
    assert summary["params"]["trainable"] == LORA_R8_PARAMS
    assert summary["params"]["total"] == tiny_model_params + LORA_R8_PARAMS
    assert summary["best_val_loss"] == min(value for _, value in losses(baseline.out, "eval"))
    assert summary["final_val_loss"] == losses(baseline.out, "eval")[-1][1]
    assert summary["final_train_loss"] == losses(baseline.out)[-1][1]
    digest = hashlib.sha256(train_data.train.read_bytes()).hexdigest()
    assert summary["data"]["files"] == {str(train_data.train): digest}
    assert summary["data"]["train"]["examples"] == 19 and summary["data"]["val"]["examples"] == 5
    assert summary["processes"] == 1 and summary["precision"] == "fp32" and summary["method"] == "lora"
    assert summary["base_model"]["path"] == str(tiny_model_dir)


# --- full fine-tuning ---------------------------------------------------------------------------------


def test_full_fine_tuning_changes_the_base_weights(
    tiny_model_dir: Path, train_data: TrainData, tmp_path: Path, tiny_model_params: int
) -> None:
    out = tmp_path / "full"
    config = make_config(
        tiny_model_dir,
        train_data,
        out,
        model={"method": "full"},
        data={"val_fraction": 0.0},
        train={"max_steps": 3, "lr": 1e-3},
        checkpoint={"every_steps": 10},
    )
    summary = Recipe(config).run()
    assert not (out / "adapter").exists()
    assert summary["outputs"] == {"merged": str(out / "merged")}
    assert summary["params"]["trainable"] == summary["params"]["total"] == tiny_model_params
    assert json.loads((out / "merged" / "maaza.json").read_text())["method"] == "full"
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    after = load_file(str(out / "merged" / "model.safetensors"))
    assert before.keys() == after.keys()
    changed = [name for name in before if not torch.equal(before[name], after[name])]
    assert "model.layers.0.self_attn.q_proj.weight" in changed
    assert "model.embed_tokens.weight" in changed
    assert len(changed) == len(before)  # every tensor (norms included) received an update
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000003"]
    assert [step for step, _ in losses(out)] == [1, 2, 3]


def test_init_adapter_starts_from_the_trained_lora_and_checks_its_shape(baseline: Run, tmp_path: Path) -> None:
    trained = adapter_weights(baseline.out)
    config = moved(baseline.config, tmp_path / "warm")
    warm = dataclasses.replace(config, model=dataclasses.replace(config.model, init_adapter=str(baseline.out / "adapter")))
    model, _, _ = build_model(warm, torch.device("cpu"))
    state = {name: tensor for name, tensor in model.state_dict().items() if "lora_" in name}
    assert len(state) == len(trained) > 0
    for name, tensor in trained.items():  # saved names lack peft's adapter name ("default")
        assert torch.equal(state[name.replace(".weight", ".default.weight")], tensor), name
    fresh, _, _ = build_model(config, torch.device("cpu"))
    b_weights = [t for n, t in fresh.state_dict().items() if "lora_B" in n]
    assert all(not t.any() for t in b_weights)  # without init_adapter: a fresh LoRA (B = 0)

    other_rank = dataclasses.replace(warm.model.lora, r=4)
    wrong = dataclasses.replace(warm, model=dataclasses.replace(warm.model, lora=other_rank))
    with pytest.raises(MaazaError, match=r"has r=8, but model.lora.r is 4"):
        build_model(wrong, torch.device("cpu"))
    missing = dataclasses.replace(warm, model=dataclasses.replace(warm.model, init_adapter=str(tmp_path)))
    with pytest.raises(MaazaError, match=r"model.init_adapter: .*no adapter_config.json"):
        build_model(missing, torch.device("cpu"))
    full = dataclasses.replace(warm, model=dataclasses.replace(warm.model, method="full"))
    with pytest.raises(MaazaError, match=r"needs model.method 'lora'"):
        build_model(full, torch.device("cpu"))


# --- several processes ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_compute_the_same_steps_as_one(
    tiny_model_dir: Path, train_data: TrainData, tmp_path: Path
) -> None:
    """`accelerate launch` with 2 CPU processes (gloo) matches one process on the same global batch."""
    config = config_dict(tiny_model_dir, train_data, tmp_path / "unused", train={"max_steps": 3})
    config_path = write_config(tmp_path / "two.yaml", config)
    two, one = tmp_path / "two", tmp_path / "one"
    # --multi_gpu is accelerate's torchrun launcher; with no GPU the processes run on the CPU with gloo
    # (plain --cpu --num_processes 2 would start a single process).
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "maaza",
        "train",
        str(config_path),
        "--output-dir",
        str(two),
    ]
    child = subprocess.Popen(
        launch, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    with reaped(child):
        Recipe(make_config(tiny_model_dir, train_data, one, train={"max_steps": 3})).run()  # meanwhile, here
        output = child.communicate(timeout=300)[0].decode(errors="replace")
    assert child.returncode == 0, output[-3000:]
    summary = json.loads((two / "training_summary.json").read_text())
    assert summary["processes"] == 2
    assert_same_curve(losses(two), losses(one), rel=1e-5)
    assert [step for step, _ in losses(two)] == [1, 2, 3]
    assert_same_curve(losses(two, "eval"), losses(one, "eval"), rel=1e-5)
    assert_same_weights(adapter_weights(two), adapter_weights(one), atol=1e-5)
    assert {p.name for p in (two / "checkpoints" / "step-00000003").glob("rng_rank*.pt")} == {
        "rng_rank0.pt",
        "rng_rank1.pt",
    }
    with pytest.raises(MaazaError, match="written by 2 processes, resuming with 1"):
        Recipe(make_config(tiny_model_dir, train_data, two, train={"max_steps": 3})).run(resume=True)
