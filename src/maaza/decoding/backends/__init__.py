"""Inference backends behind one interface: `load_backend("hf" | "llamacpp" | "onnx", ...)`.

- `hf`: transformers (any model folder, bundled name or hub id, optional LoRA adapter).
- `llamacpp`: a GGUF file through llama-cpp-python (optional extra, built from source).
- `onnx`: an ONNX Runtime GenAI folder written by `maaza export --formats onnx-int4|onnx-int8`.
"""

from __future__ import annotations

import importlib
from typing import Any

from maaza.decoding.backends.base import Backend, BackendBatch, ConstraintStats, TokenCallback
from maaza.errors import MaazaError

__all__ = ["BACKENDS", "Backend", "BackendBatch", "ConstraintStats", "TokenCallback", "load_backend"]

# name -> (module, class); each class has `load(model, adapter=None, dtype="float32") -> Backend`.
BACKENDS: dict[str, tuple[str, str]] = {
    "hf": ("maaza.decoding.backends.hf", "HFBackend"),
    "llamacpp": ("maaza.decoding.backends.llamacpp", "LlamaCppBackend"),
    "onnx": ("maaza.decoding.backends.onnx", "OnnxBackend"),
}


def load_backend(
    name: str, model: str | None = None, *, adapter: str | None = None, dtype: str = "float32", **options: Any
) -> Backend:
    """Load `model` (+ `adapter` where the backend supports one) behind backend `name`."""
    if name not in BACKENDS:
        raise MaazaError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[name]
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class.load(model, adapter=adapter, dtype=dtype, **options)
