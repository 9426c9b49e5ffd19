"""GPTQ into llama.cpp's Q4_0 blocks: the algorithm on known matrices, the packed bytes, and the export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from export_helpers import run_export

from maaza.errors import MaazaError
from maaza.export.gguf_export import export_gguf, permute_qk
from maaza.export.gptq import GPTQSettings, gptq_from_folder, gptq_q4_0, output_error, rtn_q4_0


def _layer(seed: int = 0, rows: int = 48, cols: int = 128) -> tuple[Any, Any]:
    """A weight and the Hessian of correlated inputs (as real activations are: a few strong directions)."""
    import torch

    rng = np.random.default_rng(seed)
    weight = torch.from_numpy(rng.standard_normal((rows, cols)).astype(np.float32) * 0.05)
    mixing = rng.standard_normal((16, cols)) + 0.1 * rng.standard_normal((cols, cols))[:16]
    inputs = rng.standard_normal((2048, 16)) @ mixing + 0.05 * rng.standard_normal((2048, cols))
    hessian = torch.from_numpy(inputs.T @ inputs / len(inputs))
    return weight, hessian


def test_gptq_output_error_is_far_below_round_to_nearest() -> None:
    import gguf

    weight, hessian = _layer()
    blocks = gptq_q4_0(weight, hessian)
    assert blocks.codes.dtype == np.uint8 and blocks.codes.shape == (48, 128)
    assert blocks.codes.min() >= 0 and blocks.codes.max() <= 15
    assert blocks.scales.dtype == np.float16 and blocks.scales.shape == (48, 4)
    # the packed bytes are ggml's Q4_0: gguf's own dequantizer reads back exactly the chosen weights
    packed = blocks.pack()
    assert packed.shape == (48, 4 * 18)
    read_back = gguf.quants.dequantize(packed, gguf.GGMLQuantizationType.Q4_0).reshape(48, 128)
    np.testing.assert_array_equal(read_back, blocks.dequantize())
    gptq_error = output_error(weight, hessian, blocks.dequantize())
    rtn_error = output_error(weight, hessian, rtn_q4_0(weight))
    assert gptq_error < 0.1 * rtn_error, (gptq_error, rtn_error)
    # act-order (largest activations first, block scales fixed up front) beats the block-by-block order
    in_order = output_error(weight, hessian, gptq_q4_0(weight, hessian, act_order=False).dequantize())
    assert rtn_error > in_order > 1.2 * gptq_error, (rtn_error, in_order, gptq_error)


def test_identity_hessian_makes_gptq_round_to_nearest() -> None:
    """No correlation between inputs: no error to push anywhere, so GPTQ picks gguf's RTN codes."""
    import gguf
    import torch

    weight, _ = _layer(seed=1)
    blocks = gptq_q4_0(weight, torch.eye(128, dtype=torch.float64), damp=1e-6)
    rtn_bytes = gguf.quants.quantize(weight.numpy(), gguf.GGMLQuantizationType.Q4_0)
    rtn = rtn_q4_0(weight)
    assert np.mean(np.isclose(blocks.dequantize(), rtn, rtol=0, atol=1e-7)) > 0.99
    assert np.array_equal(blocks.pack()[:, :2], rtn_bytes[:, :2])  # first block's fp16 scale: identical


def test_gptq_input_errors() -> None:
    import torch

    with pytest.raises(MaazaError, match="multiple of 32 input columns, got 40"):
        gptq_q4_0(torch.zeros(4, 40), torch.eye(40))
    with pytest.raises(MaazaError, match=r"Hessian of shape \(32, 32\) does not match a weight with 64"):
        gptq_q4_0(torch.zeros(4, 64), torch.eye(32))
    with pytest.raises(MaazaError, match="--calibration-rows: must be at least 1"):
        GPTQSettings(rows="x.jsonl", n_rows=0).resolve()


def test_gptq_export_writes_the_chosen_blocks_in_llama_cpp_layout(
    tiny_model_dir: Path, edgejson_fixture: Any, tmp_path: Path
) -> None:
    import gguf

    out = tmp_path / "out"
    argv = ["--model", str(tiny_model_dir), "--out", str(out), "--name", "tiny", "--formats", "gguf-q4_0-gptq",
            "--calibration", str(edgejson_fixture.rows), "--calibration-schemas", str(edgejson_fixture.schemas),
            "--calibration-rows", "3"]
    assert run_export(argv) == 0
    entry = json.loads((out / "sizes.json").read_text())["formats"]["gguf-q4_0-gptq"]
    assert entry["path"] == "tiny-q4_0-gptq.gguf" and entry["tensor_types"] == {"F32": 5, "Q4_0": 15}
    assert entry["check"]["passed"] and entry["check"]["tokenizer_ids_equal"]
    gptq = entry["gptq"]
    assert gptq["calibration"]["rows"] == 3 and gptq["calibration"]["tokens"] > 100
    assert gptq["calibration"]["prompt_format"] == "schema-chat" and gptq["matrices"] == 15 and gptq["act_order"]
    assert not gptq["sequential"]
    assert gptq["relative_output_error"]["gptq"] < gptq["relative_output_error"]["rtn"]

    # the same settings choose the same blocks (seeded rows); the file holds them, q/k rows permuted
    blocks, _ = gptq_from_folder(tiny_model_dir, GPTQSettings(str(edgejson_fixture.rows),
                                                              str(edgejson_fixture.schemas), 3))
    stored = {t.name: t for t in gguf.GGUFReader(out / entry["path"]).tensors}

    def dequantized(name: str) -> np.ndarray:
        tensor = stored[name]
        assert tensor.tensor_type == gguf.GGMLQuantizationType.Q4_0
        return gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(tensor.data.shape[0], -1)

    q = blocks["model.layers.0.self_attn.q_proj.weight"].dequantize()
    k = blocks["model.layers.1.self_attn.k_proj.weight"].dequantize()
    np.testing.assert_array_equal(dequantized("blk.0.attn_q.weight"), permute_qk(q, 4, 4))
    np.testing.assert_array_equal(dequantized("blk.1.attn_k.weight"), permute_qk(k, 4, 2))
    np.testing.assert_array_equal(dequantized("blk.1.ffn_down.weight"),
                                  blocks["model.layers.1.mlp.down_proj.weight"].dequantize())
    np.testing.assert_array_equal(dequantized("token_embd.weight"), blocks["model.embed_tokens.weight"].dequantize())


