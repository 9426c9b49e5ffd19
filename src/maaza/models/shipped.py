"""The models Maaza ships: the file a user should run for each task, committed under benchmarks/artifacts/.

`benchmarks/artifacts/shipped.json` names, per model, its task, the artifact (an adapter folder, a GGUF file
or an ONNX folder, each with its `maaza.json`), the backend that runs it and where its numbers come from. A
better file replaces the entry only once it is measured. `Extractor.load()` with no model named, and
`maaza extract` without `--model`, load the shipped model of their task; `maaza models list` shows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from maaza.errors import MaazaError
from maaza.paths import repo_root

ARTIFACTS_DIR = repo_root() / "benchmarks" / "artifacts"
SHIPPED_FILE = ARTIFACTS_DIR / "shipped.json"
FIELDS = ("task", "path", "backend", "summary", "results")


@dataclass(frozen=True)
class ShippedModel:
    name: str
    task: str
    path: Path
    backend: str
    summary: str
    results: str
    note: str = ""

    @property
    def is_adapter(self) -> bool:
        return (self.path / "adapter_config.json").is_file()

    def load_arguments(self) -> dict[str, str | None]:
        """`model`/`adapter`/`backend` for `load_backend` (an adapter sits on its saved base model)."""
        if self.is_adapter:
            return {"model": None, "adapter": str(self.path), "backend": self.backend}
        return {"model": str(self.path), "adapter": None, "backend": self.backend}


def shipped_models(path: Path | None = None) -> dict[str, ShippedModel]:
    """Every shipped model by name; an empty dict when the file is absent (an installed wheel has no artifacts)."""
    path = path or SHIPPED_FILE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MaazaError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise MaazaError(f"{path}: expected an object of model name -> entry")
    models: dict[str, ShippedModel] = {}
    for name, entry in raw.items():
        missing = [key for key in FIELDS if not isinstance(entry, dict) or key not in entry]
        if missing:
            raise MaazaError(f"{path}: model '{name}' lacks {', '.join(missing)}")
        models[name] = ShippedModel(name, str(entry["task"]), path.parent / str(entry["path"]), str(entry["backend"]),
                                    str(entry["summary"]), str(entry["results"]), str(entry.get("note", "")))
    return models


def shipped_for_task(task: str, path: Path | None = None) -> ShippedModel:
    """The shipped model of `task`, checked to be on disk; a clear error says how to get one otherwise."""
    path = path or SHIPPED_FILE
    found = [model for model in shipped_models(path).values() if model.task == task]
    if not found:
        raise MaazaError(
            f"no shipped model for task '{task}' ({path} {'lists none' if path.is_file() else 'is missing'}: it comes "
            "with a source checkout); name one with --model/--adapter (e.g. --model smollm2-135m for the base model)"
        )
    model = found[0]
    if not model.path.exists():
        raise MaazaError(f"the shipped model '{model.name}' is missing at {model.path}; restore benchmarks/artifacts "
                         "from the repository (git checkout -- benchmarks/artifacts)")
    return model
