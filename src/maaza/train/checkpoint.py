"""Checkpoints: every N steps, keep the last K plus the best by validation loss, written atomically.

A checkpoint is a folder `step-00000120/` holding the trainable weights (safetensors), optimizer,
scheduler and RNG states and `trainer_state.json`. It is written under a temporary name and renamed
into place, so a run killed at any moment (even SIGKILL mid-write) leaves only complete checkpoints.
`checksums.json` (written last) holds each file's sha256: a checkpoint damaged later (a truncated or
changed file) is found by `latest_checkpoint`, which warns, names it and resumes from the newest good one.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError

PREFIX = "step-"
BEST = "best"
STATE_FILE = "trainer_state.json"
CHECKSUMS_FILE = "checksums.json"


def trainable_state(model: Any) -> dict[str, Any]:
    """Only the parameters being trained (LoRA weights, or everything for full fine-tuning)."""
    return {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}


def rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    folder: Path,
    name: str,
    *,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict[str, Any],
    rank: int = 0,
) -> Path:
    """Write checkpoint `name` atomically; RNG state is per process (rank), weights once."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    from maaza.io import remove_stale_temps, temp_prefix

    remove_stale_temps(folder, name)
    staging = Path(tempfile.mkdtemp(prefix=temp_prefix(name), dir=folder))
    try:
        save_file(trainable_state(model), str(staging / "trainable.safetensors"))
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        torch.save(scheduler.state_dict(), staging / "scheduler.pt")
        torch.save(rng_state(), staging / f"rng_rank{rank}.pt")
        (staging / STATE_FILE).write_text(json.dumps(state, indent=2))
        write_checksums(staging)
        staging.chmod(0o755)
        if target.exists():
            old = folder / f".{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError | RuntimeError):  # a full disk: torch's zip writer raises RuntimeError
            free_gb = shutil.disk_usage(folder).free / 1e9
            raise MaazaError(
                f"could not write checkpoint {target} ({type(exc).__name__}: {str(exc).strip()[:200]}); "
                f"{free_gb:.1f} GB free there now. The earlier checkpoints are complete: free some space "
                "and rerun with --resume"
            ) from exc
        raise
    return target


def step_checkpoints(folder: Path) -> list[Path]:
    """Complete step checkpoints, oldest first."""
    if not folder.is_dir():
        return []
    found = [
        p for p in folder.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and (p / STATE_FILE).is_file()
    ]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX) :]))


def write_checksums(checkpoint: Path) -> None:
    """`checksums.json`: the sha256 of every file in the checkpoint folder (written last)."""
    from maaza.io import file_sha256

    sums = {p.name: file_sha256(p) for p in sorted(checkpoint.iterdir()) if p.is_file() and p.name != CHECKSUMS_FILE}
    (checkpoint / CHECKSUMS_FILE).write_text(json.dumps(sums, indent=2))


def checkpoint_problem(checkpoint: Path) -> str | None:
    """What is wrong with a checkpoint (a missing, truncated or changed file), None when it verifies. A
    checkpoint written before checksums is taken as complete when it has its trainer state."""
    from maaza.io import file_sha256

    if not (checkpoint / STATE_FILE).is_file():
        return f"no {STATE_FILE}"
    sums_file = checkpoint / CHECKSUMS_FILE
    if not sums_file.is_file():
        return None
    try:
        sums = json.loads(sums_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return f"{CHECKSUMS_FILE} is damaged"
    if not isinstance(sums, dict):
        return f"{CHECKSUMS_FILE} is damaged"
    for name, digest in sums.items():
        file = checkpoint / name
        if not file.is_file():
            return f"{name} is missing"
        if file_sha256(file) != digest:
            return f"{name} does not match its sha256 (truncated or changed)"
    return None


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest step checkpoint that verifies; each newer damaged one is skipped with a warning naming it."""
    from maaza.errors import warn_integrity

    for checkpoint in reversed(step_checkpoints(folder)):
        problem = checkpoint_problem(checkpoint)
        if problem is None:
            return checkpoint
        warn_integrity(f"checkpoint {checkpoint} is damaged ({problem}); resuming from an earlier one")
    return None


def rotate(folder: Path, keep_last: int) -> None:
    """Delete all but the newest `keep_last` step checkpoints (the best one lives apart, in `best/`)."""
    for old in step_checkpoints(folder)[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    for stale in [*folder.glob(f".{PREFIX}*"), *folder.glob(f".{BEST}.*")]:  # leftovers of killed writes
        shutil.rmtree(stale, ignore_errors=True)


def load_checkpoint(
    path: Path, *, model: Any, optimizer: Any | None, scheduler: Any | None, rank: int = 0
) -> dict[str, Any]:
    """Restore weights (+ optimizer, scheduler and this rank's RNG when given); returns trainer state."""
    import torch
    from safetensors.torch import load_file

    problem = checkpoint_problem(path)
    if problem is not None:
        raise MaazaError(f"{path} is not a complete checkpoint ({problem})")
    weights = load_file(str(path / "trainable.safetensors"))
    params = dict(model.named_parameters())
    missing = [name for name in weights if name not in params]
    if missing:
        raise MaazaError(f"{path}: checkpoint weights do not fit this model (e.g. '{missing[0]}')")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    if optimizer is not None:
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=False))
    if scheduler is not None:
        scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
        rng_file = path / f"rng_rank{rank}.pt"
        if rng_file.is_file():
            set_rng_state(torch.load(rng_file, weights_only=False))
    return json.loads((path / STATE_FILE).read_text())
