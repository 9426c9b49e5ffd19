"""GGUF export of the tiny random Llama (SmolLM2 tokenizer): metadata, tensors, transformers round trip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from export_helpers import run_export

from maaza.errors import MaazaError
from maaza.export.gguf_export import export_gguf, guess_tokenizer_pre, permute_qk


@pytest.fixture(scope="module")
def exported(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], int]:
    """`maaza export` of the tiny model to F16 and Q4_0, with round-trip checks (run once per module)."""
    out = tmp_path_factory.mktemp("export")
    code = run_export(["--model", str(tiny_model_dir), "--out", str(out), "--name", "tiny",
                       "--formats", "gguf-f16", "gguf-q4_0", "gguf-q4_0-pure"])
    return out, json.loads((out / "sizes.json").read_text()), code


def test_f16_round_trip_is_exact(exported: tuple[Path, dict[str, Any], int]) -> None:
    out, sizes, code = exported
    assert code == 0
    f16 = sizes["formats"]["gguf-f16"]
    assert f16["path"] == "tiny-f16.gguf" and f16["bytes"] == (out / "tiny-f16.gguf").stat().st_size
    check = f16["check"]
    assert check["passed"] and check["tokenizer_ids_equal"] and check["greedy_tokens_equal"]
    assert check["greedy_prefix_tokens"] == check["new_tokens"] == 16
    assert check["top1_agreement"] == 1.0 and check["max_abs_logit_diff"] < 1e-3
    q4 = sizes["formats"]["gguf-q4_0"]
    assert q4["bytes"] == (out / "tiny-q4_0.gguf").stat().st_size < f16["bytes"]
    assert 0 <= q4["check"]["greedy_prefix_tokens"] <= 16 and 0.0 <= q4["check"]["top1_agreement"] <= 1.0
    assert q4["check"]["tokenizer_checked_in"] == "gguf-f16" and q4["check"]["tokenizer_ids_equal"]
    assert sizes["source"]["safetensors_bytes"] > f16["bytes"]  # fp32 source
    # no temp files left behind (`.sizes.json.prev` is the previous summary, kept on purpose)
    assert not [p for p in out.iterdir() if p.name.startswith(".") and not p.name.endswith(".prev")]


def test_gguf_metadata_and_tensors(exported: tuple[Path, dict[str, Any], int], tiny_model_dir: Path) -> None:
    import gguf

    out, _, _ = exported
    reader = gguf.GGUFReader(out / "tiny-f16.gguf")
    value = {key: field.contents() for key, field in reader.fields.items()
             if key not in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type")}
    expected = {
        "general.architecture": "llama", "general.type": "model", "general.name": "tiny",
        "general.file_type": int(gguf.LlamaFileType.MOSTLY_F16),
        "llama.context_length": 2048, "llama.embedding_length": 64, "llama.block_count": 2,
        "llama.feed_forward_length": 128, "llama.attention.head_count": 4, "llama.attention.head_count_kv": 2,
        "llama.rope.dimension_count": 16, "llama.vocab_size": 49152,
        "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2",
        "tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.eos_token_id": 2, "tokenizer.ggml.padding_token_id": 2,
        "tokenizer.ggml.add_bos_token": False,
    }
    assert {key: value.get(key) for key in expected} == expected
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert value["llama.rope.freq_base"] == pytest.approx(config.get("rope_theta")
                                                          or config["rope_parameters"]["rope_theta"])
    assert value["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(config["rms_norm_eps"])
    assert "<|im_start|>" in value["tokenizer.chat_template"]
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    assert len(tokens) == len(types) == 49152 and tokens[1] == "<|im_start|>" and types[1] == gguf.TokenType.CONTROL
    assert types[100] == gguf.TokenType.NORMAL and len(reader.fields["tokenizer.ggml.merges"].data) > 40000

    kinds = {t.name: t.tensor_type for t in reader.tensors}
    assert "output.weight" not in kinds  # tied embeddings
    assert len(kinds) == 1 + 1 + 2 * 9  # token_embd, output_norm, 9 per block
    assert kinds["token_embd.weight"] == gguf.GGMLQuantizationType.F16
    assert kinds["blk.1.attn_norm.weight"] == kinds["output_norm.weight"] == gguf.GGMLQuantizationType.F32
    q4 = {t.name: t.tensor_type for t in gguf.GGUFReader(out / "tiny-q4_0.gguf").tensors}
    assert q4["token_embd.weight"] == gguf.GGMLQuantizationType.Q8_0
    assert q4["blk.0.ffn_down.weight"] == q4["blk.1.attn_q.weight"] == gguf.GGMLQuantizationType.Q4_0
    assert q4["blk.0.ffn_norm.weight"] == gguf.GGMLQuantizationType.F32


def test_q8_0_tensors_dequantize_to_source(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Independent of transformers' loader: stored q/k rows are llama.cpp's permutation of the source."""
    import gguf
    from safetensors.numpy import load_file

    info = export_gguf(tiny_model_dir, tmp_path / "m.gguf", "q8_0")
    assert info.tensor_types == {"F32": 5, "Q8_0": 15} and info.fallbacks == []
    source = load_file(str(tiny_model_dir / "model.safetensors"))
    stored = {t.name: t for t in gguf.GGUFReader(info.path).tensors}

    def dequantized(name: str) -> np.ndarray:
        tensor = stored[name]
        return gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(tensor.data.shape[0], -1)

    q = source["model.layers.0.self_attn.q_proj.weight"]
    k = source["model.layers.1.self_attn.k_proj.weight"]
    v = source["model.layers.0.self_attn.v_proj.weight"]
    scale = float(np.abs(q).max())
    np.testing.assert_allclose(dequantized("blk.0.attn_q.weight"), permute_qk(q, 4, 4), atol=scale / 100)
    np.testing.assert_allclose(dequantized("blk.1.attn_k.weight"), permute_qk(k, 4, 2), atol=scale / 100)
    np.testing.assert_allclose(dequantized("blk.0.attn_v.weight"), v, atol=scale / 100)
    assert not np.allclose(permute_qk(q, 4, 4), q)


