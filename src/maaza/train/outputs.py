"""What a training run ships: the peft adapter and a merged model plain transformers can load.

Each folder carries `maaza.json` (base model, task, prompt format, recipe hash), so `maaza eval`
and the Extractor rebuild the exact training prompt without being told.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from maaza.models.loading import METADATA_FILE
from maaza.train.config import TrainConfig


def model_metadata(config: TrainConfig, recipe_hash: str, kind: str) -> dict[str, Any]:
    return {
        "name": config.name,
        "kind": kind,  # "adapter" or "merged"
        "base_model": config.model.base,
        "method": config.model.method,
        "task": config.task,
        "prompt_format": config.data.prompt_format,
        "minify_targets": config.data.minify_targets,
        "max_length": config.data.max_length,
        "training_config_hash": recipe_hash,
        **({"fake_quant": config.model.fake_quant} if config.model.fake_quant else {}),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _publish(staging: Path, target: Path) -> None:
    staging.chmod(0o755)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)


def _write_folder(target: Path, write: Any) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(staging)
        _publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def save_outputs(
    model: Any, tokenizer: Any, config: TrainConfig, out: Path, recipe_hash: str
) -> dict[str, str]:
    """Write `adapter/` (LoRA only) and `merged/`; returns their paths."""
    outputs: dict[str, str] = {}
    is_peft = hasattr(model, "merge_and_unload")

    def write_adapter(folder: Path) -> None:
        model.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
        (folder / METADATA_FILE).write_text(
            json.dumps(model_metadata(config, recipe_hash, "adapter"), indent=2)
        )

    if is_peft:
        outputs["adapter"] = str(_write_folder(out / "adapter", write_adapter))
        merged = model.merge_and_unload()
    else:
        merged = model
    if config.model.fake_quant:  # save the rounded weights: what the 4-bit export holds and training saw
        from maaza.train.fake_quant import bake_fake_quant

        bake_fake_quant(merged)
    merged.config.use_cache = True

    def write_merged(folder: Path) -> None:
        merged.save_pretrained(str(folder), safe_serialization=True)
        tokenizer.save_pretrained(str(folder))
        (folder / METADATA_FILE).write_text(
            json.dumps(model_metadata(config, recipe_hash, "merged"), indent=2)
        )

    outputs["merged"] = str(_write_folder(out / "merged", write_merged))
    return outputs
