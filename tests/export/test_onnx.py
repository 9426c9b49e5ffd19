"""ONNX Runtime GenAI export of the tiny random Llama (SmolLM2 tokenizer): files, sizes, round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from export_helpers import run_export

from maaza.errors import MaazaError
from maaza.export.onnx_export import export_onnx, load_genai_model, model_files_bytes, verify_onnx

pytest.importorskip("onnxruntime_genai")


@pytest.fixture(scope="module")
def exported(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any], int]:
    """`maaza export --formats onnx-fp32 onnx-int4` of the tiny model, with round-trip checks."""
    out = tmp_path_factory.mktemp("onnx-export")
    code = run_export(
        [
            "--model",
            str(tiny_model_dir),
            "--out",
            str(out),
            "--name",
            "tiny",
            "--formats",
            "onnx-fp32",
            "onnx-int4",
        ]
    )
    return out, json.loads((out / "sizes.json").read_text()), code


def test_fp32_round_trip_is_exact(exported: tuple[Path, dict[str, Any], int], tiny_model_params: int) -> None:
    out, sizes, code = exported
    assert code == 0
    assert sizes["last_run"] == ["onnx-fp32", "onnx-int4"]
    fp32 = sizes["formats"]["onnx-fp32"]
    folder = out / "tiny-onnx-fp32"
    assert fp32["path"] == "tiny-onnx-fp32" and fp32["precision"] == "fp32"
    assert fp32["bytes"] == model_files_bytes(folder) < fp32["folder_bytes"]
    check = fp32["check"]
    assert check["passed"] and check["exact_required"] and check["greedy_tokens_equal"]
    assert check["greedy_prefix_tokens"] == check["new_tokens"] == 16
    assert check["top1_agreement"] == 1.0 and check["max_abs_logit_diff"] < 1e-3
    assert check["tokenizer_ids_equal"] is True  # ORT GenAI's own tokenizer reads the copied files
    for name in (
        "genai_config.json",
        "model.onnx",
        "model.onnx.data",
        "tokenizer.json",
        "tokenizer_config.json",
        "maaza.json",
    ):
        assert (folder / name).is_file(), name
    metadata = json.loads((folder / "maaza.json").read_text())
    assert metadata["name"] == "tiny" and metadata["onnx"]["precision"] == "fp32"
    assert metadata["onnx"]["params"] == tiny_model_params
    assert fp32["ops"]["GroupQueryAttention"] == 2 and "MatMulNBits" not in fp32["ops"]
    assert sizes["source"]["safetensors_bytes"] == pytest.approx(fp32["bytes"], rel=0.05)
    # no staging folders left behind (`.sizes.json.prev` is the previous summary, kept on purpose)
    assert not [p for p in out.iterdir() if p.name.startswith(".") and not p.name.endswith(".prev")]


def test_int4_is_smaller_and_reports_agreement(exported: tuple[Path, dict[str, Any], int]) -> None:
    out, sizes, _ = exported
    fp32, int4 = sizes["formats"]["onnx-fp32"], sizes["formats"]["onnx-int4"]
    assert int4["path"] == "tiny-onnx-int4" and int4["bytes"] == model_files_bytes(out / "tiny-onnx-int4")
    assert int4["bytes"] < fp32["bytes"] / 4
    # 2 layers x (qkv, o, gate, up, down) + the LM head, 4-bit blocks of 32; the tied embedding reads the head.
    assert int4["ops"]["MatMulNBits"] == 11 and int4["ops"]["GatherBlockQuantized"] == 1
    assert int4["block_size"] == 32 and int4["accuracy_level"] == 4
    check = int4["check"]
    assert check["passed"] and not check["exact_required"]  # loads and generates; agreement reported
    assert 0 <= check["greedy_prefix_tokens"] <= 16 and 0.0 <= check["top1_agreement"] <= 1.0
    assert check["positions"] > 16


def test_int8_shares_the_quantized_embedding(tiny_model_dir: Path, tmp_path: Path) -> None:
    import onnx

    info = export_onnx(tiny_model_dir, tmp_path / "int8", "int8")
    assert info.tied_embedding_rewired and info.ops["GatherBlockQuantized"] == 1
    graph = onnx.load(str(tmp_path / "int8" / "model.onnx"), load_external_data=False).graph
    assert "model.embed_tokens.weight" not in {init.name for init in graph.initializer}  # no fp32 table
    bits = {
        attr.name: attr.i
        for node in graph.node
        if node.op_type == "GatherBlockQuantized"
        for attr in node.attribute
    }
    assert bits["bits"] == 8 and bits["block_size"] == 32
    assert info.bytes < 4 * 1024 * 1024  # fp32 is ~13 MB (the 49152 x 64 vocabulary matrix dominates)
    check = verify_onnx(info.path, tiny_model_dir, new_tokens=8)
    assert check["passed"] and check["top1_agreement"] >= 0.9 and check["max_abs_logit_diff"] < 0.1


def test_export_errors(tiny_model_dir: Path, tmp_path: Path, hide_module: Any) -> None:
    with pytest.raises(MaazaError, match="unknown ONNX precision"):
        export_onnx(tiny_model_dir, tmp_path / "x", "fp16")
    with pytest.raises(MaazaError, match=r"no config\.json"):
        export_onnx(tmp_path, tmp_path / "x", "fp32")
    with pytest.raises(MaazaError, match="not an ONNX Runtime GenAI folder"):
        load_genai_model(tmp_path)
    hide_module("onnxruntime_genai")
    with pytest.raises(MaazaError, match="onnxruntime-genai"):
        export_onnx(tiny_model_dir, tmp_path / "x", "int4")
    assert not (tmp_path / "x").exists()
