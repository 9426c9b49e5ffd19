"""What `maaza serve --model` names, loaded once: generative models (chat, extraction, tools), classifiers, filters.

`--model NAME=SOURCE` (or just `SOURCE`, named after it). SOURCE is a shipped model's name (`maaza models list`:
its artifact, task and backend), a bundled base model (`smollm2-135m`, `gemma3-270m`: chat and zero-shot
extraction), a folder (its `maaza.json` says the task: `intent` loads a `Classifier`, `filter` a `Filter`, any
other a generative model; an adapter folder sits on its saved base), a `.gguf` file (llama.cpp) or a hub id.
Only these names are ever loaded: a request picks a model by its served name, never by a path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError

CHAT, EXTRACT, TOOLS, CLASSIFY, FILTER = "chat", "extract", "tools", "classify", "filter"


@dataclass
class ModelSpec:
    """One `--model` argument: the served name and what to load."""

    name: str
    source: str
    backend: str | None = None
    adapter: str | None = None

    @classmethod
    def parse(cls, text: str, *, backend: str | None = None, adapter: str | None = None) -> ModelSpec:
        name, sep, source = text.partition("=")
        if not sep:
            source = text
            name = Path(text).stem if ("/" in text or text.endswith(".gguf")) else text
        name, source = name.strip(), source.strip()
        if not name or not source:
            raise MaazaError(f"--model {text!r}: expected NAME=SOURCE or SOURCE")
        if not all(ch.isalnum() or ch in "-_.:" for ch in name):
            raise MaazaError(f"--model {text!r}: a served name may hold letters, digits and - _ . : only")
        return cls(name, source, backend, adapter)


@dataclass
class ServedModel:
    """A loaded model and what it can answer (`capabilities`)."""

    name: str
    task: str | None
    backend: str
    source: str
    capabilities: tuple[str, ...]
    runtime: Any = None  # maaza.decoding.backends.Backend (generative models)
    extractor: Any = None  # maaza.extract.Extractor on `runtime`
    caller: Any = None  # maaza.call.FunctionCaller on `runtime`
    classifier: Any = None  # maaza.classify.Classifier
    filter: Any = None  # maaza.filter.Filter
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def batched(self) -> bool:
        """True when concurrent requests can be decoded together (the hf backend)."""
        return bool(getattr(self.runtime, "batched", False))

    def close(self) -> None:
        if self.runtime is not None:
            self.runtime.close()


def _folder_task(path: Path) -> str | None:
    from maaza.models.loading import read_model_metadata

    return read_model_metadata(path).get("task") if path.is_dir() else None


def load_served_model(spec: ModelSpec) -> ServedModel:
    """Load what `spec` names; errors name the `--model` argument."""
    from maaza.models.shipped import shipped_models

    try:
        shipped = shipped_models().get(spec.source)
        if shipped is not None:
            if not shipped.path.exists():
                raise MaazaError(f"the shipped model '{shipped.name}' is missing at {shipped.path}")
            arguments = shipped.load_arguments()
            return _load(spec.name, shipped.task, arguments["model"], arguments["adapter"],
                         spec.backend or shipped.backend, spec.source)
        path = Path(spec.source).expanduser()
        if spec.adapter is not None:
            return _load(spec.name, _folder_task(Path(spec.adapter)), spec.source, spec.adapter, spec.backend or "hf",
                         spec.source)
        if path.is_dir() and (path / "adapter_config.json").is_file():
            return _load(spec.name, _folder_task(path), None, str(path), spec.backend or "hf", spec.source)
        if path.suffix == ".gguf":
            return _load(spec.name, None, str(path), None, spec.backend or "llamacpp", spec.source)
        return _load(spec.name, _folder_task(path), spec.source, None, spec.backend or "hf", spec.source)
    except MaazaError as exc:
        raise MaazaError(f"--model {spec.name}={spec.source}: {exc}") from None


def _load(name: str, task: str | None, model: str | None, adapter: str | None, backend: str,
          source: str) -> ServedModel:
    if task == "intent":
        from maaza.classify import Classifier

        classifier = Classifier.load(model or adapter)
        return ServedModel(name, task, classifier.runtime, source, (CLASSIFY,), classifier=classifier)
    if task == "filter":
        from maaza.filter import Filter

        return ServedModel(name, task, "onnx", source, (FILTER,), filter=Filter.load(model))
    from maaza.call import FunctionCaller
    from maaza.extract import Extractor, check_backend, load_task_runtime

    check_backend(backend)
    task_name = "funccall" if task == "funccall" else "edgejson"
    runtime, prompt_format = load_task_runtime(task_name, backend, model, adapter, None, "float32")
    if task is None and runtime.metadata.get("task") == "funccall":  # a GGUF says its task only once loaded
        from maaza.tasks import get_task
        from maaza.tasks.base import choose_prompt_format

        task = "funccall"
        prompt_format = choose_prompt_format(None, runtime.metadata, get_task(task), runtime.tokenizer)
    task = task or runtime.metadata.get("task")
    served = ServedModel(name, task, backend, source, (CHAT,), runtime=runtime)
    if task == "funccall":
        served.caller = FunctionCaller(runtime, backend, prompt_format)
        served.capabilities = (CHAT, TOOLS)
    else:  # an extraction model, or a base model (zero-shot extraction with the schema in the prompt)
        served.extractor = Extractor(runtime, backend, prompt_format)
        served.capabilities = (CHAT, EXTRACT)
    return served


def default_specs() -> list[ModelSpec]:
    """Every shipped model (`maaza models list`), served under its own name."""
    from maaza.models.shipped import shipped_models

    models = shipped_models()
    if not models:
        raise MaazaError("no shipped models here (benchmarks/artifacts comes with a source checkout); name models "
                         "with --model NAME=SOURCE, e.g. --model smollm2-135m")
    return [ModelSpec(name, name) for name in models]