def test_permute_is_undone_by_transformers(tiny_model_dir: Path) -> None:
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    rng = np.random.default_rng(0)
    weights = rng.standard_normal((32, 64)).astype(np.float32)  # 2 kv heads x 16 head dim
    undo = LlamaTensorProcessor()._reverse_permute_weights
    np.testing.assert_array_equal(undo(permute_qk(weights, 4, 2), 4, 2), weights)
    np.testing.assert_array_equal(undo(permute_qk(weights, 2, 2), 2, 2), weights)


def test_tokenizer_pre_guess(tiny_model_dir: Path, tmp_path: Path) -> None:
    assert guess_tokenizer_pre(tiny_model_dir) == "gpt-2"
    folder = tmp_path / "digits"
    folder.mkdir()
    spec = json.loads((tiny_model_dir / "tokenizer.json").read_text())
    spec["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    (folder / "tokenizer.json").write_text(json.dumps(spec))
    assert guess_tokenizer_pre(folder) == "smollm"
    spec["pre_tokenizer"] = {"type": "Metaspace"}
    (folder / "tokenizer.json").write_text(json.dumps(spec))
    with pytest.raises(MaazaError, match="tokenizer_pre"):
        guess_tokenizer_pre(folder)


def test_export_errors(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(MaazaError, match="unknown GGUF type"):
        export_gguf(tiny_model_dir, tmp_path / "x.gguf", "q6_k")
    other = tmp_path / "gpt2"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(MaazaError, match="only Llama-architecture"):
        export_gguf(other, tmp_path / "x.gguf")
    no_weights = tmp_path / "noweights"
    shutil.copytree(tiny_model_dir, no_weights, ignore=shutil.ignore_patterns("*.safetensors"))
    with pytest.raises(MaazaError, match=r"no \*\.safetensors"):
        export_gguf(no_weights, tmp_path / "x.gguf", tokenizer_pre="gpt-2")
    assert not list(tmp_path.glob("*.gguf*"))  # nothing half-written
    with pytest.raises(MaazaError, match="needs --adapter"):
        run_export(["--model", str(tiny_model_dir), "--out", str(tmp_path / "o"), "--formats", "merged"])


def test_pure_q4_0_format_quantizes_the_head_too(exported: tuple[Path, dict[str, Any], int]) -> None:
    """`gguf-q4_0-pure`: the embedding / tied head is Q4_0 like every matrix; plain q4_0 keeps it Q8_0."""
    import gguf

    out, sizes, _ = exported
    pure, q4 = sizes["formats"]["gguf-q4_0-pure"], sizes["formats"]["gguf-q4_0"]
    assert pure["path"] == "tiny-q4_0-pure.gguf" and pure["bytes"] == (out / pure["path"]).stat().st_size
    assert pure["bytes"] < q4["bytes"]
    assert pure["tensor_types"] == {"F32": 5, "Q4_0": 15} and q4["tensor_types"] == {"F32": 5, "Q8_0": 1, "Q4_0": 14}
    kinds = {t.name: t.tensor_type for t in gguf.GGUFReader(out / pure["path"]).tensors}
    assert kinds["token_embd.weight"] == gguf.GGMLQuantizationType.Q4_0
    assert pure["check"]["tokenizer_ids_equal"] and 0.0 <= pure["check"]["top1_agreement"] <= 1.0


def test_embedding_type_override(tiny_model_dir: Path, tmp_path: Path) -> None:
    """`embedding_type` sets the token embedding (= tied output head) alone; the default keeps it Q8_0."""
    import gguf

    info = export_gguf(tiny_model_dir, tmp_path / "pure.gguf", "q4_0", embedding_type="q4_0")
    kinds = {t.name: t.tensor_type for t in gguf.GGUFReader(info.path).tensors}
    assert kinds["token_embd.weight"] == kinds["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.Q4_0
    assert info.tensor_types == {"F32": 5, "Q4_0": 15}
    f16_head = export_gguf(tiny_model_dir, tmp_path / "f16head.gguf", "q8_0", embedding_type="f16")
    assert f16_head.tensor_types == {"F32": 5, "F16": 1, "Q8_0": 14}
    with pytest.raises(MaazaError, match="unknown embedding type 'q3_k'"):
        export_gguf(tiny_model_dir, tmp_path / "x.gguf", "q4_0", embedding_type="q3_k")
