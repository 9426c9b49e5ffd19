"""`export_classifier_onnx`: a tiny random Llama classifier (word-level tokenizer) to fp32 + INT8 ONNX."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from maaza.errors import MaazaError
from maaza.export import onnx_classifier
from maaza.export.onnx_classifier import FP32_FILE, INT8_FILE, export_classifier_onnx

pytest.importorskip("onnxruntime")

LABELS = ["balance", "transfer", "card_lost", "pin", "other"]
SENTENCES = (
    "i want to check my card balance please",
    "transfer money to savings",
    "where is my new card i lost the pin",
    "how do i change my pin at the atm",
    "cash top up failed why was my account charged twice",
)
CONTEXT = 32
LAYERS = 2


def build_tiny_classifier(folder: Path, *, prompt_format: str = "text") -> Path:
    """A 2-layer Llama sequence classifier (hidden 64, 4 heads, 5 labels) + a word-level fast tokenizer."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "[EOS]": 2}
    for word in " ".join(SENTENCES).split():
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]"
    )
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        pad_token_id=0,
        bos_token_id=None,
        eos_token_id=2,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(config).eval()
    with torch.no_grad():  # spread the head's logits so that labels are well separated (argmax checks)
        model.score.weight.mul_(8.0)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    metadata = {
        "name": "tiny-intent",
        "kind": "merged",
        "model_kind": "sequence_classifier",
        "task": "intent",
        "labels": LABELS,
        "prompt_format": prompt_format,
        "max_length": 16,
    }
    (folder / "maaza.json").write_text(json.dumps(metadata), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("onnx-classifier")
    source = build_tiny_classifier(root / "merged")
    result = export_classifier_onnx(source, root / "onnx")
    return source, root / "onnx", result


def _padded(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    width = max(map(len, rows))
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return ids, mask


def _onnx_logits(path: Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]


def test_export_writes_checked_files_and_metadata(exported: tuple[Path, Path, dict[str, Any]]) -> None:
    source, out, result = exported
    meta = json.loads((out / "maaza.json").read_text())
    assert result["path"] == str(out) and {k: v for k, v in result.items() if k != "path"} == meta
    assert meta["kind"] == meta["model_kind"] == "sequence_classifier" and meta["runtime"] == "onnx"
    assert meta["labels"] == LABELS and meta["num_labels"] == 5
    assert meta["max_length"] == CONTEXT  # the model's context, not the training max_length (16)
    assert meta["task"] == "intent" and meta["prompt_format"] == "text"
    assert meta["source_model"] == str(source.resolve())
    assert set(meta["files"]) == {FP32_FILE, INT8_FILE, "tokenizer.json", "tokenizer_config.json"}
    for name, size in meta["files"].items():
        assert (out / name).stat().st_size == size
    for name in (FP32_FILE, INT8_FILE):
        assert meta["sha256"][name] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    check = meta["check"]
    assert check["passed"] and check["rows"] == 3 and len(set(check["lengths"])) == 3
    assert check["fp32_max_abs_diff"] < 1e-4
    assert 0 < check["int8_max_abs_diff"] < 0.5 and check["int8_argmax_agreement"] >= 2 / 3
    assert meta["onnx"]["exporter"].endswith("dynamo=False)") and meta["onnx"]["inputs"] == [
        "input_ids",
        "attention_mask",
    ]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_onnx_logits_match_torch_on_other_shapes(exported: tuple[Path, Path, dict[str, Any]]) -> None:
    """Batch and sequence axes are dynamic; the last non-pad token is pooled inside the graph."""
    import torch
    from transformers import AutoModelForSequenceClassification

    source, out, _ = exported
    rng = np.random.default_rng(3)
    vocab = len(json.loads((source / "tokenizer.json").read_text())["model"]["vocab"])
    rows = [list(rng.integers(1, vocab, size=n)) for n in (20, 1, 5, 13, 7, 2, 17, 9, 11, 4, 30, 6)]
    ids, mask = _padded(rows)
    model = AutoModelForSequenceClassification.from_pretrained(source).eval()
    with torch.no_grad():
        expected = model(
            input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
        ).logits.numpy()
    fp32 = _onnx_logits(out / FP32_FILE, ids, mask)
    np.testing.assert_allclose(fp32, expected, atol=1e-4, rtol=0)
    int8 = _onnx_logits(out / INT8_FILE, ids, mask)
    assert (int8.argmax(-1) == expected.argmax(-1)).mean() >= 0.75
    assert float(np.abs(int8 - expected).max()) < 1.0


def test_int8_quantizes_every_weight_matmul_and_the_embedding(
    exported: tuple[Path, Path, dict[str, Any]],
) -> None:
    import onnx
    from onnx import TensorProto

    _, out, result = exported
    fp32 = onnx.load(str(out / FP32_FILE)).graph
    int8 = onnx.load(str(out / INT8_FILE)).graph
    fp32_weights = {i.name: i for i in fp32.initializer}
    int8_weights = {i.name: i for i in int8.initializer}
    linear = [n.input[1] for n in fp32.node if n.op_type == "MatMul" and n.input[1] in fp32_weights]
    assert len(linear) == 7 * LAYERS + 1  # q k v o gate up down per layer, + the score head
    quantized = [n for n in int8.node if n.op_type == "MatMulInteger"]
    assert len(quantized) == len(linear)
    assert not [
        n for n in int8.node if n.op_type == "MatMul" and n.input[1] in int8_weights
    ]  # all weights int8
    fp32_bytes = sum(len(fp32_weights[name].raw_data) for name in linear)
    int8_bytes = sum(len(int8_weights[n.input[1]].raw_data) for n in quantized)
    assert all(int8_weights[n.input[1]].data_type == TensorProto.INT8 for n in quantized)
    assert fp32_bytes == 4 * int8_bytes  # 1 byte per weight instead of 4
    embedding = next(i for i in fp32.initializer if i.name.endswith("embed_tokens.weight"))
    assert embedding.name not in int8_weights  # replaced by its 8-bit copy, dequantized after the Gather
    assert sum(1 for n in int8.node if n.op_type == "DequantizeLinear") == 1
    info = result["int8"]
    assert info["weight_type"] == "QInt8" and info["op_types"] == ["MatMul", "Gather"]
    assert info["weight_matmuls_quantized"] == len(linear) and info["embedding_gathers_quantized"] == 1
    assert info["weight_bytes"]["fp32"] > 3.5 * info["weight_bytes"]["int8"]


def test_fp32_only_export_with_max_length_replaces_the_folder(
    exported: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    source, _, _ = exported
    out = tmp_path / "fp32"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    meta = export_classifier_onnx(source, out, int8=False, max_length=16)
    assert meta["max_length"] == 16 and "int8" not in meta and "int8_max_abs_diff" not in meta["check"]
    assert sorted(p.name for p in out.iterdir()) == [
        "maaza.json",
        FP32_FILE,
        "tokenizer.json",
        "tokenizer_config.json",
    ]


def test_a_failed_check_keeps_the_previous_export(
    exported: tuple[Path, Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _, _ = exported
    out = tmp_path / "kept"
    out.mkdir()
    (out / "maaza.json").write_text("{}")
    monkeypatch.setattr(onnx_classifier, "ATOL", -1.0)  # no difference can pass
    with pytest.raises(MaazaError, match="fp32 ONNX logits differ"):
        export_classifier_onnx(source, out, int8=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"] and (out / "maaza.json").read_text() == "{}"


def test_bad_sources_are_clear_errors(exported: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    source, _, _ = exported
    with pytest.raises(MaazaError, match="must not be"):
        export_classifier_onnx(source, source / "onnx")
    with pytest.raises(MaazaError, match="exceeds the model's context"):
        export_classifier_onnx(source, tmp_path / "x", max_length=CONTEXT + 1)
    with pytest.raises(MaazaError, match=r"no config\.json"):
        export_classifier_onnx(tmp_path, tmp_path.parent / "y")
    lm = tmp_path / "lm"
    LlamaForCausalLM(
        LlamaConfig(
            vocab_size=40,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=8,
        )
    ).save_pretrained(lm)
    with pytest.raises(MaazaError, match="not a sequence classifier"):
        export_classifier_onnx(lm, tmp_path / "z")
