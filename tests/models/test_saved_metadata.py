"""Which maaza.json an evaluation reads its prompt format from, for every way a model is passed."""

from __future__ import annotations

import json
from pathlib import Path

from maaza.models.loading import saved_model_metadata


def _write(folder: Path, **info: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "maaza.json").write_text(json.dumps(info), encoding="utf-8")


def test_adapter_metadata_wins(tmp_path: Path) -> None:
    _write(tmp_path / "adapter", prompt_format="schema-chat")
    _write(tmp_path / "model", prompt_format="seed")
    assert saved_model_metadata(str(tmp_path / "model"), str(tmp_path / "adapter"))["prompt_format"] == "schema-chat"


def test_model_folder_and_export_layouts(tmp_path: Path) -> None:
    export = tmp_path / "export"
    _write(export / "merged", prompt_format="schema-chat", kind="merged")
    gguf = export / "m-q4_0.gguf"
    gguf.write_bytes(b"GGUF")
    onnx = export / "m-onnx-int4"
    onnx.mkdir()
    assert saved_model_metadata(str(export / "merged"), None)["kind"] == "merged"
    assert saved_model_metadata(str(gguf), None)["prompt_format"] == "schema-chat"  # merged/ beside the file
    assert saved_model_metadata(str(onnx), None)["prompt_format"] == "schema-chat"  # merged/ beside the folder
    _write(onnx, prompt_format="schema")
    assert saved_model_metadata(str(onnx), None)["prompt_format"] == "schema"  # its own maaza.json first


def test_names_and_missing_paths_have_no_metadata(tmp_path: Path) -> None:
    assert saved_model_metadata("smollm2-135m", None) == {}
    assert saved_model_metadata(str(tmp_path / "missing.gguf"), None) == {}
    assert saved_model_metadata(None, None) == {}
