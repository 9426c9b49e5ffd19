"""What a training run ships: the peft adapter and a merged model plain transformers can load.

Each folder carries `maaza.json` (base model, task, prompt format, recipe hash), so `maaza eval`
and the Extractor rebuild the exact training prompt without being told. A sequence classifier's folders
hold `AutoModelForSequenceClassification` weights (labels in config.json's id2label) and its maaza.json
adds `model_kind` and `labels`; a model not started from the base's weights records `init` (and its
`architecture` or `teacher_layers`), a mixture its `tasks`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from maaza.models.loading import METADATA_FILE
from maaza.train.config import TrainConfig


def model_metadata(
    config: TrainConfig, recipe_hash: str, kind: str, start: dict[str, Any] | None = None
) -> dict[str, Any]:
    """maaza.json: today's keys, plus the slots' choices where they differ from the defaults."""
    from maaza.train.models import task_labels

    slots: dict[str, Any] = {}
    if config.model.kind != "causal_lm":
        slots.update(model_kind=config.model.kind, labels=list(task_labels(config)))
    if start:
        slots.update(start)
    if config.model.init == "config" and config.model.architecture is not None:
        slots["architecture"] = dataclasses.asdict(config.model.architecture)
    if config.train.loss != "completion_ce":
        slots["loss"] = config.train.loss
    if config.data.mixture is not None:
        slots["tasks"] = [
            {
                "task": e.task,
                "prompt_format": e.prompt_format or config.data.prompt_format,
                "weight": e.weight,
                "loss_weight": e.loss_weight,
            }
            for e in config.data.mixture
        ]
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
        **slots,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _publish(staging: Path, target: Path) -> None:
    staging.chmod(0o755)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)


def _write_folder(target: Path, write: Any) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    from maaza.io import remove_stale_temps, temp_prefix

    remove_stale_temps(target.parent, target.name)
    staging = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), dir=target.parent))
    try:
        write(staging)
        _publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def sort_target_modules(config_path: Path) -> None:
    """peft writes `target_modules` from a set, in an order that changes from process to process; sorted, the
    same training gives the same `adapter_config.json`, byte for byte."""
    import json

    if not config_path.is_file():
        return
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def save_outputs(
    model: Any, tokenizer: Any, config: TrainConfig, out: Path, recipe_hash: str
) -> dict[str, str]:
    """Write `adapter/` (LoRA only) and `merged/`; returns their paths."""
    outputs: dict[str, str] = {}
    is_peft = hasattr(model, "merge_and_unload")
    start = getattr(model, "maaza_start", None)

    def write_adapter(folder: Path) -> None:
        model.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
        sort_target_modules(folder / "adapter_config.json")
        (folder / METADATA_FILE).write_text(
            json.dumps(model_metadata(config, recipe_hash, "adapter", start), indent=2)
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
            json.dumps(model_metadata(config, recipe_hash, "merged", start), indent=2)
        )

    outputs["merged"] = str(_write_folder(out / "merged", write_merged))
    return outputs
