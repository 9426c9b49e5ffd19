"""`maaza bench speed`: target parsing, export discovery, and a real measurement on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maaza.errors import MaazaError
from maaza.eval.speed import Target, format_table, parse_target, run_targets, targets_from_exports


def test_parse_target_forms() -> None:
    assert parse_target("hf") == Target("hf")
    assert parse_target("hf-bfloat16") == Target("hf", dtype="bfloat16")
    assert parse_target("hf=base@runs/a") == Target("hf", "base", "runs/a")
    assert parse_target("llamacpp=out/m-q4_0.gguf") == Target("llamacpp", "out/m-q4_0.gguf")
    assert parse_target("llamacpp-draft0=b.gguf@l.gguf") == Target("llamacpp", "b.gguf", "l.gguf", draft=0)
    assert parse_target("llamacpp-draft0=b.gguf").label == "llamacpp:b.gguf draft=0"
    with pytest.raises(MaazaError, match="llamacpp-draftN"):
        parse_target("llamacpp-draftx=b.gguf")
    with pytest.raises(MaazaError, match="unknown backend 'tensorrt'"):
        parse_target("tensorrt=x")


def test_targets_from_exports_reads_sizes_json(tmp_path: Path) -> None:
    (tmp_path / "merged").mkdir()
    (tmp_path / "m-q4_0.gguf").write_bytes(b"GGUF")
    (tmp_path / "m-onnx-int4").mkdir()
    (tmp_path / "m-lora-f16.gguf").write_bytes(b"GGUF")
    formats = {"merged": {"path": "merged"}, "gguf-q4_0": {"path": "m-q4_0.gguf"},
               "onnx-int4": {"path": "m-onnx-int4"}, "gguf-f16": {"path": "gone.gguf"},
               "gguf-lora": {"path": "m-lora-f16.gguf", "base": "smollm2-135m"}}
    (tmp_path / "sizes.json").write_text(json.dumps({"formats": formats}))
    found = {(t.backend, Path(t.model).name, t.adapter and Path(t.adapter).name)
             for t in targets_from_exports(tmp_path)}
    assert found == {("hf", "merged", None), ("llamacpp", "m-q4_0.gguf", None), ("onnx", "m-onnx-int4", None),
                     ("llamacpp", "smollm2-135m", "m-lora-f16.gguf")}  # the adapter runs on its base
    with pytest.raises(MaazaError, match=r"sizes\.json not found"):
        targets_from_exports(tmp_path / "merged")


def test_measures_a_tiny_model_in_a_subprocess(tiny_model_dir: Path) -> None:
    results = run_targets([Target("hf", str(tiny_model_dir)), Target("hf", str(tiny_model_dir / "nope"))],
                          prompts=2, max_new_tokens=8)
    ok, failed = results
    assert ok["rows"] == 2 and ok["new_tokens_total"] > 0
    assert ok["decode_tokens_per_s"] > 0 and ok["decode_ratio_vs_hf_fp32"] == 1.0
    assert 150 <= ok["prompt_tokens_mean"] <= 260  # prompts chosen closest to 200 tokens
    assert 0 < ok["peak_rss_mb"] < 4000 and ok["file_size_bytes"] > 0
    assert "error" in failed and "nope" in failed["error"]
    table = format_table(results)
    assert "| hf:" in table and "failed:" in table
