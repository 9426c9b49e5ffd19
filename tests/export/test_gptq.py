"""GPTQ into llama.cpp's Q4_0 and IQ4_NL blocks: the algorithm on known matrices, the packed bytes, and the export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from export_helpers import run_export

from maaza.errors import MaazaError
from maaza.export.gguf_export import export_gguf, permute_qk
from maaza.export.gptq import (
    GPTQSettings,
    gptq_from_folder,
    gptq_quantize,
    output_error,
    rtn_blocks,
    rtn_dequantized,
    rtn_q4_0,
)


def _layer(seed: int = 0, rows: int = 48, cols: int = 128) -> tuple[Any, Any]:
    """A weight and the Hessian of correlated inputs (as real activations are: a few strong directions)."""
    import torch

    rng = np.random.default_rng(seed)
    weight = torch.from_numpy(rng.standard_normal((rows, cols)).astype(np.float32) * 0.05)
    mixing = rng.standard_normal((16, cols)) + 0.1 * rng.standard_normal((cols, cols))[:16]
    inputs = rng.standard_normal((2048, 16)) @ mixing + 0.05 * rng.standard_normal((2048, cols))
    hessian = torch.from_numpy(inputs.T @ inputs / len(inputs))
    return weight, hessian


def gptq_export(model_dir: Path, fixture: Any, out: Path, fmt: str, *extra: str) -> dict[str, Any]:
    """`maaza export --formats FMT` of the tiny model, calibrated on 3 fixture rows; its sizes.json entry."""
    argv = ["--model", str(model_dir), "--out", str(out), "--name", "tiny", "--formats", fmt,
            "--calibration", str(fixture.rows), "--calibration-schemas", str(fixture.schemas),
            "--calibration-rows", "3", *extra]
    assert run_export(argv) == 0
    return json.loads((out / "sizes.json").read_text())["formats"][fmt]


def fixture_settings(fixture: Any) -> GPTQSettings:
    """The calibration `gptq_export` uses, for calling gptq_from_folder directly."""
    return GPTQSettings(str(fixture.rows), str(fixture.schemas), 3)


def test_gptq_output_error_is_far_below_round_to_nearest() -> None:
    import gguf

    weight, hessian = _layer()
    blocks = gptq_quantize(weight, hessian)
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
    in_order = output_error(weight, hessian, gptq_quantize(weight, hessian, act_order=False).dequantize())
    assert rtn_error > in_order > 1.2 * gptq_error, (rtn_error, in_order, gptq_error)


def test_identity_hessian_makes_gptq_round_to_nearest() -> None:
    """No correlation between inputs: no error to push anywhere, so GPTQ picks gguf's RTN codes."""
    import gguf
    import torch

    weight, _ = _layer(seed=1)
    blocks = gptq_quantize(weight, torch.eye(128, dtype=torch.float64), damp=1e-6)
    rtn_bytes = gguf.quants.quantize(weight.numpy(), gguf.GGMLQuantizationType.Q4_0)
    rtn = rtn_q4_0(weight)
    assert np.mean(np.isclose(blocks.dequantize(), rtn, rtol=0, atol=1e-7)) > 0.99
    assert np.array_equal(blocks.pack()[:, :2], rtn_bytes[:, :2])  # first block's fp16 scale: identical


def test_gptq_input_errors() -> None:
    import torch

    with pytest.raises(MaazaError, match="multiple of 32 input columns, got 40"):
        gptq_quantize(torch.zeros(4, 40), torch.eye(40))
    with pytest.raises(MaazaError, match=r"Hessian of shape \(32, 32\) does not match a weight with 64"):
        gptq_quantize(torch.zeros(4, 64), torch.eye(32))
    with pytest.raises(MaazaError, match="--calibration-rows: must be at least 1"):
        GPTQSettings(rows="x.jsonl", n_rows=0).resolve()


def test_gptq_export_writes_the_chosen_blocks_in_llama_cpp_layout(
    tiny_model_dir: Path, edgejson_fixture: Any, tmp_path: Path
) -> None:
    import gguf

    out = tmp_path / "out"
    entry = gptq_export(tiny_model_dir, edgejson_fixture, out, "gguf-q4_0-gptq")
    assert entry["path"] == "tiny-q4_0-gptq.gguf" and entry["tensor_types"] == {"F32": 5, "Q4_0": 15}
    assert entry["check"]["passed"] and entry["check"]["tokenizer_ids_equal"]
    gptq = entry["gptq"]
    assert gptq["calibration"]["rows"] == 3 and gptq["calibration"]["tokens"] > 100
    assert gptq["calibration"]["prompt_format"] == "schema-chat" and gptq["matrices"] == 15 and gptq["act_order"]
    assert not gptq["sequential"]
    assert gptq["relative_output_error"]["gptq"] < gptq["relative_output_error"]["rtn"]

    # the same settings choose the same blocks (seeded rows); the file holds them, q/k rows permuted
    blocks, _ = gptq_from_folder(tiny_model_dir, fixture_settings(edgejson_fixture))
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
    with pytest.raises(MaazaError, match="the GPTQ formats need calibration rows: --calibration"):
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
    entry = gptq_export(tiny_model_dir, edgejson_fixture, out, "gguf-q4_0-gptq", "--gptq-keep-q8_0", "2", "--no-check")
    assert entry["tensor_types"] == {"F32": 5, "Q4_0": 13, "Q8_0": 2}
    gptq = entry["gptq"]
    worst = [item["name"] for item in gptq["matrix_errors"]]
    errors = [item["gptq"] for item in gptq["matrix_errors"]]
    assert len(worst) == 15
    assert errors == sorted(errors, reverse=True) and gptq["kept_q8_0"] == worst[:2] and gptq["matrices"] == 13

    blocks, _ = gptq_from_folder(tiny_model_dir, fixture_settings(edgejson_fixture))
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


