"""`maaza pipeline` end to end on the tiny random Llama: every stage, skipping, resuming, config errors.

One full run (generated data on two tiny schemas, 2 LoRA steps, constrained before/after eval on 4 rows,
GGUF f16 export, refine, card, leaderboard) is shared by the module; tests that change something copy
its run folder first.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from maaza.errors import MaazaError
from maaza.pipeline import add_parser
from maaza.pipeline.config import load_pipeline
from maaza.pipeline.runner import STAGE_ORDER, PipelineResult, PipelineRun

# Bounded strings and arrays, so the random model under a schema constraint closes its JSON quickly.
TINY_SCHEMAS: dict[str, dict[str, Any]] = {
    "simple/badge": {
        "title": "Badge",
        "type": "object",
        "properties": {
            "holder": {"type": "string", "maxLength": 10},
            "level": {"type": "string", "enum": ["gold", "silver"]},
        },
        "required": ["holder", "level"],
        "additionalProperties": False,
    },
    "medium/parcel": {
        "title": "Parcel",
        "type": "object",
        "properties": {
            "code": {"type": "string", "maxLength": 6},
            "weight_kg": {"type": "integer", "minimum": 1, "maximum": 40},
            "fragile": {"type": "boolean"},
        },
        "required": ["code", "weight_kg"],
        "additionalProperties": False,
    },
}


def write_schemas(folder: Path) -> Path:
    for rel, schema in TINY_SCHEMAS.items():
        path = folder / f"{rel}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2), encoding="utf-8")
    return folder


def pipeline_dict(schemas: Path, model: Path) -> dict[str, Any]:
    return {
        "kind": "pipeline",
        "name": "tiny-pipeline",
        "data": {"generate": {"schemas": str(schemas), "n": 60, "seed": 3, "val_fraction": 0.1,
                              "test_fraction": 0.1, "styles": "kv,prose"}},
        "train": {
            "model": {"base": str(model), "lora": {"r": 4, "alpha": 8, "dropout": 0.0,
                                                   "target_modules": ["q_proj", "v_proj"]}},
            "data": {"prompt_format": "schema", "max_length": 512},
            "train": {"max_steps": 2, "batch_size": 4, "lr": 1.0e-3, "micro_batch_tokens": 2048, "seed": 1},
            "checkpoint": {"every_steps": 1, "keep_last": 2},
            "eval": {"every_steps": 2, "max_examples": 4},
            "logging": {"tensorboard": False, "progress": False},
        },
        "eval": {"limit": 4, "batch_size": 4, "max_new_tokens": 40, "constrained": True, "before_after": True},
        "export": {"formats": ["gguf-f16"], "check_tokens": 4, "name": "tiny"},
        "refine": True,
        "card": True,
        "leaderboard": {"published": False},
        "progress": False,
    }


@dataclass
class Setup:
    config: Path
    run_dir: Path
    result: PipelineResult
    lines: list[str]


def run_pipeline(
    config: Path, run_dir: Path, overrides: list[str] | None = None, force: list[str] | None = None
) -> tuple[PipelineResult, list[str]]:
    lines: list[str] = []
    loaded = load_pipeline(config, overrides)
    result = PipelineRun(loaded, run_dir, force=force or [], say=lines.append).run()
    return result, lines


def statuses(result: PipelineResult) -> dict[str, str]:
    return {s.name: s.status for s in result.stages}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Setup:
    root = tmp_path_factory.mktemp("pipeline")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(pipeline_dict(write_schemas(root / "schemas"), tiny_model_dir)))
    run_dir = root / "run"
    result, lines = run_pipeline(config, run_dir)
    return Setup(config, run_dir, result, lines)


def copy_run(setup: Setup, target: Path) -> Path:
    shutil.copytree(setup.run_dir, target)
    return target


def test_first_run_writes_every_stage(first_run: Setup) -> None:
    run = first_run.run_dir
    assert statuses(first_run.result) == {name: "ran" for name in STAGE_ORDER}
    for name in ("train.jsonl", "val.jsonl", "test.jsonl", "stats.json", "README.md"):
        assert (run / "data" / name).is_file()
    assert sorted(p.relative_to(run / "data" / "schemas").as_posix()
                  for p in (run / "data" / "schemas").rglob("*.json")) == ["medium/parcel.json", "simple/badge.json"]
    stats = json.loads((run / "data" / "stats.json").read_text())
    assert stats["written"] >= 50 and stats["splits"]["test"] >= 4
    summary = json.loads((run / "train" / "training_summary.json").read_text())
    assert summary["steps"] == 2 and (run / "train" / "adapter" / "adapter_config.json").is_file()
    base = json.loads((run / "eval" / "base.json").read_text())
    tuned = json.loads((run / "eval" / "finetuned.json").read_text())
    assert base["status"] == tuned["status"] == "complete"
    assert [e["id"] for e in base["examples"]] == [e["id"] for e in tuned["examples"]]  # the same rows
    assert len(base["examples"]) == 4 and base["config"]["constrained"]
    assert base["model"]["adapter"] is None and tuned["model"]["adapter"].endswith("train/adapter")
    assert base["config"]["prompt_format"] == tuned["config"]["prompt_format"] == "schema"
    sizes = json.loads((run / "export" / "sizes.json").read_text())
    assert sizes["formats"]["gguf-f16"]["check"]["passed"] and (run / "export" / "tiny-f16.gguf").is_file()
    assert (run / "refine" / "refine.md").is_file() and (run / "refine" / "refine.json").is_file()
    card = (run / "README.md").read_text()
    assert card.startswith("---") and "tiny-pipeline" in card
    assert (run / "leaderboard" / "leaderboard.md").is_file() and (run / "leaderboard" / "index.html").is_file()
    for name in STAGE_ORDER:
        record = json.loads((run / "stages" / f"{name}.json").read_text())
        assert record["status"] == "complete" and len(record["inputs_hash"]) == 64 and record["outputs"]
    pipeline = json.loads((run / "pipeline.json").read_text())
    assert [s["name"] for s in pipeline["stages"]] == list(STAGE_ORDER)
    assert set(pipeline["metrics"]) == {"base", "fine-tuned"}
    assert any(line.startswith("[2/8] train (first run)") for line in first_run.lines)
    assert any("ETA for the remaining" in line for line in first_run.lines)


def test_second_run_skips_every_stage(first_run: Setup, tmp_path: Path) -> None:
    run = copy_run(first_run, tmp_path / "run")
    result, lines = run_pipeline(first_run.config, run)
    assert statuses(result) == {name: "skipped" for name in STAGE_ORDER}
    assert "skip data (unchanged)" in lines and "skip leaderboard (unchanged)" in lines


def test_changed_lr_reruns_train_and_downstream_only(first_run: Setup, tmp_path: Path) -> None:
    run = copy_run(first_run, tmp_path / "run")
    # (export.check=false only saves time: export reruns either way, its input, the adapter, changed)
    result, _ = run_pipeline(first_run.config, run, ["train.train.lr=5.0e-4", "export.check=false"])
    assert statuses(result) == {
        "data": "skipped", "train": "ran", "eval_base": "skipped", "eval": "ran", "refine": "ran",
        "export": "ran", "card": "ran", "leaderboard": "ran",
    }
    summary = json.loads((run / "train" / "training_summary.json").read_text())
    assert summary["config"]["train"]["lr"] == 5e-4


def test_deleted_output_and_force_rerun_a_stage(first_run: Setup, tmp_path: Path) -> None:
    run = copy_run(first_run, tmp_path / "run")
    (run / "README.md").unlink()
    result, _ = run_pipeline(first_run.config, run, force=["refine"])
    got = statuses(result)
    assert got["card"] == "ran" and got["refine"] == "ran" and got["train"] == "skipped"
    assert (run / "README.md").is_file()


def test_interrupted_training_resumes_from_its_checkpoint(
    first_run: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maaza.train import checkpoint

    data = yaml.safe_load(first_run.config.read_text())
    for key in ("eval", "export", "refine", "card", "leaderboard"):
        data.pop(key)
    config = tmp_path / "resume.yaml"
    config.write_text(yaml.safe_dump(data))
    run = tmp_path / "run"
    original: Callable[..., Path] = checkpoint.save_checkpoint
    saved: list[str] = []

    def crash_after_first(folder: Path, name: str, **kwargs: Any) -> Path:
        path = original(folder, name, **kwargs)
        saved.append(name)
        if name.startswith(checkpoint.PREFIX):
            raise RuntimeError("simulated crash after the first checkpoint")
        return path

    monkeypatch.setattr(checkpoint, "save_checkpoint", crash_after_first)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_pipeline(config, run)
    assert saved == ["step-00000001"]
    assert json.loads((run / "stages" / "train.json").read_text())["status"] == "running"
    monkeypatch.setattr(checkpoint, "save_checkpoint", original)
    steps: list[int] = []
    monkeypatch.setattr(checkpoint, "save_checkpoint",
                        lambda folder, name, **kw: (steps.append(kw["state"]["global_step"]), original(folder, name, **kw))[1])
    result, lines = run_pipeline(config, run)
    assert statuses(result) == {"data": "skipped", "train": "resumed"}
    assert any(line.startswith("resuming training from train/checkpoints/step-00000001") for line in lines)
    assert min(steps) == 2  # step 1 was not trained again
    assert json.loads((run / "train" / "training_summary.json").read_text())["steps"] == 2


def test_interrupted_eval_resumes_its_results_file(
    first_run: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maaza.decoding.backends.hf import HFBackend

    data = yaml.safe_load(first_run.config.read_text())
    for key in ("export", "refine", "card", "leaderboard"):
        data.pop(key)
    data["eval"].update({"batch_size": 2, "before_after": False})
    config = tmp_path / "eval.yaml"
    config.write_text(yaml.safe_dump(data))
    run = tmp_path / "run"
    original = HFBackend.generate
    batches: list[int] = []

    def crash_on_second_batch(self: HFBackend, prompts: list[str], *args: Any, **kwargs: Any) -> Any:
        batches.append(len(prompts))
        if len(batches) == 2:
            raise KeyboardInterrupt
        return original(self, prompts, *args, **kwargs)

    monkeypatch.setattr(HFBackend, "generate", crash_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(config, run)
    partial = json.loads((run / "eval" / "finetuned.json").read_text())
    assert partial["status"] == "partial" and len(partial["examples"]) == 2
    batches.clear()
    result, lines = run_pipeline(config, run)
    assert statuses(result) == {"data": "skipped", "train": "skipped", "eval": "resumed"}
    assert batches == [2] and "resuming evaluation from eval/finetuned.json" in lines
    done = json.loads((run / "eval" / "finetuned.json").read_text())
    assert done["status"] == "complete" and len(done["examples"]) == 4


def test_train_from_a_yaml_with_overrides_and_existing_data(first_run: Setup, tmp_path: Path) -> None:
    recipe = yaml.safe_load(first_run.config.read_text())["train"]
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "tiny_train.yaml").write_text(yaml.safe_dump({**recipe, "output_dir": "elsewhere"}))
    data_dir = first_run.run_dir / "data"
    config = tmp_path / "existing.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"use_existing": {"train": str(data_dir / "train.jsonl"), "test": str(data_dir / "test.jsonl"),
                                  "schemas": str(data_dir / "schemas")}},
        "train": {"from": "recipes/tiny_train.yaml", "train": {"max_steps": 1}},
    }))
    loaded = load_pipeline(config)
    assert loaded.train.train.max_steps == 1 and loaded.train.train.lr == recipe["train"]["lr"]
    runner = PipelineRun(loaded, tmp_path / "run", say=lambda _line: None)
    train = runner.train_config()
    assert train.output_dir == str(tmp_path / "run" / "train")
    assert train.data.train == [str(data_dir / "train.jsonl")] and train.data.val is None
    assert train.data.schemas == str(data_dir / "schemas")
    assert [s.name for s in runner.stages] == ["data", "train"]
    assert runner._data_inputs()["use_existing"]["train"][0] is not None
    with pytest.raises(MaazaError, match=r"unknown config key 'train\.train\.lrr' .*\(from recipes/tiny_train\.yaml\)"):
        load_pipeline(config, ["train.train.lrr=1"])


def test_config_errors_name_the_key(tmp_path: Path, tiny_model_dir: Path) -> None:
    base = pipeline_dict(tmp_path / "schemas", tiny_model_dir)
    bad = json.loads(json.dumps(base))
    bad["eval"]["limt"] = 3
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(MaazaError, match=r"bad\.yaml: unknown config key 'eval\.limt'"):
        load_pipeline(path)
    with pytest.raises(MaazaError, match=r"unknown config key 'train\.train\.lrr'"):
        load_pipeline(data=base, overrides=["train.train.lrr=1"])
    with pytest.raises(MaazaError, match=r"export\.formats: 'gguf-q9'"):
        load_pipeline(data=base, overrides=["export.formats=[gguf-q9]"])
    with pytest.raises(MaazaError, match="exactly one of 'generate' or 'use_existing'"):
        load_pipeline(data=base, overrides=["data.use_existing.test=x.jsonl"])
    with pytest.raises(MaazaError, match=r"data\.generate\.n: expected an integer"):
        load_pipeline(data=base, overrides=["data.generate.n=many"])


def test_cli_parser_reports_errors_and_rejects_unknown_stages(tmp_path: Path, tiny_model_dir: Path) -> None:
    parser = argparse.ArgumentParser(prog="maaza")
    add_parser(parser.add_subparsers(dest="command"))
    config = tmp_path / "p.yaml"
    config.write_text(yaml.safe_dump({**pipeline_dict(tmp_path, tiny_model_dir), "colour": "red"}))
    args = parser.parse_args(["pipeline", str(config), "--out", str(tmp_path / "run"), "--force", "train"])
    with pytest.raises(MaazaError, match="unknown config key 'colour'"):
        args.handler(args)
    with pytest.raises(SystemExit):
        parser.parse_args(["pipeline", str(config), "--force", "bake"])


def test_schemas_include_selects_a_subset(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = pipeline_dict(write_schemas(tmp_path / "schemas"), tiny_model_dir)
    data["data"]["generate"]["schemas_include"] = ["simple/*"]
    runner = PipelineRun(load_pipeline(data=data), tmp_path / "run", say=lambda _line: None)
    assert [rel for rel, _ in runner.selected_schemas()] == ["simple/badge.json"]
    data["data"]["generate"]["schemas_include"] = ["nope"]
    runner = PipelineRun(load_pipeline(data=data), tmp_path / "run", say=lambda _line: None)
    with pytest.raises(MaazaError, match="'nope' matches no schema"):
        runner.selected_schemas()


def test_shipped_pipeline_configs_load() -> None:
    root = Path(__file__).resolve().parents[1] / "configs"
    quickstart = load_pipeline(root / "quickstart_json.yaml")
    assert quickstart.train.model.base == "smollm2-135m"
    assert quickstart.config.data is not None and quickstart.config.data.generate is not None
    runner = PipelineRun(quickstart, Path("unused"), say=lambda _line: None)
    selected = runner.selected_schemas()
    assert 4 <= len(selected) <= 6 and all(rel.split("/")[0] in ("simple", "medium") for rel, _ in selected)
    published = root / "pipeline_mlm_135m_json.yaml"
    if published.is_file():
        assert load_pipeline(published).train.data.prompt_format


def test_eval_section_passes_every_eval_option_through(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The pipeline builds `maaza eval`'s own EvalConfig: no decoding option can be silently dropped."""
    from dataclasses import fields

    from maaza.eval.runner import EvalConfig
    from maaza.pipeline.config import EvalSection

    filled_by_the_run = {"data", "schemas", "model", "adapter", "task", "prompt_format", "resources", "extra"}
    options = {f.name for f in fields(EvalConfig)} - filled_by_the_run
    assert options <= {f.name for f in fields(EvalSection)}, options - {f.name for f in fields(EvalSection)}
    data = pipeline_dict(write_schemas(tmp_path / "schemas"), tiny_model_dir)
    data["eval"].update(grounded=True, loop_guard=False, stop_on_json_close=False, max_new_tokens=33)
    runner = PipelineRun(load_pipeline(data=data), tmp_path / "run", say=lambda _line: None)
    built = runner._eval_config(finetuned=True)
    assert (built.grounded, built.loop_guard, built.stop_on_json_close, built.max_new_tokens) == (True, False, False, 33)
    assert built.task == "edgejson" and built.backend == "hf"
    data["eval"].update(constrained=False)
    with pytest.raises(MaazaError, match="eval: grounded decoding is a constraint"):
        load_pipeline(data=data)
    with pytest.raises(MaazaError, match=r"--task: unknown task 'nope'"):
        from maaza.pipeline.command import run

        run(argparse.Namespace(config=str(tmp_path / "x.yaml"), overrides=[], no_progress=True, task="nope",
                               out=None, force=[]))
