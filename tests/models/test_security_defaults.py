"""Security defaults: weights load from safetensors only (pickle needs an explicit flag), remote code is never
run, and a schema id from a data row never names a file outside the schema folder."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from maaza.errors import MaazaError
from maaza.models.registry import ALLOW_PICKLE_ENV

SRC = Path(__file__).resolve().parents[2] / "src" / "maaza"


@pytest.fixture()
def pickle_model(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """The tiny Llama saved as pytorch_model.bin (a pickle) and no safetensors."""
    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    folder.mkdir()
    torch.save(load_file(tiny_model_dir / "model.safetensors"), folder / "pytorch_model.bin")
    for name in ("config.json", "generation_config.json"):
        shutil.copy(tiny_model_dir / name, folder / name)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
        if (tiny_model_dir / name).is_file():
            shutil.copy(tiny_model_dir / name, folder / name)
    assert (folder / "pytorch_model.bin").is_file() and not list(folder.glob("*.safetensors"))
    return folder


def test_pickle_weights_are_refused_unless_allowed(pickle_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from maaza.models.loading import load_model

    monkeypatch.delenv(ALLOW_PICKLE_ENV, raising=False)
    with pytest.raises(MaazaError, match=r"pickle files \(pytorch_model.bin\).*--allow-pickle"):
        load_model(str(pickle_model))
    monkeypatch.setenv(ALLOW_PICKLE_ENV, "1")
    assert load_model(str(pickle_model)).model is not None


def test_the_cli_flag_allows_pickle(pickle_model: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from maaza.cli import main

    monkeypatch.setenv(ALLOW_PICKLE_ENV, "0")  # restored after the test, though the flag below sets it to 1
    schema = pickle_model / "s.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"a": {"type": "boolean"}}, "required": ["a"]}))
    assert main(["extract", "--model", str(pickle_model), "--schema", str(schema), "--max-new-tokens", "8", "x"]) == 2
    assert "pickle" in capsys.readouterr().err
    status = main(["--allow-pickle", "extract", "--model", str(pickle_model), "--schema", str(schema),
                   "--max-new-tokens", "8", "x"])
    assert status in (0, 1)  # loaded and ran (the random model may fail the text: exit 1, not a refusal)


def test_pickle_adapters_are_refused(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from maaza.models.loading import load_model

    monkeypatch.delenv(ALLOW_PICKLE_ENV, raising=False)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2, "target_modules": ["q_proj"],
                                                             "base_model_name_or_path": str(tiny_model_dir)}))
    (adapter / "adapter_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(MaazaError, match=r"adapter_model\.bin"):
        load_model(str(tiny_model_dir), adapter=str(adapter))


def test_trust_remote_code_is_never_set() -> None:
    """No call in the package passes trust_remote_code (transformers' default, False, never runs a model's code)."""
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "trust_remote_code":
                found.append(f"{path.relative_to(SRC)}:{node.value.lineno}")
            if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "trust_remote_code"
                                                  for k in node.keys):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not found, found


def test_a_model_that_needs_remote_code_is_refused_without_running_it(tmp_path: Path) -> None:
    from maaza.models.loading import load_model

    folder = tmp_path / "remote"
    folder.mkdir()
    marker = tmp_path / "code-ran"
    (folder / "config.json").write_text(json.dumps({
        "model_type": "maaza_remote_probe", "architectures": ["ProbeModel"],
        "auto_map": {"AutoConfig": "probe.ProbeConfig", "AutoModelForCausalLM": "probe.ProbeModel"}}))
    (folder / "probe.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(MaazaError):
        load_model(str(folder))
    assert not marker.exists(), "the model folder's own code was executed"


def test_a_schema_id_never_escapes_the_schema_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from maaza.cli import main

    schemas = tmp_path / "schemas"
    schemas.mkdir()
    schema: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}}
    (schemas / "order.json").write_text(json.dumps(schema))
    (tmp_path / "secret.json").write_text(json.dumps(schema))  # beside the folder: must stay unreachable
    for schema_id in ("../secret", str(tmp_path / "secret"), "/etc/passwd", "order/../../secret"):
        rows = tmp_path / "rows.jsonl"
        rows.write_text(json.dumps({"id": 1, "prompt": "x", "schema_id": schema_id}) + "\n")
        status = main(["extract", "--input", str(rows), "--output", str(tmp_path / "out.jsonl"), "--schemas",
                       str(schemas)])
        assert status == 2
        assert f"no schema named '{schema_id}'" in capsys.readouterr().err
        assert not (tmp_path / "out.jsonl").exists()
