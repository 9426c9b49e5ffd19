"""What ``LlamaCppBackend.describe()`` reports (the keys of ``LoadedModel.describe()``), read from the
loaded llama.cpp model: name, parameter count, precision (the GGUF file type, e.g. "q4_1"), files, threads."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

from maaza import openmp


class DescribeMixin:
    """LlamaCppBackend's model description (the attributes below are set by its __init__)."""

    _lib: Any  # the llama_cpp module
    _model: Any
    path: Path
    bundled: str | None
    metadata: dict[str, Any]
    lora_path: Path | None
    lora_source: str | None
    threads: int
    _info: dict[str, Any]  # `_describe_model()`, read on load

    def _meta(self, key: str) -> str | None:
        buffer = ctypes.create_string_buffer(256)
        size = self._lib.llama_model_meta_val_str(self._model, key.encode("utf-8"), buffer, len(buffer))
        return buffer.value.decode("utf-8", "replace") if size >= 0 else None

    def _precision(self) -> str:
        """The GGUF file type ("q4_1", "q8_0", "f16", ...) from `general.file_type`, else llama.cpp's desc."""
        import gguf

        try:
            kind = gguf.LlamaFileType(int(self._meta("general.file_type") or ""))
        except ValueError:
            desc = ctypes.create_string_buffer(128)
            self._lib.llama_model_desc(self._model, desc, len(desc))
            return desc.value.decode("utf-8", "replace").split()[-1].lower() if desc.value else "unknown"
        return kind.name.removeprefix("MOSTLY_").removeprefix("ALL_").lower()

    def _describe_model(self) -> dict[str, Any]:
        """Everything `describe` reports, read while the model is loaded (describe works after close)."""
        from maaza.models.registry import BUILTIN_MODELS

        spec = BUILTIN_MODELS.get(self.bundled) if self.bundled else None
        name = self.metadata.get("name") or self.bundled or self._meta("general.name") or self.path.stem
        size = self.path.stat().st_size
        return {
            "name": name,
            "base": self.metadata.get("base_model") or self.bundled or name,
            "hub_id": spec.hub_id if spec else None,
            "source": "bundled" if spec else "local",
            "path": str(self.path),
            "params": int(self._lib.llama_model_n_params(self._model)),
            "adapter": self.lora_source,
            "backend": "llamacpp",
            "precision": self._precision() + ("+lora-f16" if self.lora_path else ""),
            "file_size_bytes": size,
            "adapter_size_bytes": self.lora_path.stat().st_size if self.lora_path else None,
            "source_gguf_bytes": size if spec else None,
            "threads": self.threads,
            "openmp_wait_policy": openmp.policy_in_force(),
        }

    def describe(self) -> dict[str, Any]:
        """The keys of `LoadedModel.describe()`; precision is the GGUF file type, e.g. "q4_1"."""
        return dict(self._info)
