"""Training logs: a JSONL of every logged step (the loss curve), TensorBoard, optional W&B."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError


class TrainingLogger:
    """Fan out scalars to `metrics.jsonl`, TensorBoard (`tb/`) and Weights & Biases when configured."""

    def __init__(
        self,
        out_dir: Path,
        *,
        tensorboard: bool,
        wandb_settings: dict[str, Any] | None,
        run_name: str,
        config: dict[str, Any],
        resume_step: int = 0,
        enabled: bool = True,
    ):
        self.enabled = enabled
        self.path = out_dir / "metrics.jsonl"
        self.tb = None
        self.wandb = None
        if not enabled:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        self._truncate_after(resume_step)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(
                log_dir=str(out_dir / "tb"), purge_step=resume_step + 1 if resume_step else None
            )
        if wandb_settings is not None:
            try:
                import wandb
            except ImportError:
                raise MaazaError(
                    "logging.wandb is set but wandb is not installed: pip install 'maaza[wandb]'"
                ) from None
            self.wandb = wandb.init(name=run_name, config=config, resume="allow", **wandb_settings)

    def _truncate_after(self, step: int) -> None:
        """On resume, drop lines logged after the checkpoint so the curve has no duplicate steps."""
        if not self.path.exists():
            return
        kept = [
            line
            for line in self.path.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step
        ]
        self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, step: int, values: dict[str, float], prefix: str = "train") -> None:
        if not self.enabled:
            return
        with self.path.open("a") as handle:
            handle.write(json.dumps({"step": step, "split": prefix, **values}) + "\n")
        if self.tb is not None:
            for key, value in values.items():
                self.tb.add_scalar(f"{prefix}/{key}", value, step)
        if self.wandb is not None:
            self.wandb.log({f"{prefix}/{k}": v for k, v in values.items()}, step=step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


def read_curve(out_dir: Path, split: str = "train", key: str = "loss") -> list[tuple[int, float]]:
    """(step, value) pairs from `metrics.jsonl` (what tests compare between runs)."""
    path = out_dir / "metrics.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(r["step"], r[key]) for r in rows if r.get("split") == split and key in r]
