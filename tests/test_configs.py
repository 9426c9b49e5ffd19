"""The config hub: every configs/*.yaml loads, targets real modules, and the published recipe is verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from transformers import LlamaConfig, LlamaForCausalLM

from maaza.config import load_config
from maaza.pipeline.config import load_pipeline
from maaza.tasks import get_task
from maaza.train.config import ALL_PROJECTIONS, TrainConfig

ALL_YAML = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
PIPELINES = [p for p in ALL_YAML if (yaml.safe_load(p.read_text()) or {}).get("kind") == "pipeline"]
CONFIGS = [p for p in ALL_YAML if p not in PIPELINES]  # training recipes

# SmolLM2-135M's architecture (config only; the weights are never needed here).
SMOLLM2_135M = dict(
    hidden_size=576,
    intermediate_size=1536,
    num_hidden_layers=30,
    num_attention_heads=9,
    num_key_value_heads=3,
    vocab_size=49152,
    tie_word_embeddings=True,
)


@pytest.fixture(scope="module")
def smollm2_module_names() -> set[str]:
    with torch.device("meta"):
        model = LlamaForCausalLM(LlamaConfig(**SMOLLM2_135M))
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    return {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}


def test_the_config_hub_is_not_empty() -> None:
    names = {path.name for path in CONFIGS}
    assert {"mlm_135m_json.yaml", "mlm_135m_json_published.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_config_loads_and_targets_existing_modules(path: Path, smollm2_module_names: set[str]) -> None:
    config = load_config(TrainConfig, path)
    assert config.model.base == "smollm2-135m", "a new base model: add its architecture to this test"
    assert config.data.prompt_format in get_task(config.task).prompt_formats, "a prompt format the task lacks"
    assert config.model.lora.target_modules, "no LoRA target modules"
    missing = [m for m in config.model.lora.target_modules if m not in smollm2_module_names]
    assert not missing, f"{path.name}: {missing} are not modules of SmolLM2-135M"
    assert config.train.batch_size >= 1 and config.train.lr > 0
    assert config.checkpoint.keep_last >= 1


def test_published_recipe_is_verbatim() -> None:
    config = load_config(TrainConfig, CONFIGS[0].parent / "mlm_135m_json_published.yaml")
    lora = config.model.lora
    assert (config.model.method, lora.r, lora.alpha, lora.dropout) == ("lora", 16, 32, 0.1)
    assert lora.target_modules == ALL_PROJECTIONS
    assert len(lora.target_modules) == 7
    train = config.train
    assert train.lr == 2e-4
    assert tuple(train.betas) == (0.9, 0.999)
    assert train.eps == 1e-8
    assert train.weight_decay == 0.01
    assert train.scheduler == "cosine"
    assert train.warmup_ratio == 0.1
    assert train.epochs == 3
    assert train.max_steps is None
    assert train.batch_size == 32
    assert train.max_grad_norm == 1.0
    assert config.data.max_length == 2048
    assert config.data.prompt_format == "seed"


@pytest.mark.parametrize("path", PIPELINES, ids=[path.stem for path in PIPELINES])
def test_pipeline_config_loads(path: Path) -> None:
    """Every pipeline YAML validates against the pipeline's dataclasses (train section included)."""
    load_pipeline(path)


def test_pipeline_configs_exist() -> None:
    assert {p.name for p in PIPELINES} >= {"quickstart_json.yaml"}


# ------------------------------------------------------------------ configs/intent: MLM-60M-Intent and its teacher

INTENT = Path(__file__).resolve().parents[1] / "configs" / "intent"


@pytest.mark.parametrize("name", ["mlm_60m_intent.yaml", "mlm_60m_intent_published.yaml"])
def test_intent_recipes_load_as_distilled_classifiers(name: str) -> None:
    from maaza.tasks import get_task

    config = load_config(TrainConfig, INTENT / name)
    assert config.task == "intent" and config.model.kind == "sequence_classifier"
    assert config.model.method == "full" and config.train.loss == "distill"
    assert config.data.prompt_format in get_task("intent").prompt_formats
    assert config.train.distill.alpha == 0.5  # the plan's 0.5 * KL + 0.5 * CE


def test_intent_published_recipe_is_the_plans() -> None:
    config = load_config(TrainConfig, INTENT / "mlm_60m_intent_published.yaml")
    arch = config.model.architecture
    assert config.model.init == "config"
    assert (arch.layers, arch.hidden, arch.heads, arch.context) == (12, 512, 8, 1024)
    train = config.train
    assert (train.epochs, train.batch_size, train.lr) == (5, 32, 5e-4)
    assert train.distill.temperature == 1.0


def test_intent_recipe_student_shape_and_teacher_settings() -> None:
    from maaza.train.top_layers import TopLayersSettings

    config = load_config(TrainConfig, INTENT / "mlm_60m_intent.yaml")
    assert config.model.init == "teacher_layers" and config.model.vocab_cut
    assert len(config.model.teacher_layers or []) == config.model.architecture.layers
    assert max(config.model.teacher_layers or [0]) < SMOLLM2_135M["num_hidden_layers"]
    teacher = TopLayersSettings.from_dict(yaml.safe_load((INTENT / "teacher.yaml").read_text())["teacher"])
    assert 0 < teacher.frozen_layers < SMOLLM2_135M["num_hidden_layers"]
    assert teacher.base == "smollm2-135m"
