"""The model slot: random init from an architecture, a student from a teacher's layers, sequence classifiers
(full and LoRA, saved so plain transformers loads them) and distillation from cached teacher logits."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from train_helpers import SENTIMENT_LABELS, SENTIMENT_ROWS, TrainData, config_dict, merge

from maaza.config import from_dict
from maaza.errors import MaazaError
from maaza.train.config import ArchitectureSettings, TrainConfig
from maaza.train.data import collate, prepare_data, step_groups
from maaza.train.logs import read_curve
from maaza.train.losses import kd_loss, supervised_logits
from maaza.train.models import architecture_config
from maaza.train.recipe import Recipe, build_model
from maaza.train.teacher import write_teacher_logits

VOCAB = 49152


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def llama_params(layers: int, hidden: int, heads: int, kv_heads: int, intermediate: int, vocab: int) -> int:
    """Parameters of a Llama with tied embeddings, counted by hand."""
    head_dim = hidden // heads
    attention = 2 * hidden * hidden + 2 * hidden * kv_heads * head_dim  # q, o; k, v
    layer = attention + 3 * hidden * intermediate + 2 * hidden  # + gate, up, down; two RMSNorms
    return vocab * hidden + layers * layer + hidden  # + the final norm


def build(model_dir: Path, dataset: TrainData, out: Path, **changes: Any) -> TrainConfig:
    return from_dict(TrainConfig, config_dict(model_dir, dataset, out, **changes))


def test_init_config_builds_the_requested_shape(
    tiny_model_dir: Path, train_data: TrainData, tmp_path: Path
) -> None:
    arch = {"layers": 3, "hidden": 32, "heads": 4, "kv_heads": 2, "intermediate": 48, "context": 256}
    config = build(
        tiny_model_dir, train_data, tmp_path, model={"method": "full", "init": "config", "architecture": arch}
    )
    model, _, _ = build_model(config, torch.device("cpu"))
    shape = model.config
    assert (
        shape.num_hidden_layers,
        shape.hidden_size,
        shape.num_attention_heads,
        shape.num_key_value_heads,
    ) == (
        3,
        32,
        4,
        2,
    )
    assert (shape.intermediate_size, shape.max_position_embeddings, shape.vocab_size, shape.head_dim) == (
        48,
        256,
        VOCAB,
        8,
    )
    assert len(model.model.layers) == 3
    assert model.model.layers[0].self_attn.k_proj.weight.shape == (16, 32)
    assert sum(p.numel() for p in model.parameters()) == llama_params(3, 32, 4, 2, 48, VOCAB)
    assert model.maaza_start == {"init": "config"}
    # random weights, not the base's: the base has hidden 64
    assert model.model.embed_tokens.weight.shape == (VOCAB, 32)
    small = build(
        tiny_model_dir,
        train_data,
        tmp_path,
        model={"method": "full", "init": "config", "architecture": {**arch, "vocab_size": 1000}},
    )
    with pytest.raises(
        MaazaError, match=r"model.architecture.vocab_size: 1000 is smaller than the tokenizer"
    ):
        build_model(small, torch.device("cpu"))


def test_the_plans_architecture_has_the_expected_size(tiny_model_dir: Path) -> None:
    """12 layers, hidden 512, 8 heads, 1024 context (meta device: shapes only)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    arch = ArchitectureSettings(layers=12, hidden=512, heads=8, intermediate=1536, context=1024)
    shape = architecture_config(AutoConfig.from_pretrained(tiny_model_dir), arch)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(shape)
    assert sum(p.numel() for p in model.parameters()) == llama_params(12, 512, 8, 8, 1536, VOCAB)  # 62.4M


