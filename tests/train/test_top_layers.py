"""The top-layer teacher fine-tune: cached states equal the model's own, resume, merge, refusal of another base."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForSequenceClassification, LlamaConfig, LlamaForCausalLM

from maaza.errors import MaazaError
from maaza.train import top_layers
from maaza.train.teacher import load_teacher_logits, write_teacher_logits
from maaza.train.top_layers import (
    TopLayersSettings,
    cache_hidden_states,
    merge_teacher,
    predict_top,
    top_model,
    train_top,
    weights_hash,
)

LABELS = ("a", "b", "c")


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory, smollm2_tokenizer: Any) -> Path:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=200, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                         pad_token_id=0, max_position_embeddings=64)
    folder = tmp_path_factory.mktemp("tiny-base")
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return folder


def rows(n: int = 24) -> list[tuple[str, list[int]]]:
    generator = torch.Generator().manual_seed(1)
    return [(f"r{i}", torch.randint(1, 200, (3 + i % 5,), generator=generator).tolist()) for i in range(n)]


def test_cached_states_equal_the_models_hidden_states(base_dir: Path, tmp_path: Path) -> None:
    data = rows()
    cache = cache_hidden_states(base_dir, data, 2, tmp_path / "cache", batch_size=5)
    model = LlamaForCausalLM.from_pretrained(base_dir).eval()
    for row_id, ids in data[:6]:
        with torch.no_grad():
            expected = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[2][0]
        assert cache.states[row_id].shape == (len(ids), 32)
        assert torch.allclose(cache.states[row_id], expected, atol=1e-5)


def test_cache_resumes_from_its_shards_and_refuses_another_base(
    base_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = rows(30)
    monkeypatch.setattr(top_layers, "SHARD_ROWS", 8)
    first = cache_hidden_states(base_dir, data, 1, tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("shard-*.pt"))) == 4
    (tmp_path / "cache" / "shard-00002.pt").unlink()  # an interrupted pass: one shard missing
    written: list[Path] = []
    real = top_layers._write_shard
    monkeypatch.setattr(top_layers, "_write_shard", lambda m, s, path, b: (written.append(path), real(m, s, path, b)))
    again = cache_hidden_states(base_dir, data, 1, tmp_path / "cache")
    assert [p.name for p in written] == ["shard-00002.pt"]
    assert all(torch.equal(first.states[i], again.states[i]) for i, _ in data)
    with pytest.raises(MaazaError, match=r"made with layer=1.*needs 2"):
        cache_hidden_states(base_dir, data, 2, tmp_path / "cache")
    other = tmp_path / "other-base"
    shutil.copytree(base_dir, other)
    model = LlamaForCausalLM.from_pretrained(other)
    with torch.no_grad():
        model.model.layers[0].mlp.up_proj.weight.add_(1.0)
    model.save_pretrained(other, safe_serialization=True)
    assert weights_hash(other) != weights_hash(base_dir)
    with pytest.raises(MaazaError, match="base_hash"):
        cache_hidden_states(other, data, 1, tmp_path / "cache")


def test_train_resume_merge_and_teacher_logits(base_dir: Path, tmp_path: Path, smollm2_tokenizer: Any) -> None:
    data = rows()
    labelled = [(row_id, i % 3) for i, (row_id, _) in enumerate(data)]
    cache = cache_hidden_states(base_dir, data, 2, tmp_path / "cache")
    settings = TopLayersSettings(frozen_layers=2, epochs=1, batch_size=4, lr=1e-3, head_lr=1e-2)
    torch.manual_seed(0)
    model = top_model(base_dir, 2, LABELS, pad_token_id=0)
    assert len(model.model.layers) == 2
    before = [p.clone() for p in model.model.layers[0].parameters()]
    first = train_top(model, cache, labelled, labelled[:6], settings, tmp_path / "ckpt")
    assert len(first["history"]) == 1
    assert any(not torch.equal(a, b) for a, b in zip(before, model.model.layers[0].parameters(), strict=True))
    # a second run with more epochs resumes after the checkpointed epoch
    torch.manual_seed(0)
    resumed = top_model(base_dir, 2, LABELS, pad_token_id=0)
    settings.epochs = 3
    second = train_top(resumed, cache, labelled, labelled[:6], settings, tmp_path / "ckpt")
    assert [h["epoch"] for h in second["history"]] == [1, 2, 3]
    assert second["history"][0] == first["history"][0]
    assert second["history"][-1]["train_loss"] < second["history"][0]["train_loss"]

    folder = merge_teacher(base_dir, resumed, 2, smollm2_tokenizer, tmp_path / "teacher", {"kind": "teacher"})
    merged = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    assert merged.config.num_hidden_layers == 4 and merged.config.id2label[2] == "c"
    expected = predict_top(resumed, cache, [i for i, _ in data])
    for index, (_, ids) in enumerate(data[:8]):
        with torch.no_grad():
            logits = merged(input_ids=torch.tensor([ids])).logits[0]
        assert torch.allclose(logits, expected[index], atol=1e-4)

    cache_file = write_teacher_logits(tmp_path / "logits.json", {i: expected[k].tolist() for k, (i, _) in
                                      enumerate(data)}, teacher="t", teacher_hash=weights_hash(folder), labels=LABELS)
    assert len(load_teacher_logits(cache_file, LABELS, weights_hash(folder)).logits) == len(data)
    with pytest.raises(MaazaError, match=r"holds the logits of teacher 't'.*recompute"):
        load_teacher_logits(cache_file, LABELS, weights_hash(base_dir))


def test_settings_reject_unknown_keys() -> None:
    with pytest.raises(MaazaError, match=r"teacher: unknown key\(s\) \['layers'\]"):
        TopLayersSettings.from_dict({"layers": 3})
