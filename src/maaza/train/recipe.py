"""The fine-tuning recipe (LoRA or full) behind `maaza train CONFIG.yaml`.

A hand-written loop rather than transformers' Trainer, for three reasons that matter on a CPU:
- logits are computed only where the loss is (completion tokens): the 49K-wide output layer
  is a fifth of a SmolLM2 forward pass, and half the tokens are prompt;
- batches are grouped by length under a token budget, so padding does not eat the compute;
- resume is exact (data order, optimizer, scheduler, RNG), which the loss-curve test checks.
Multi-process runs go through Accelerate (`accelerate launch`): each process takes a share of every
optimizer step's examples and gradients are summed across processes before the step, so N processes
compute the same update as one process with the same global batch.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from maaza.config import config_hash, to_dict
from maaza.envinfo import environment, peak_rss_mb
from maaza.errors import MaazaError, warn_integrity
from maaza.io import atomic_write_json
from maaza.train import checkpoint as ckpt
from maaza.train.config import ADDED_KEYS, TrainConfig
from maaza.train.data import PreparedData, TrainExample, collate, micro_batches, prepare_data, step_groups
from maaza.train.logs import TrainingLogger
from maaza.train.losses import completion_ce, completion_loss_sum, get_loss
from maaza.train.models import build_model, load_init_adapter

__all__ = ["Recipe", "build_model", "completion_loss_sum", "load_init_adapter", "recipe_hash", "total_steps"]


def recipe_hash(config: TrainConfig) -> str:
    """Hash of what defines the trained weights (model, data, optimisation), not logging or checkpoints.

    Keys added after checkpoints were first written count only when set away from their default, so the
    configs of older runs keep their hash (and their checkpoints resume).
    """
    sections = {"model": config.model, "data": config.data, "train": config.train}
    hashed: dict[str, Any] = {}
    for name, section in sections.items():
        values, defaults = to_dict(section), to_dict(type(section)())
        for key in ADDED_KEYS[name]:
            if values[key] == defaults[key]:
                del values[key]
        hashed[name] = values
    return config_hash(hashed)


def _optimizer(model: Any, config: TrainConfig) -> Any:
    import torch

    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "norm" in name else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.train.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=config.train.lr, betas=tuple(config.train.betas), eps=config.train.eps
    )


def total_steps(config: TrainConfig, n_train: int) -> tuple[int, int]:
    steps_per_epoch = math.ceil(n_train / config.train.batch_size)
    steps = math.ceil(config.train.epochs * steps_per_epoch)
    if config.train.max_steps:
        steps = min(steps, config.train.max_steps) if config.train.epochs > 0 else config.train.max_steps
    return steps, steps_per_epoch


class Recipe:
    """One training run in `config.output_dir`; `run(resume=True)` continues from the latest checkpoint."""

    def __init__(self, config: TrainConfig):
        self.config = config
        self.out = Path(config.output_dir)
        self.ckpt_dir = self.out / "checkpoints"
        self.teacher: Any = None  # the distill loss's teacher-logits cache (maaza.train.teacher)

    def prepare(self, tokenizer: Any) -> PreparedData:
        """The run's examples: the task's (or the mixture's), with cached teacher logits for distill."""
        import hashlib

        from maaza.paths import resolve_under_data_root
        from maaza.train.models import task_labels

        config = self.config
        classify = config.model.kind == "sequence_classifier"
        data = prepare_data(config.data, tokenizer, config.train.seed, task=config.task, classify=classify)
        if config.train.loss == "distill":
            from maaza.train.teacher import attach_teacher_logits, load_teacher_logits

            path = resolve_under_data_root(config.train.distill.teacher_logits or "")
            self.teacher = load_teacher_logits(path, task_labels(config), config.train.distill.teacher_hash)
            data.train = attach_teacher_logits(data.train, self.teacher)
            data.files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        return data

    def run(self, *, resume: bool = False) -> dict[str, Any]:
        import torch
        from accelerate import Accelerator
        from accelerate.utils import set_seed
        from transformers import get_scheduler

        config = self.config
        accelerator = Accelerator(cpu=not torch.cuda.is_available())
        self.accelerator = accelerator
        rank, world = accelerator.process_index, accelerator.num_processes
        if config.train.batch_size < world:
            raise MaazaError(
                f"train.batch_size ({config.train.batch_size}) is smaller than the process count ({world})"
            )
        if config.train.threads:
            torch.set_num_threads(config.train.threads)
        set_seed(config.train.seed)
        model, tokenizer, resolved = build_model(config, accelerator.device)
        data = self.prepare(tokenizer)
        loss_fn = get_loss(config.train.loss)
        n_tasks = len(data.sources)
        steps, steps_per_epoch = total_steps(config, len(data.train))
        optimizer = _optimizer(model, config)
        scheduler = get_scheduler(
            config.train.scheduler,
            optimizer,
            num_warmup_steps=round(config.train.warmup_ratio * steps),
            num_training_steps=steps,
        )
        state = {
            "global_step": 0,
            "best_val_loss": None,
            "best_step": None,
            "last_val_loss": None,
            "useful_tokens": 0,
            "padded_tokens": 0,
            "completion_tokens": 0,  # supervised units: completion tokens, or a classifier's examples
            "train_seconds": 0.0,
            "recipe_hash": recipe_hash(config),
            # per task (data.sources order): examples drawn, their units and summed unweighted loss
            "task_examples": [0] * n_tasks,
            "task_units": [0] * n_tasks,
            "task_loss_sums": [0.0] * n_tasks,
            "last_val_task_losses": None,
        }
        latest = ckpt.latest_checkpoint(self.ckpt_dir)
        if resume and latest is not None:
            # Check the recipe before loading: a changed model (e.g. LoRA rank) cannot even take the weights.
            saved = json.loads((latest / ckpt.STATE_FILE).read_text())
            if saved.get("recipe_hash") != recipe_hash(config):
                raise MaazaError(
                    f"{latest}: the checkpoint was trained with a different model/data/train config; "
                    "use another output_dir or the original config"
                )
            state = {  # a checkpoint written before the per-task keys starts them from zero
                **state,
                **ckpt.load_checkpoint(
                    latest, model=model, optimizer=optimizer, scheduler=scheduler, rank=rank
                ),
            }
            if state.get("world_size", world) != world:
                raise MaazaError(
                    f"{latest}: written by {state['world_size']} processes, resuming with {world}"
                )
        elif not resume and latest is not None:
            raise MaazaError(
                f"{self.ckpt_dir} already has checkpoints: pass --resume to continue, "
                "or use another output_dir"
            )
        precision = self._precision()
        logger = TrainingLogger(
            self.out,
            tensorboard=config.logging.tensorboard,
            wandb_settings=config.logging.wandb,
            run_name=config.name,
            config=to_dict(config),
            resume_step=state["global_step"],
            enabled=accelerator.is_main_process,
        )
        trainable = [p for p in model.parameters() if p.requires_grad]
        pad_id = tokenizer.pad_token_id
        loss_weights = [source.loss_weight for source in data.sources] if data.mixture else None
        bar = self._progress(steps, state["global_step"])
        model.train()
        epoch_groups: tuple[int, list[list[int]]] = (-1, [])
        for step in range(state["global_step"], steps):
            started = time.perf_counter()
            epoch, index = divmod(step, steps_per_epoch)
            if epoch_groups[0] != epoch:
                epoch_groups = (
                    epoch,
                    step_groups(data.order(config.train.seed, epoch), config.train.batch_size),
                )
            group = epoch_groups[1][index]
            mine = group[rank::world]
            counts = torch.tensor([float(sum(data.train[i].units for i in group))])
            step_examples, step_units = [0] * n_tasks, [0] * n_tasks
            for i in group:
                step_examples[data.train[i].task] += 1
                step_units[data.train[i].task] += data.train[i].units
            loss_sum = torch.zeros(())
            task_sums = torch.zeros(n_tasks)
            useful = padded = 0
            for micro in micro_batches(mine, data.train, config.train.micro_batch_tokens):
                examples = [data.train[i] for i in micro]
                batch = {
                    k: v.to(accelerator.device)
                    for k, v in collate(examples, pad_id, loss_weights=loss_weights).items()
                }
                with torch.autocast(
                    accelerator.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"
                ):
                    result = loss_fn(model, batch, config.train)
                (result.total / counts.item()).backward()
                part = result.total.detach().float().cpu()
                loss_sum += part
                if result.per_row is None:  # one task: the micro-batch's sum is its task's
                    task_sums[examples[0].task] += part
                else:
                    rows = torch.tensor([e.task for e in examples])
                    task_sums.index_add_(0, rows, result.per_row.detach().float().cpu())
                useful += int(batch["attention_mask"].sum())
                padded += batch["input_ids"].numel()
            for param in trainable:
                if param.grad is None:
                    param.grad = torch.zeros_like(param)
            totals = torch.tensor([loss_sum.item(), float(useful), float(padded), *task_sums.tolist()])
            if world > 1:
                self._all_reduce_grads(trainable)
                totals = accelerator.reduce(totals.to(accelerator.device), reduction="sum").cpu()
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, config.train.max_grad_norm)
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            elapsed = time.perf_counter() - started
            state["global_step"] = step + 1
            state["useful_tokens"] += int(totals[1])
            state["padded_tokens"] += int(totals[2])
            state["completion_tokens"] += int(counts.item())
            state["train_seconds"] += elapsed
            for t in range(n_tasks):
                state["task_examples"][t] += step_examples[t]
                state["task_units"][t] += step_units[t]
                state["task_loss_sums"][t] += float(totals[3 + t])
            loss = float(totals[0]) / counts.item()
            if (step + 1) % config.logging.log_every_steps == 0 or step + 1 == steps:
                values = {
                    "loss": loss,
                    "lr": lr,
                    "grad_norm": float(grad_norm),
                    "epoch": (step + 1) / steps_per_epoch,
                    "tokens_per_s": float(totals[1]) / elapsed,
                }
                if data.mixture:  # each task's unweighted loss on its examples of the step
                    for t, source in enumerate(data.sources):
                        if step_units[t]:
                            values[f"loss/{source.task}"] = float(totals[3 + t]) / step_units[t]
                logger.log(step + 1, values)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{float(totals[1]) / elapsed:.0f}")
            at_end = step + 1 == steps
            if data.val and (at_end or (step + 1) % config.eval.every_steps == 0):
                val_loss, val_tasks = self.validation_losses(model, data, pad_id)
                state["last_val_loss"] = (
                    val_loss  # in the checkpoint: a finished run resumed still reports it
                )
                state["last_val_task_losses"] = val_tasks
                values = {"loss": val_loss}
                if data.mixture:
                    for source, value in zip(data.sources, val_tasks, strict=True):
                        if value is not None:
                            values[f"loss/{source.task}"] = value
                logger.log(step + 1, values, prefix="eval")
                model.train()
                if state["best_val_loss"] is None or val_loss < state["best_val_loss"]:
                    state["best_val_loss"], state["best_step"] = val_loss, step + 1
                    if config.checkpoint.keep_best:
                        self._save(ckpt.BEST, model, optimizer, scheduler, state, world)
            if at_end or (step + 1) % config.checkpoint.every_steps == 0:
                self._save(f"{ckpt.PREFIX}{step + 1:08d}", model, optimizer, scheduler, state, world)
                if accelerator.is_main_process:
                    ckpt.rotate(self.ckpt_dir, config.checkpoint.keep_last)
        bar.close()
        logger.close()
        accelerator.wait_for_everyone()
        summary = self._finish(model, tokenizer, resolved, data, state, steps, steps_per_epoch)
        return summary

    def _precision(self) -> str:
        import torch

        wanted = self.config.train.precision
        gpu_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        if wanted == "bf16" and not torch.cuda.is_available():
            return "bf16"  # explicitly asked: CPU autocast works, but is slow without AVX-512 BF16
        return "bf16" if wanted == "bf16" or (wanted == "auto" and gpu_bf16) else "fp32"

    def _all_reduce_grads(self, params: list[Any]) -> None:
        import torch.distributed as dist
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        grads = [p.grad for p in params]
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        for grad, synced in zip(grads, _unflatten_dense_tensors(flat, grads), strict=True):
            grad.copy_(synced)

    def validation_losses(
        self, model: Any, data: PreparedData, pad_id: int
    ) -> tuple[float, list[float | None]]:
        """Mean cross-entropy per supervised unit on (a bounded part of) the validation set, over all
        processes, overall and per task. Always the plain cross-entropy (whatever train.loss is, and without
        loss weights), so runs with different losses compare; a mixture's bound is shared round-robin."""
        import torch

        accelerator = self.accelerator
        val, n_tasks = data.val, len(data.sources)
        chosen = _round_robin(val, self.config.eval.max_examples, n_tasks)
        mine = chosen[accelerator.process_index :: accelerator.num_processes]
        model.eval()
        totals = torch.zeros(2 + 2 * n_tasks)  # loss, units, then each task's loss and units
        with torch.no_grad():
            for micro in micro_batches(mine, val, self.config.train.micro_batch_tokens):
                examples = [val[i] for i in micro]
                weights = [1.0] * n_tasks if data.mixture else None
                batch = {
                    k: v.to(accelerator.device)
                    for k, v in collate(examples, pad_id, loss_weights=weights).items()
                }
                if data.mixture:
                    result = completion_ce(model, batch)
                    part, count = result.total, sum(e.units for e in examples)
                    assert result.per_row is not None
                    for example, row_loss in zip(examples, result.per_row.tolist(), strict=True):
                        totals[2 + example.task] += row_loss
                        totals[2 + n_tasks + example.task] += example.units
                else:
                    part, count = completion_loss_sum(model, batch)
                totals[:2] += torch.tensor([part.item(), float(count)])
        if accelerator.num_processes > 1:
            totals = accelerator.reduce(totals.to(accelerator.device), reduction="sum").cpu()
        overall = float(totals[0] / totals[1]) if totals[1] > 0 else float("nan")
        if not data.mixture:
            return overall, [overall]
        per_task = [
            float(totals[2 + t] / totals[2 + n_tasks + t]) if totals[2 + n_tasks + t] > 0 else None
            for t in range(n_tasks)
        ]
        return overall, per_task

    def _save(
        self, name: str, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any], world: int
    ) -> None:
        """Rank 0 writes the checkpoint; every other rank adds its own RNG state file after it."""
        import torch

        accelerator = self.accelerator
        full_state = {**state, "world_size": world}
        if accelerator.is_main_process:
            ckpt.save_checkpoint(
                self.ckpt_dir,
                name,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                state=full_state,
                rank=0,
            )
        accelerator.wait_for_everyone()
        if not accelerator.is_main_process:
            target = self.ckpt_dir / name / f"rng_rank{accelerator.process_index}.pt"
            tmp = target.with_suffix(".tmp")
            torch.save(ckpt.rng_state(), tmp)
            tmp.replace(target)
        accelerator.wait_for_everyone()

    def _progress(self, total: int, done: int) -> Any:
        from tqdm import tqdm

        enabled = self.config.logging.progress and self.accelerator.is_main_process
        return tqdm(
            total=total, initial=done, desc="train", unit="step", disable=not enabled, dynamic_ncols=True
        )

    def _finish(
        self,
        model: Any,
        tokenizer: Any,
        resolved: Any,
        data: PreparedData,
        state: dict[str, Any],
        steps: int,
        steps_per_epoch: int,
    ) -> dict[str, Any]:
        from maaza.train.outputs import save_outputs

        config = self.config
        best = self.ckpt_dir / ckpt.BEST
        exported_from = "final"
        if config.checkpoint.export_best and (best / ckpt.STATE_FILE).is_file():
            if (problem := ckpt.checkpoint_problem(best)) is None:
                ckpt.load_checkpoint(best, model=model, optimizer=None, scheduler=None)
                exported_from = f"best (step {state['best_step']})"
            else:
                warn_integrity(f"checkpoint {best} is damaged ({problem}); exporting the final weights instead")
        start = getattr(model, "maaza_start", {})
        trainable_params = count_trainable(model)
        total_params = sum(
            p.numel() for p in model.parameters()
        )  # before save_outputs merges the adapter away
        outputs: dict[str, str] = {}
        if self.accelerator.is_main_process:
            outputs = save_outputs(model, tokenizer, config, self.out, recipe_hash(config))
        curve = _read_train_losses(self.out)
        seconds = state["train_seconds"]
        summary = {
            "name": config.name,
            "config": to_dict(config),
            "recipe_hash": recipe_hash(config),
            "base_model": {"name": config.model.base, "path": resolved.path, "hub_id": resolved.hub_id},
            "method": config.model.method,
            "model_kind": config.model.kind,
            "init": {"kind": config.model.init, **{k: v for k, v in start.items() if k != "init"}},
            "loss": config.train.loss,
            **({"distill": self.teacher.describe()} if self.teacher is not None else {}),
            "params": {"total": total_params, "trainable": trainable_params},
            "data": data.stats(),
            "tasks": task_report(data, state),
            "steps": steps,
            "steps_per_epoch": steps_per_epoch,
            "epochs": steps / steps_per_epoch,
            "processes": self.accelerator.num_processes,
            "precision": self._precision(),
            "train_seconds": round(seconds, 2),
            "useful_tokens": state["useful_tokens"],
            "padded_tokens": state["padded_tokens"],
            "padding_efficiency": round(state["useful_tokens"] / state["padded_tokens"], 4)
            if state["padded_tokens"]
            else None,
            "useful_tokens_per_s": round(state["useful_tokens"] / seconds, 1) if seconds else None,
            "completion_tokens_per_s": round(state["completion_tokens"] / seconds, 1) if seconds else None,
            "final_train_loss": curve[-1] if curve else None,
            "final_val_loss": state.get("last_val_loss"),  # None in checkpoints written before the key
            "best_val_loss": state["best_val_loss"],
            "best_step": state["best_step"],
            "exported_from": exported_from,
            "outputs": outputs,
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "environment": environment(),
        }
        if self.accelerator.is_main_process:
            atomic_write_json(self.out / "training_summary.json", summary)
        return summary