def test_teacher_layers_copies_embeddings_and_every_kth_layer(
    tiny_model_dir: Path, smollm2_tokenizer: Any, train_data: TrainData, tmp_path: Path
) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1)  # a 4-layer teacher of the tiny Llama's widths
    teacher = LlamaForCausalLM(LlamaConfig.from_pretrained(tiny_model_dir, num_hidden_layers=4))
    teacher.save_pretrained(tmp_path / "teacher")
    smollm2_tokenizer.save_pretrained(tmp_path / "teacher")
    config = build(
        tmp_path / "teacher",
        train_data,
        tmp_path / "run",
        model={"method": "full", "init": "teacher_layers", "architecture": {"layers": 2}},
    )
    student, _, _ = build_model(config, torch.device("cpu"))
    assert student.config.num_hidden_layers == 2 and student.config.hidden_size == 64
    assert student.maaza_start == {"init": "teacher_layers", "teacher_layers": [0, 2], "teacher_head": False}
    taught = teacher.state_dict()
    for name, tensor in student.state_dict().items():
        origin = name.replace("layers.1.", "layers.2.")
        assert torch.equal(tensor, taught[origin]), name
    too_deep = build(
        tmp_path / "teacher",
        train_data,
        tmp_path / "run",
        model={"method": "full", "init": "teacher_layers", "architecture": {"layers": 5}},
    )
    with pytest.raises(MaazaError, match=r"model.architecture.layers: 5 > the teacher's 4 layers"):
        build_model(too_deep, torch.device("cpu"))


# --- sequence classifiers ---------------------------------------------------------------------------


def classifier_config(
    model_dir: Path, dataset: TrainData, sentiment: Path, out: Path, **changes: Any
) -> TrainConfig:
    base = config_dict(model_dir, dataset, out)
    base["task"] = "sentiment"
    base["model"] = {"base": str(model_dir), "method": "full", "kind": "sequence_classifier"}
    base["data"] = {
        "train": [str(sentiment)],
        "prompt_format": "plain",
        "val_fraction": 0.25,
        "max_length": 64,
    }
    base["train"].update({"max_steps": 3, "lr": 1e-3})
    base["checkpoint"] = {"every_steps": 10}
    return from_dict(TrainConfig, merge(base, changes))


