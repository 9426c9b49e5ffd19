"""The recipe's slots in the config: task, loss, model kind/init and mixtures, each error naming its key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from maaza.config import from_dict, load_config
from maaza.errors import MaazaError
from maaza.train.config import TrainConfig
from maaza.train.recipe import recipe_hash

BASE: dict[str, Any] = {
    "name": "slots",
    "output_dir": "runs/slots",
    "model": {"base": "smollm2-135m", "method": "lora"},
    "data": {"train": ["train.jsonl"], "schemas": "schemas", "prompt_format": "seed"},
    "train": {"max_steps": 5},
}
MIXTURE = [
    {"task": "edgejson", "train": ["a.jsonl"], "weight": 2.0, "loss_weight": 1.0},
    {"task": "sentiment", "train": ["b.jsonl"], "prompt_format": "plain", "weight": 1.0, "loss_weight": 1.5},
]
ARCH = {"layers": 2, "hidden": 32, "heads": 4, "intermediate": 64, "context": 256}


def build(**sections: Any) -> TrainConfig:
    """BASE with each section's keys updated (a `data` with a mixture replaces BASE's data section)."""
    data = copy.deepcopy(BASE)
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(name), dict) and "mixture" not in value:
            data[name] = {**data[name], **value}
        else:
            data[name] = value
    return from_dict(TrainConfig, data)


def mixture_data(entries: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "prompt_format": "seed",
        "schemas": "schemas",
        "mixture": copy.deepcopy(MIXTURE) if entries is None else entries,
        **extra,
    }


def test_defaults_are_todays_recipe_and_keep_its_hash() -> None:
    config = build()
    assert (config.task, config.model.kind, config.model.init, config.train.loss) == (
        "edgejson",
        "causal_lm",
        "pretrained",
        "completion_ce",
    )
    assert config.data.mixture is None and config.data.resources == {} and config.model.architecture is None
    # the hash of this config before the slots existed: today's checkpoints still resume
    legacy = {
        **BASE,
        "model": {**BASE["model"], "lora": {"r": 8}},
        "train": {"lr": 3.0e-4, "batch_size": 8, "max_steps": 5},
    }
    assert recipe_hash(from_dict(TrainConfig, legacy)) == "0fcf50339322da31"
    assert recipe_hash(build(train={"loss": "completion_ce"})) == recipe_hash(
        config
    )  # a default, spelled out
    assert recipe_hash(
        build(model={"method": "full", "init": "config", "architecture": ARCH}, data={"max_length": 256})
    ) != recipe_hash(build(model={"method": "full"}, data={"max_length": 256}))


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"task": "nope"}, "task: unknown task 'nope'; registered tasks: edgejson"),
        ({"data": {"prompt_format": "chatml"}}, "data.prompt_format: 'chatml' is not one of seed, schema, "),
        ({"train": {"loss": "mse"}}, "train.loss: 'mse' is not one of completion_ce, distill"),
        (
            {"train": {"loss": "distill"}},
            "train.distill.teacher_logits: the distill loss needs a teacher-logits",
        ),
        (
            {"train": {"loss": "distill", "distill": {"teacher_logits": "t.json"}}},
            "train.loss: distill reads cached per-example logits over the task's labels: needs model.kind "
            "sequence_classifier",
        ),
        (
            {"train": {"distill": {"temperature": 0.0, "teacher_logits": "t.json"}, "loss": "distill"}},
            "train.distill.temperature: must be positive",
        ),
        (
            {"train": {"distill": {"alpha": 1.5, "teacher_logits": "t.json"}, "loss": "distill"}},
            "train.distill.alpha: must be in [0, 1]",
        ),
        ({"train": {"distill": {"temprature": 2.0}}}, "unknown config key 'train.distill.temprature'"),
        (
            {"model": {"kind": "token_classifier"}},
            "model.kind: 'token_classifier' is not one of 'causal_lm', ",
        ),
        (
            {"model": {"kind": "sequence_classifier"}},
            "model.kind: sequence_classifier needs a classification task (labels, label_of); task 'edgejson' has none",
        ),
        (
            {"model": {"init": "random"}},
            "model.init: 'random' is not one of 'pretrained', 'config', 'teacher_layers'",
        ),
        (
            {"model": {"init": "config", "architecture": ARCH}},
            "model.method: model.init config trains new weights: needs method 'full'",
        ),
        (
            {"model": {"method": "full", "init": "config"}},
            "model.architecture: model.init config needs an architecture",
        ),
        (
            {"model": {"method": "full", "init": "config", "architecture": {**ARCH, "hidden": 30}}},
            "model.architecture.hidden: 30 is not a multiple of heads (4)",
        ),
        (
            {"model": {"method": "full", "init": "config", "architecture": {**ARCH, "kv_heads": 3}}},
            "model.architecture.kv_heads: 3 does not divide heads (4)",
        ),
        (
            {"model": {"method": "full", "init": "config", "architecture": {"layers": 2}}},
            "model.architecture.hidden: model.init config needs a positive hidden",
        ),
        (
            {"model": {"method": "full", "init": "config", "architecture": {**ARCH, "depth": 2}}},
            "unknown config key 'model.architecture.depth'",
        ),
        (
            {"model": {"method": "full", "init": "config", "architecture": ARCH}},
            "model.architecture.context: 256 is shorter than data.max_length (2048)",
        ),
        (
            {
                "model": {
                    "method": "full",
                    "init": "teacher_layers",
                    "architecture": {"layers": 2, "hidden": 64},
                }
            },
            "model.architecture.hidden: teacher_layers keeps the teacher's widths; leave it out",
        ),
        (
            {"model": {"architecture": ARCH}},
            "model.architecture: only read with model.init config or teacher_layers",
        ),
        (
            {"data": {"resources": {"lexicon": "x.txt"}}},
            "data.resources.lexicon: task 'edgejson' reads no resource 'lexicon' (its resources: schemas)",
        ),
        (
            {"data": {"resources": {"schemas": "x"}}},
            "data.resources.schemas: set it with the schemas key instead",
        ),
    ],
)
def test_slot_errors_name_the_key(sections: dict[str, Any], expected: str) -> None:
    with pytest.raises(MaazaError) as info:
        build(**sections)
    assert expected in str(info.value)


def test_errors_carry_the_file(tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({**BASE, "train": {"loss": "mse"}}), encoding="utf-8")
    with pytest.raises(MaazaError, match=rf"^{path}: train.loss: 'mse' is not one of completion_ce, distill"):
        load_config(TrainConfig, path)


def test_a_registered_task_is_validated_through_the_registry(sentiment: Path) -> None:
    config = build(task="sentiment", data={"prompt_format": "plain"})
    assert config.task == "sentiment"
    with pytest.raises(MaazaError, match=r"data.prompt_format: 'seed' is not one of plain$"):
        build(task="sentiment")
    with pytest.raises(MaazaError, match=r"task: unknown task 'nope'; registered tasks: edgejson, funccall, intent, intent-clinc150, pii, sentiment, spam, toxicity"):
        build(task="nope")
    classifier = build(
        task="sentiment", data={"prompt_format": "plain"}, model={"kind": "sequence_classifier"}
    )
    assert classifier.model.kind == "sequence_classifier"


def test_a_mixture_loads(sentiment: Path) -> None:
    config = build(data=mixture_data())
    mixture = config.data.mixture
    assert mixture is not None
    assert [(e.task, e.weight, e.loss_weight, e.prompt_format) for e in mixture] == [
        ("edgejson", 2.0, 1.0, None),
        ("sentiment", 1.0, 1.5, "plain"),
    ]


def _entry(index: int, **changes: Any) -> list[dict[str, Any]]:
    entries = copy.deepcopy(MIXTURE)
    entries[index].update(changes)
    return entries


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (mixture_data(_entry(1, weight=-1.0)), "data.mixture[1].weight: must be >= 0, got -1.0"),
        (mixture_data(_entry(0, loss_weight=-0.5)), "data.mixture[0].loss_weight: must be >= 0, got -0.5"),
        (
            mixture_data([{**MIXTURE[0], "weight": 0.0}, {**MIXTURE[1], "weight": 0}]),
            "data.mixture: the weights sum to 0; give at least one task a positive weight",
        ),
        (
            mixture_data(_entry(1, task="nope")),
            "data.mixture[1].task: unknown task 'nope'; registered tasks: ",
        ),
        (mixture_data(_entry(1, wieght=1.0)), "unknown config key 'data.mixture[1].wieght'"),
        (mixture_data(_entry(1, weight="high")), "data.mixture[1].weight: expected a number, got 'high'"),
        (mixture_data(_entry(1, train=[])), "data.mixture[1].train: name at least one JSONL file"),
        (
            mixture_data(_entry(1, task="edgejson")),
            "data.mixture[1].task: 'edgejson' is already data.mixture[0]",
        ),
        (
            mixture_data(_entry(1, prompt_format=None)),
            "data.mixture[1].prompt_format: task 'sentiment' has no prompt format 'seed' (data.prompt_format); "
            "set one of plain",
        ),
        (
            mixture_data(_entry(1, prompt_format="chat")),
            "data.mixture[1].prompt_format: 'chat' is not one of plain",
        ),
        (
            mixture_data(_entry(1, resources={"lexicon": "x"})),
            "data.mixture[1].resources.lexicon: task 'sentiment' reads no resource 'lexicon' (its resources: none)",
        ),
        (
            mixture_data(train=["other.jsonl"]),
            "data.train: with data.mixture, give each task's train in its entry",
        ),
        (mixture_data(val="val.jsonl"), "data.val: with data.mixture, give each task's val in its entry"),
        (mixture_data([]), "data.mixture: list at least one task (or leave it out)"),
        (mixture_data([MIXTURE[1]]), "task: 'edgejson' is not in data.mixture (sentiment); set task to the"),
    ],
)
def test_mixture_errors_name_the_key(sentiment: Path, data: dict[str, Any], expected: str) -> None:
    with pytest.raises(MaazaError) as info:
        build(data=data)
    assert expected in str(info.value)


def test_a_classifier_trains_one_task(sentiment: Path) -> None:
    with pytest.raises(MaazaError, match=r"data.mixture: a sequence_classifier trains one task's labels"):
        build(
            task="sentiment",
            model={"kind": "sequence_classifier"},
            data=mixture_data([MIXTURE[1]], prompt_format="plain"),
        )
