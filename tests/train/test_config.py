"""The recipe config: typed YAML with errors naming the key and the file, and `--set` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from maaza.cli import main
from maaza.config import config_hash, load_config
from maaza.errors import MaazaError
from maaza.train.config import ALL_PROJECTIONS, TrainConfig
from maaza.train.recipe import recipe_hash

BASE: dict[str, Any] = {
    "name": "cfg-test",
    "output_dir": "runs/cfg-test",
    "model": {"base": "smollm2-135m", "method": "lora", "lora": {"r": 8}},
    "data": {"train": ["train.jsonl"], "schemas": "schemas", "prompt_format": "seed"},
    "train": {"lr": 3.0e-4, "batch_size": 8, "max_steps": 5},
}


def write(tmp_path: Path, data: dict[str, Any], name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def with_value(section: str, key: str, value: Any) -> dict[str, Any]:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    data.setdefault(section, {})[key] = value
    return data


def test_valid_config_loads_with_defaults(tmp_path: Path) -> None:
    config = load_config(TrainConfig, write(tmp_path, BASE))
    assert config.train.lr == 3e-4 and isinstance(config.train.lr, float)
    assert config.train.batch_size == 8 and config.train.max_steps == 5
    assert config.model.lora.r == 8 and config.model.lora.alpha == 32  # unset keys keep their defaults
    assert config.model.lora.target_modules == ALL_PROJECTIONS
    assert config.data.prompt_format == "seed" and config.data.overlength == "drop"
    assert config.checkpoint.every_steps == 50 and config.logging.tensorboard is True


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("train", "lrr", 1e-3, "unknown config key 'train.lrr'"),
        ("model", "lora_r", 4, "unknown config key 'model.lora_r'"),
        ("train", "lr", "fast", "train.lr: expected a number, got 'fast'"),
        ("train", "batch_size", 2.5, "train.batch_size: expected an integer, got 2.5"),
        ("train", "max_steps", True, "train.max_steps: expected an integer, got True"),
        ("model", "method", "qlora", "model.method: 'qlora' is not one of 'lora', 'full'"),
        ("data", "overlength", "truncate", "data.overlength: 'truncate' is not one of 'drop', 'error'"),
        ("data", "prompt_format", "chatml", "data.prompt_format: 'chatml' is not one of seed, schema, "),
        ("data", "train", "train.jsonl", "data.train: expected a list, got str"),
        ("train", "lr", -1.0, "train.lr: must be positive"),
        ("train", "betas", [0.9], "train.betas: needs two numbers"),
        ("data", "max_length", 8, "data.max_length: must be at least 16"),
        ("logging", "tensorboard", "yes", "logging.tensorboard: expected true or false, got 'yes'"),
    ],
)
def test_bad_values_name_the_key_and_the_file(
    tmp_path: Path, section: str, key: str, value: Any, expected: str
) -> None:
    path = write(tmp_path, with_value(section, key, value))
    with pytest.raises(MaazaError) as info:
        load_config(TrainConfig, path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_unknown_top_level_key_and_bad_section_type(tmp_path: Path) -> None:
    with pytest.raises(MaazaError, match=r"unknown config key 'trian'"):
        load_config(TrainConfig, write(tmp_path, {**BASE, "trian": {"lr": 1.0}}))
    with pytest.raises(MaazaError, match=r"train: expected a mapping, got list"):
        load_config(TrainConfig, write(tmp_path, {**BASE, "train": [1, 2]}))


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(MaazaError, match="config not found"):
        load_config(TrainConfig, tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("train:\n  lr: [1,\n", encoding="utf-8")
    with pytest.raises(MaazaError, match=rf"{broken}:\d+: invalid YAML"):
        load_config(TrainConfig, broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(MaazaError, match="mapping at the top level"):
        load_config(TrainConfig, listing)


def test_set_overrides_apply_and_are_typed(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    config = load_config(
        TrainConfig,
        path,
        [
            "train.lr=1.0e-4",
            "model.lora.dropout=0",
            "data.val=val.jsonl",
            "train.betas=[0.8, 0.99]",
            "output_dir=elsewhere",
            "checkpoint.keep_best=false",
        ],
    )
    assert config.train.lr == pytest.approx(1e-4)
    assert config.model.lora.dropout == 0.0 and isinstance(config.model.lora.dropout, float)
    assert config.data.val == "val.jsonl"
    assert config.train.betas == [0.8, 0.99]
    assert config.output_dir == "elsewhere"
    assert config.checkpoint.keep_best is False
    assert config.model.lora.r == 8  # untouched siblings survive
    assert load_config(TrainConfig, path).train.lr == 3e-4  # the file itself is not changed


def test_set_accepts_exponent_without_a_dot(tmp_path: Path) -> None:
    config = load_config(TrainConfig, write(tmp_path, BASE), ["train.lr=1e-4"])
    assert config.train.lr == pytest.approx(1e-4)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.lr", "--set expects key=value, got 'train.lr'"),
        ("=3", "--set expects key=value, got '=3'"),
        ("train.lr.x=3", "--set train.lr.x: 'lr' is not a section"),
        ("train.lrr=3", "unknown config key 'train.lrr'"),
        ("train.lr=fast", "train.lr: expected a number, got 'fast'"),
    ],
)
def test_bad_overrides_are_errors(tmp_path: Path, override: str, expected: str) -> None:
    with pytest.raises(MaazaError) as info:
        load_config(TrainConfig, write(tmp_path, BASE), [override])
    assert expected in str(info.value)


def test_cli_reports_config_errors_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, BASE)
    assert main(["train", str(path), "--set", "train.lrr=1.0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("maaza: error: ") and "train.lrr" in err and str(path) in err
    assert len(err.splitlines()) == 1  # no traceback
    assert main(["train", str(path), "--set", "no-equals-sign"]) == 2
    assert "--set expects key=value" in capsys.readouterr().err


def test_recipe_hash_covers_weights_not_bookkeeping(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    base = load_config(TrainConfig, path)
    bookkeeping = [
        "output_dir=other",
        "checkpoint.every_steps=3",
        "eval.every_steps=7",
        "logging.progress=false",
        "name=renamed",
    ]
    same = load_config(TrainConfig, path, bookkeeping)
    assert recipe_hash(same) == recipe_hash(base)
    assert config_hash(same) != config_hash(base)
    for override in (
        "train.lr=2.0e-4",
        "model.lora.r=4",
        "data.max_length=512",
        "train.seed=1",
        "model.method=full",
        "data.prompt_format=schema",
    ):
        assert recipe_hash(load_config(TrainConfig, path, [override])) != recipe_hash(base), override
