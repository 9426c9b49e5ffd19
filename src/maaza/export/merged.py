"""Merge a LoRA adapter into its base model and save a plain transformers folder (atomically)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.models.loading import METADATA_FILE, load_model, read_adapter_config, read_model_metadata


def write_folder_atomically(target: Path, write: Any) -> Path:
    """Run `write(staging_dir)` in a hidden sibling folder, then swap it in place of `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    from maaza.io import remove_stale_temps, temp_prefix

    remove_stale_temps(target.parent, target.name)
    staging = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), dir=target.parent))
    try:
        write(staging)
        staging.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def export_merged(
    adapter_dir: str | Path,
    out_dir: str | Path,
    *,
    base_model: str | None = None,
    dtype: str = "float32",
) -> Path:
    """Merge `adapter_dir` into its base (`base_model`, else the adapter's `maaza.json` base_model).

    `out_dir` gets safetensors weights, config + generation config, the tokenizer (the adapter's when it
    has one) and `maaza.json` (the adapter's metadata with kind "merged" and `merged_from`).
    """
    adapter = Path(adapter_dir)
    read_adapter_config(adapter)  # a clear error for a folder that is not a peft adapter
    metadata = read_model_metadata(adapter)
    if base_model is None and not metadata.get("base_model"):
        raise MaazaError(f"{adapter}: no base model given and none in {METADATA_FILE}; pass --model")
    loaded = load_model(base_model, adapter=str(adapter), dtype=dtype, merge_adapter=True)
    model = loaded.model
    model.config.use_cache = True
    info = {
        **metadata,
        "kind": "merged",
        "base_model": base_model or metadata.get("base_model"),
        "merged_from": str(adapter),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 - py3.10
    }

    def write(folder: Path) -> None:
        model.save_pretrained(str(folder), safe_serialization=True)
        loaded.tokenizer.save_pretrained(str(folder))
        (folder / METADATA_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")

    return write_folder_atomically(Path(out_dir), write)


def folder_bytes(folder: str | Path) -> int:
    """Total size of the files in a folder (recursive)."""
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
