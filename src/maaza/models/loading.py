"""Load a causal LM (+ optional peft adapter) and its tokenizer for generation or training."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.models.registry import DEFAULT_MODEL, ResolvedModel, resolve_model
from maaza.openmp import policy_in_force

METADATA_FILE = "maaza.json"
DTYPES = ("float32", "bfloat16", "float16")


def read_model_metadata(folder: str | Path | None) -> dict[str, Any]:
    """The `maaza.json` a trained adapter/merged/exported folder carries (empty dict if none)."""
    if folder is None:
        return {}
    path = Path(folder) / METADATA_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MaazaError(f"{path}:{exc.lineno}: invalid JSON in model metadata: {exc.msg}") from None


def saved_model_metadata(model: str | None, adapter: str | None) -> dict[str, Any]:
    """The maaza.json of the adapter, else of the model folder, else of the export folder around a model
    file (a GGUF or ONNX export of `maaza export --adapter` lands beside the `merged/` folder it came from)."""
    if adapter:
        if Path(adapter).is_dir() or not Path(adapter).is_file():
            return read_model_metadata(adapter)
        model = adapter  # an adapter file (a LoRA GGUF): look around it as around a model file
    if not model:
        return {}
    path = Path(model)
    folder = path if path.is_dir() else path.parent if path.is_file() else None
    if folder is None:
        return {}
    # the folder itself, the export folder holding it, or the `merged/` model exported beside it
    for candidate in (folder, folder.parent, folder / "merged", folder.parent / "merged"):
        if found := read_model_metadata(candidate):
            return found
    return {}


def read_adapter_config(folder: str | Path) -> dict[str, Any]:
    """The `adapter_config.json` of a peft adapter folder; a clear error when it is missing or not JSON."""
    path = Path(folder) / "adapter_config.json"
    if not path.is_file():
        raise MaazaError(f"{folder} is not a peft adapter folder (no adapter_config.json)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MaazaError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None


@dataclass
class LoadedModel:
    """A ready-to-run model with what results JSONs need to describe it."""

    model: Any
    tokenizer: Any
    resolved: ResolvedModel
    adapter: str | None
    dtype: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        """Width of the logits (may exceed len(tokenizer))."""
        return int(self.model.get_output_embeddings().weight.shape[0])

    def describe(self) -> dict[str, Any]:
        params = sum(p.numel() for p in self.model.parameters())
        folder = Path(self.resolved.path)
        weight_bytes = (
            sum(f.stat().st_size for f in folder.glob("*.safetensors")) if folder.is_dir() else None
        )
        adapter_bytes = None
        if self.adapter:
            adapter_bytes = sum(f.stat().st_size for f in Path(self.adapter).glob("*.safetensors"))
        source = read_source(folder)
        return {
            "name": self.metadata.get("name") or self.resolved.name,
            "base": self.metadata.get("base_model") or self.resolved.name,
            "hub_id": self.resolved.hub_id,
            "source": self.resolved.source,
            "path": self.resolved.path,
            "params": params,
            "adapter": self.adapter,
            "backend": "transformers",
            "precision": self.dtype,
            "file_size_bytes": weight_bytes,
            "adapter_size_bytes": adapter_bytes,
            "source_gguf_bytes": source.get("gguf_bytes"),
            "threads": _torch_threads(),
            "openmp_wait_policy": policy_in_force(),  # torch's CPU kernels run on OpenMP too
        }


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def read_source(folder: Path) -> dict[str, Any]:
    path = folder / "maaza_source.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _torch_dtype(name: str) -> Any:
    import torch

    if name not in DTYPES:
        raise MaazaError(f"unknown dtype '{name}'; choose one of {', '.join(DTYPES)}")
    return getattr(torch, name)


def load_tokenizer(path: str, *, padding_side: str = "left") -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except OSError as exc:
        raise MaazaError(f"cannot load tokenizer from '{path}': {first_line(exc)}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = padding_side
    return tokenizer


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_model(
    name_or_path: str | None = None,
    *,
    adapter: str | None = None,
    dtype: str = "float32",
    merge_adapter: bool = False,
) -> LoadedModel:
    """Load base model (bundled name, folder or hub id) and optionally a peft LoRA adapter on top.

    With only `adapter` given, the base model named in the adapter's `maaza.json` is used.
    """
    from transformers import AutoModelForCausalLM

    metadata = read_model_metadata(adapter) or {}
    if name_or_path is None:
        name_or_path = metadata.get("base_model") or DEFAULT_MODEL
    resolved = resolve_model(name_or_path)
    if not metadata:
        metadata = read_model_metadata(resolved.path if resolved.source != "hub" else None)
    try:
        model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=_torch_dtype(dtype))
    except ValueError as exc:  # e.g. a folder that needs its own code (trust_remote_code is never set)
        raise MaazaError(f"cannot load model '{name_or_path}': {first_line(exc)}") from None
    except OSError as exc:
        hint = (
            " (no network? hub ids need one; use a bundled name or a local folder)"
            if resolved.source == "hub"
            else ""
        )
        raise MaazaError(f"cannot load model '{name_or_path}'{hint}: {first_line(exc)}") from None
    tokenizer_source = (
        adapter if adapter and (Path(adapter) / "tokenizer_config.json").is_file() else resolved.path
    )
    tokenizer = load_tokenizer(tokenizer_source)
    if adapter:
        model = attach_adapter(model, adapter, merge=merge_adapter)
    model.eval()
    return LoadedModel(model, tokenizer, resolved, adapter, dtype, metadata)


def attach_adapter(model: Any, adapter: str, *, merge: bool) -> Any:
    from peft import PeftModel

    from maaza.models.registry import check_weight_files

    folder = Path(adapter)
    read_adapter_config(folder)  # a clear error for a folder that is not a peft adapter
    check_weight_files(folder)  # adapter_model.bin only: refused unless allowed
    peft_model = PeftModel.from_pretrained(model, str(folder))
    return peft_model.merge_and_unload() if merge else peft_model