def test_iq4_nl_blocks_are_llama_cpp_iq4_nl_and_closer_than_q4_0() -> None:
    """IQ4_NL: gguf's own dequantizer reads the packed bytes back as the chosen weights; round-to-nearest on
    its non-linear grid is closer to the weights than Q4_0's, and GPTQ on it beats its own RTN by far."""
    import gguf

    weight, hessian = _layer(seed=2)
    rtn = rtn_blocks(weight, "iq4_nl")
    assert rtn.kind == "iq4_nl" and rtn.codes.max() <= 15 and rtn.scales.shape == (48, 4)
    read_back = gguf.quants.dequantize(rtn.pack(), gguf.GGMLQuantizationType.IQ4_NL).reshape(48, 128)
    np.testing.assert_array_equal(read_back, rtn.dequantize())
    np.testing.assert_array_equal(rtn.dequantize(), rtn_dequantized(weight, "iq4_nl"))
    values = np.array(gguf.quants.IQ4_NL.kvalues, dtype=np.float32)
    assert set(np.unique(read_back / rtn.scales.astype(np.float32).repeat(32, axis=1))) <= set(values)
    w = weight.numpy()
    assert np.mean((rtn.dequantize() - w) ** 2) < 0.85 * np.mean((rtn_q4_0(weight) - w) ** 2)

    blocks = gptq_quantize(weight, hessian, kind="iq4_nl")
    assert blocks.kind == "iq4_nl"
    read_back = gguf.quants.dequantize(blocks.pack(), gguf.GGMLQuantizationType.IQ4_NL).reshape(48, 128)
    np.testing.assert_array_equal(read_back, blocks.dequantize())
    gptq_error = output_error(weight, hessian, blocks.dequantize())
    assert gptq_error < 0.1 * output_error(weight, hessian, rtn.dequantize())
    assert gptq_error < output_error(weight, hessian, gptq_quantize(weight, hessian).dequantize())
    with pytest.raises(MaazaError, match="unknown 4-bit block type 'q3_k'; choose one of q4_0, iq4_nl"):
        gptq_quantize(weight, hessian, kind="q3_k")


def test_iq4_nl_round_to_nearest_matches_llama_cpp_quantizer(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Our IQ4_NL rounding (the `gguf` package has none) is llama.cpp's own: from the same F16 weights,
    llama_model_quantize to IQ4_NL and `rtn_blocks` give the same bytes but for rare near-ties (we pick codes
    under the stored fp16 scale, llama.cpp under its fp32 one), and `export_gguf(..., "iq4_nl")` writes them."""
    llama_cpp = pytest.importorskip("llama_cpp")
    import ctypes

    import gguf

    f16, ours = tmp_path / "tiny-f16.gguf", tmp_path / "tiny-iq4_nl.gguf"
    export_gguf(tiny_model_dir, f16, "f16", embedding_type="f16")
    export_gguf(tiny_model_dir, ours, "iq4_nl", embedding_type="iq4_nl")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.pure, params.nthread = llama_cpp.LLAMA_FTYPE_MOSTLY_IQ4_NL, True, 1
    theirs = tmp_path / "tiny-iq4_nl-llama.gguf"
    assert llama_cpp.llama_model_quantize(str(f16).encode(), str(theirs).encode(), ctypes.byref(params)) == 0
    source = {t.name: np.asarray(t.data, dtype=np.float32) for t in gguf.GGUFReader(f16).tensors}
    written = {t.name: t for t in gguf.GGUFReader(ours).tensors}
    same = []
    for tensor in gguf.GGUFReader(theirs).tensors:
        if tensor.tensor_type != gguf.GGMLQuantizationType.IQ4_NL:
            continue
        assert written[tensor.name].tensor_type == gguf.GGMLQuantizationType.IQ4_NL
        mine = rtn_blocks(source[tensor.name], "iq4_nl").pack()
        same.append(np.mean(mine == np.asarray(tensor.data)))
    assert len(same) == 15 and min(same) > 0.995, same


def test_iq4_nl_gptq_export_round_trips(tiny_model_dir: Path, edgejson_fixture: Any, tmp_path: Path) -> None:
    import gguf

    out = tmp_path / "out"
    entry = gptq_export(tiny_model_dir, edgejson_fixture, out, "gguf-iq4_nl-gptq")
    assert entry["path"] == "tiny-iq4_nl-gptq.gguf" and entry["tensor_types"] == {"F32": 5, "IQ4_NL": 15}
    assert entry["check"]["passed"] and entry["gptq"]["method"].endswith("IQ4_NL blocks of 32")
    assert entry["gptq"]["relative_output_error"]["gptq"] < entry["gptq"]["relative_output_error"]["rtn"]
    blocks, _ = gptq_from_folder(tiny_model_dir, fixture_settings(edgejson_fixture), kind="iq4_nl")
    stored = {t.name: t for t in gguf.GGUFReader(out / entry["path"]).tensors}
    down = stored["blk.1.ffn_down.weight"]
    values = gguf.quants.dequantize(down.data, down.tensor_type).reshape(down.data.shape[0], -1)
    np.testing.assert_array_equal(values, blocks["model.layers.1.mlp.down_proj.weight"].dequantize())
    reader = gguf.GGUFReader(out / entry["path"])
    file_type = reader.fields["general.file_type"]
    assert int(file_type.parts[file_type.data[0]][0]) == gguf.LlamaFileType.MOSTLY_IQ4_NL