def test_gptq_export_needs_calibration_rows(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAAZA_DATA_DIR", str(tmp_path / "no-data"))
    base = ["--model", str(tiny_model_dir), "--out", str(tmp_path / "o"), "--formats", "gguf-q4_0-gptq"]
    with pytest.raises(MaazaError, match="gguf-q4_0-gptq needs calibration rows: --calibration"):
        run_export(base)
    with pytest.raises(MaazaError, match=r"--calibration: .*missing\.jsonl is not a file"):
        run_export([*base, "--calibration", str(tmp_path / "missing.jsonl")])
    assert not (tmp_path / "o").exists()


def test_sequential_gptq_starts_like_one_pass_then_sees_quantized_inputs(
    tiny_model_dir: Path, edgejson_fixture: Any
) -> None:
    """Layer 0 reads the same (unquantized) embeddings either way, so both choose the same blocks there;
    from layer 1 on the sequential Hessians come through the quantized layer 0, so the choice changes."""
    rows, schemas = str(edgejson_fixture.rows), str(edgejson_fixture.schemas)
    sequential, summary = gptq_from_folder(tiny_model_dir, GPTQSettings(rows, schemas, 3, sequential=True))
    one_pass, one_pass_summary = gptq_from_folder(tiny_model_dir, GPTQSettings(rows, schemas, 3))
    assert summary["sequential"] and not one_pass_summary["sequential"]
    assert sequential.keys() == one_pass.keys() and len(sequential) == 15
    first = "model.layers.0.self_attn.q_proj.weight"
    np.testing.assert_array_equal(sequential[first].codes, one_pass[first].codes)
    np.testing.assert_array_equal(sequential[first].scales, one_pass[first].scales)
    later = "model.layers.1.mlp.down_proj.weight"
    assert not np.array_equal(sequential[later].codes, one_pass[later].codes)


def test_gptq_keeps_its_worst_matrices_q8_0(tiny_model_dir: Path, edgejson_fixture: Any, tmp_path: Path) -> None:
    """--gptq-keep-q8_0 N: the N matrices with the largest GPTQ output error are written Q8_0 from the merged
    weights (not as blocks), every other one as the same GPTQ blocks as without the option."""
    import gguf

    out = tmp_path / "out"
    argv = ["--model", str(tiny_model_dir), "--out", str(out), "--name", "tiny", "--formats", "gguf-q4_0-gptq",
            "--calibration", str(edgejson_fixture.rows), "--calibration-schemas", str(edgejson_fixture.schemas),
            "--calibration-rows", "3", "--gptq-keep-q8_0", "2", "--no-check"]
    assert run_export(argv) == 0
    entry = json.loads((out / "sizes.json").read_text())["formats"]["gguf-q4_0-gptq"]
    assert entry["tensor_types"] == {"F32": 5, "Q4_0": 13, "Q8_0": 2}
    gptq = entry["gptq"]
    worst = [item["name"] for item in gptq["matrix_errors"]]
    errors = [item["gptq"] for item in gptq["matrix_errors"]]
    assert len(worst) == 15
    assert errors == sorted(errors, reverse=True) and gptq["kept_q8_0"] == worst[:2] and gptq["matrices"] == 13

    blocks, _ = gptq_from_folder(tiny_model_dir, GPTQSettings(str(edgejson_fixture.rows),
                                                              str(edgejson_fixture.schemas), 3))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 2)
    stored = {t.name: t for t in gguf.GGUFReader(out / entry["path"]).tensors}
    for key in blocks:
        tensor = stored[names.get_name(key, try_suffixes=(".weight",))]
        kind = gguf.GGMLQuantizationType.Q8_0 if key in gptq["kept_q8_0"] else gguf.GGMLQuantizationType.Q4_0
        assert tensor.tensor_type == kind, key
        if kind == gguf.GGMLQuantizationType.Q4_0 and "_proj" in key and not key.endswith(("q_proj.weight",
                                                                                             "k_proj.weight")):
            values = gguf.quants.dequantize(tensor.data, kind).reshape(tensor.data.shape[0], -1)
            np.testing.assert_array_equal(values, blocks[key].dequantize())
    with pytest.raises(MaazaError, match="--gptq-keep-q8_0: must be 0 or more"):
        GPTQSettings(rows="x.jsonl", keep_q8_0=-1).resolve()
    bad = tmp_path / "bad.gguf"
    with pytest.raises(MaazaError, match=r"no tensor named model\.nope\.weight to give a type to"):
        export_gguf(tiny_model_dir, bad, "q4_0", type_overrides={"model.nope.weight": "q8_0"})
    with pytest.raises(MaazaError, match=r"unknown type of 'model\.norm\.weight' 'q3_k'"):
        export_gguf(tiny_model_dir, bad, "q4_0", type_overrides={"model.norm.weight": "q3_k"})
    assert not bad.exists() and not list(tmp_path.glob(".bad.gguf.*"))
