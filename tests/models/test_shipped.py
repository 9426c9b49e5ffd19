"""Shipped models: the committed default of each task is on disk, described, and what the APIs load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maaza.errors import MaazaError
from maaza.models import shipped
from maaza.models.loading import read_model_metadata


def test_every_shipped_model_is_committed_with_its_metadata() -> None:
    models = shipped.shipped_models()
    assert "mlm-135m-json" in models
    for model in models.values():
        assert model.path.exists(), model.path
        metadata = read_model_metadata(model.path if model.path.is_dir() else model.path.parent)
        assert metadata["task"] == model.task  # the artifact's own maaza.json agrees with the list
        assert (Path(__file__).resolve().parents[2] / model.results).is_file(), model.results  # numbers exist
    assert shipped.shipped_for_task("edgejson").is_adapter


def test_shipped_list_errors_name_the_file_and_the_model(tmp_path: Path) -> None:
    listing = tmp_path / "shipped.json"
    listing.write_text('{"m": {"task": "edgejson"}}', encoding="utf-8")
    with pytest.raises(MaazaError, match=r"shipped\.json: model 'm' lacks path, backend, summary, results"):
        shipped.shipped_models(listing)
    listing.write_text("{", encoding="utf-8")
    with pytest.raises(MaazaError, match=r"shipped\.json:1: invalid JSON"):
        shipped.shipped_models(listing)
    entry = {"task": "edgejson", "path": "gone", "backend": "hf", "summary": "s", "results": "r"}
    listing.write_text(json.dumps({"m": entry}), encoding="utf-8")
    with pytest.raises(MaazaError, match=r"shipped model 'm' is missing at .*gone"):
        shipped.shipped_for_task("edgejson", listing)
    with pytest.raises(MaazaError, match="no shipped model for task 'intent'"):
        shipped.shipped_for_task("intent", listing)


def test_extractor_without_a_model_loads_the_shipped_one(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maaza.extract import Extractor

    listing = tmp_path / "shipped.json"
    entry = {"task": "edgejson", "path": str(tiny_model_dir), "backend": "hf", "summary": "s", "results": "r"}
    listing.write_text(json.dumps({"tiny": entry}), encoding="utf-8")
    monkeypatch.setattr(shipped, "SHIPPED_FILE", listing)
    extractor = Extractor.load(max_new_tokens=8)
    assert extractor.backend == "hf"
    assert Path(extractor.describe()["path"]).resolve() == Path(tiny_model_dir).resolve()