def task_report(data: PreparedData, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per task: its settings, rows, the examples drawn and their mean (unweighted) loss, the last val loss."""
    sizes = data.sizes()
    val_losses = state.get("last_val_task_losses") or [None] * len(data.sources)
    report: dict[str, dict[str, Any]] = {}
    for t, source in enumerate(data.sources):
        units = state["task_units"][t]
        report[source.task] = {
            "prompt_format": source.prompt_format,
            "weight": source.weight,
            "loss_weight": source.loss_weight,
            "train_rows": sizes[t],
            "val_rows": sum(1 for e in data.val if e.task == t),
            "examples_drawn": state["task_examples"][t],
            "train_loss": state["task_loss_sums"][t] / units if units else None,
            "final_val_loss": val_losses[t],
        }
    return report


def _round_robin(examples: list[TrainExample], limit: int | None, n_tasks: int) -> list[int]:
    """Up to `limit` indices, taken in turn from each task's examples (one task: the first `limit`)."""
    buckets = [[i for i, e in enumerate(examples) if e.task == t] for t in range(n_tasks)]
    picked: list[int] = []
    for position in range(max((len(b) for b in buckets), default=0)):
        picked.extend(b[position] for b in buckets if position < len(b))
    return picked if limit is None else picked[:limit]


def _read_train_losses(out: Path) -> list[float]:
    from maaza.train.logs import read_curve

    return [value for _, value in read_curve(out)]


def count_trainable(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