def test_a_sequence_classifier_trains_and_loads_in_plain_transformers(
    tiny_model_dir: Path, train_data: TrainData, sentiment: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForSequenceClassification

    config = classifier_config(tiny_model_dir, train_data, sentiment, tmp_path / "run")
    summary = Recipe(config).run()
    assert summary["model_kind"] == "sequence_classifier" and summary["outputs"] == {
        "merged": str(tmp_path / "run" / "merged")
    }
    assert summary["data"]["train"]["examples"] == 9 and summary["data"]["train"]["completion_tokens"] == 0
    assert summary["tasks"]["sentiment"]["examples_drawn"] == 9  # 3 steps of 4, 4, 1: one epoch
    first = read_curve(tmp_path / "run")[0][1]
    assert first == pytest.approx(math.log(3), abs=0.3)  # a fresh head: near uniform over the 3 labels
    merged = tmp_path / "run" / "merged"
    meta = json.loads((merged / "maaza.json").read_text())
    assert meta["model_kind"] == "sequence_classifier" and meta["labels"] == list(SENTIMENT_LABELS)
    assert meta["task"] == "sentiment" and meta["prompt_format"] == "plain"
    loaded = AutoModelForSequenceClassification.from_pretrained(merged).eval()
    assert loaded.config.id2label == dict(enumerate(SENTIMENT_LABELS))
    tokenizer = _tokenizer(merged)
    data = prepare_data(config.data, tokenizer, config.train.seed, task="sentiment", classify=True)
    assert [e.label for e in data.train[:3]] == [
        SENTIMENT_LABELS.index(r["label"])
        for r in SENTIMENT_ROWS
        if r["id"] in {e.id for e in data.train[:3]}
    ]
    batch = collate(data.train[:4], tokenizer.pad_token_id)
    with torch.no_grad():
        ours, _, _ = supervised_logits(loaded, batch)  # what training read: each row's last real token
        theirs = loaded(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(ours, theirs, atol=1e-5)


def _tokenizer(folder: Path) -> Any:
    from maaza.models.loading import load_tokenizer

    return load_tokenizer(str(folder), padding_side="right")


def test_a_lora_classifier_trains_its_head_and_merges(
    tiny_model_dir: Path, train_data: TrainData, sentiment: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    config = classifier_config(
        tiny_model_dir,
        train_data,
        sentiment,
        tmp_path / "run",
        model={"method": "lora", "lora": {"r": 4, "alpha": 8, "dropout": 0.0}},
        train={"max_steps": 2, "lr": 1e-2},
    )
    summary = Recipe(config).run()
    assert set(summary["outputs"]) == {"adapter", "merged"}
    lora_r4 = (
        2 * 4 * (2 * (64 + 64) + 2 * (64 + 32) + 3 * (64 + 128))
    )  # q, o; k, v; gate, up, down in 2 layers
    assert (
        summary["params"]["trainable"] == lora_r4 + 3 * 64
    )  # + the trained copy of the head (3 labels x 64)
    merged = AutoModelForSequenceClassification.from_pretrained(tmp_path / "run" / "merged").eval()
    base = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=3)
    base.config.pad_token_id = 2
    adapted = PeftModel.from_pretrained(base, tmp_path / "run" / "adapter").eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, adapted(input_ids=ids).logits, atol=1e-5)
    assert json.loads((tmp_path / "run" / "adapter" / "maaza.json").read_text())["labels"] == list(
        SENTIMENT_LABELS
    )


def test_distill_trains_on_cached_teacher_logits(
    tiny_model_dir: Path, train_data: TrainData, sentiment: Path, tmp_path: Path
) -> None:
    from accelerate.utils import set_seed

    teacher = {r["id"]: [float(i), 0.5 * i, -float(i % 3)] for i, r in enumerate(SENTIMENT_ROWS)}
    cache = write_teacher_logits(
        tmp_path / "teacher.json",
        teacher,
        teacher="big-sentiment",
        teacher_hash="abc123",
        labels=SENTIMENT_LABELS,
    )
    distill = {"loss": "distill", "distill": {"teacher_logits": str(cache), "temperature": 2.0, "alpha": 0.5}}
    config = classifier_config(
        tiny_model_dir, train_data, sentiment, tmp_path / "run", train={**distill, "max_steps": 2}
    )
    summary = Recipe(config).run()
    assert summary["loss"] == "distill"
    assert summary["distill"] == {
        "file": str(cache),
        "teacher": "big-sentiment",
        "teacher_hash": "abc123",
        "rows": 12,
    }
    assert str(cache) in summary["data"]["files"]
    # step 1 recomputed: the model the run started from, the first step's rows and their cached logits
    set_seed(config.train.seed)
    model, tokenizer, _ = build_model(config, torch.device("cpu"))
    data = prepare_data(config.data, tokenizer, config.train.seed, task="sentiment", classify=True)
    group = step_groups(data.order(config.train.seed, 0), config.train.batch_size)[0]
    batch = collate([data.train[i] for i in group], tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    soft = torch.tensor([teacher[data.train[i].id] for i in group])
    expected = float(kd_loss(logits, soft, batch["labels"], 2.0, 0.5).mean())
    assert read_curve(tmp_path / "run")[0][1] == pytest.approx(expected, rel=1e-5)

    partial = write_teacher_logits(
        tmp_path / "partial.json",
        {k: v for k, v in teacher.items() if k != "s04"},
        teacher="big",
        teacher_hash="abc123",
        labels=SENTIMENT_LABELS,
    )
    missing = classifier_config(
        tiny_model_dir,
        train_data,
        sentiment,
        tmp_path / "missing",
        data={"val_fraction": 0.0},
        train={**distill, "distill": {"teacher_logits": str(partial)}},
    )
    with pytest.raises(
        MaazaError,
        match=r"train.distill.teacher_logits: .*partial.json has no logits for training "
        r"row 's04'",
    ):
        Recipe(missing).run()
