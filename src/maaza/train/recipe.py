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
from maaza.errors import MaazaError
from maaza.io import atomic_write_json
from maaza.train import checkpoint as ckpt
from maaza.train.config import TrainConfig
from maaza.train.data import (
    PreparedData,
    TrainExample,
    collate,
    epoch_order,
    micro_batches,
    prepare_data,
    step_groups,
)
from maaza.train.logs import TrainingLogger


def recipe_hash(config: TrainConfig) -> str:
    """Hash of what defines the trained weights (model, data, optimisation), not logging or checkpoints."""
    return config_hash(
        {"model": to_dict(config.model), "data": to_dict(config.data), "train": to_dict(config.train)}
    )


def build_model(config: TrainConfig, device: Any) -> tuple[Any, Any, Any]:
    """Base model (+ LoRA), its tokenizer, and the resolved base."""
    import torch
    from transformers import AutoModelForCausalLM

    from maaza.models.loading import load_tokenizer
    from maaza.models.registry import resolve_model

    resolved = resolve_model(config.model.base)
    tokenizer = load_tokenizer(resolved.path, padding_side="right")
    try:
        model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=torch.float32)
    except OSError as exc:
        raise MaazaError(
            f"cannot load base model '{config.model.base}': {str(exc).splitlines()[0]}"
        ) from None
    model.config.use_cache = False
    if config.model.method == "lora":
        from peft import LoraConfig, get_peft_model

        lora = config.model.lora
        present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        absent = [m for m in lora.target_modules if m not in present]
        if absent:
            raise MaazaError(f"model.lora.target_modules: {absent} not found in {config.model.base}")
        model = get_peft_model(
            model,
            LoraConfig(
                r=lora.r,
                lora_alpha=lora.alpha,
                lora_dropout=lora.dropout,
                target_modules=list(lora.target_modules),
                bias="none",
                task_type="CAUSAL_LM",
            ),
        )
        if config.model.init_adapter:
            load_init_adapter(model, config)
    elif config.model.init_adapter:
        raise MaazaError("model.init_adapter: a LoRA adapter to start from needs model.method 'lora'")
    if config.model.fake_quant:
        if config.model.method != "full":
            raise MaazaError("model.fake_quant: quantization-aware training needs model.method 'full' (a LoRA "
                             "merged after training would be rounded through weights it never saw)")
        from maaza.train.fake_quant import apply_fake_quant

        apply_fake_quant(model, config.model.fake_quant)
    model.to(device)
    return model, tokenizer, resolved


def load_init_adapter(model: Any, config: TrainConfig) -> None:
    """Copy a trained adapter's LoRA weights into the fresh LoRA of `model` (model.init_adapter).

    The adapter must have the recipe's shape (rank, alpha, target modules): a warm start continues the
    same LoRA, it does not silently train a different one. Every LoRA weight must be filled.
    """
    from peft import set_peft_model_state_dict
    from peft.utils import load_peft_weights

    from maaza.models.loading import read_adapter_config

    folder = Path(config.model.init_adapter or "")
    try:
        saved = read_adapter_config(folder)
    except MaazaError as exc:
        raise MaazaError(f"model.init_adapter: {exc}") from None
    lora = config.model.lora
    shape = (  # (adapter_config.json key, model.lora key, the adapter's value, the recipe's value)
        ("r", "r", saved.get("r"), lora.r),
        ("lora_alpha", "alpha", saved.get("lora_alpha"), lora.alpha),
        ("target_modules", "target_modules", sorted(saved.get("target_modules") or []), sorted(lora.target_modules)),
    )
    for key, setting, found, expected in shape:
        if found != expected:
            raise MaazaError(
                f"model.init_adapter: {folder / 'adapter_config.json'} has {key}={found}, but model.lora.{setting} "
                f"is {expected}; set model.lora to the adapter's shape"
            )
    result = set_peft_model_state_dict(model, load_peft_weights(str(folder), device="cpu"))
    fresh = [name for name in result.missing_keys if "lora_" in name]
    if fresh or result.unexpected_keys:
        shown = (fresh or result.unexpected_keys)[:3]
        raise MaazaError(
            f"model.init_adapter: {folder} does not fit this base model "
            f"({'LoRA weights it lacks' if fresh else 'weights the model lacks'}: {shown})"
        )


def _core(model: Any) -> Any:
    """The plain transformers model under a peft wrapper (LoRA layers stay injected in it)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def completion_loss_sum(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Summed cross-entropy over completion tokens, projecting only those positions to the vocabulary.

    Batches are right-padded, so under a causal mask no real token ever attends to padding: the
    padding mask is redundant for every position that carries a label. Leaving it out lets SDPA take
    its fused causal path instead of materialising a (batch, heads, T, T) mask: on CPU this cut
    activation memory several-fold on 1.5K-token rows. Padded positions compute garbage that no
    label reads.
    """
    import torch.nn.functional as F

    core = _core(model)
    hidden = core.get_decoder()(input_ids=batch["input_ids"]).last_hidden_state
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    logits = core.get_output_embeddings()(hidden[:, :-1][mask]).float()
    return F.cross_entropy(logits, labels[mask], reduction="sum"), int(mask.sum())


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
        data = prepare_data(config.data, tokenizer, config.train.seed)
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
            "completion_tokens": 0,
            "train_seconds": 0.0,
            "recipe_hash": recipe_hash(config),
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
            state = ckpt.load_checkpoint(
                latest, model=model, optimizer=optimizer, scheduler=scheduler, rank=rank
            )
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
        bar = self._progress(steps, state["global_step"])
        model.train()
        for step in range(state["global_step"], steps):
            started = time.perf_counter()
            epoch, index = divmod(step, steps_per_epoch)
            group = step_groups(
                epoch_order(len(data.train), config.train.seed, epoch), config.train.batch_size
            )[index]
            mine = group[rank::world]
            counts = torch.tensor([float(sum(len(data.train[i].completion_ids) for i in group))])
            loss_sum = torch.zeros(())
            useful = padded = 0
            for micro in micro_batches(mine, data.train, config.train.micro_batch_tokens):
                batch = {
                    k: v.to(accelerator.device)
                    for k, v in collate([data.train[i] for i in micro], pad_id).items()
                }
                with torch.autocast(
                    accelerator.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"
                ):
                    part_sum, _ = completion_loss_sum(model, batch)
                (part_sum / counts.item()).backward()
                loss_sum += part_sum.detach().float().cpu()
                useful += int(batch["attention_mask"].sum())
                padded += batch["input_ids"].numel()
            for param in trainable:
                if param.grad is None:
                    param.grad = torch.zeros_like(param)
            totals = torch.tensor([loss_sum.item(), float(useful), float(padded)])
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
            loss = float(totals[0]) / counts.item()
            if (step + 1) % config.logging.log_every_steps == 0 or step + 1 == steps:
                logger.log(
                    step + 1,
                    {
                        "loss": loss,
                        "lr": lr,
                        "grad_norm": float(grad_norm),
                        "epoch": (step + 1) / steps_per_epoch,
                        "tokens_per_s": float(totals[1]) / elapsed,
                    },
                )
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{float(totals[1]) / elapsed:.0f}")
            at_end = step + 1 == steps
            if data.val and (at_end or (step + 1) % config.eval.every_steps == 0):
                val_loss = self.validation_loss(model, data.val, pad_id)
                state["last_val_loss"] = val_loss  # in the checkpoint: a finished run resumed still reports it
                logger.log(step + 1, {"loss": val_loss}, prefix="eval")
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

    def validation_loss(self, model: Any, val: list[TrainExample], pad_id: int) -> float:
        """Mean completion-token loss on (a bounded prefix of) the validation set, over all processes."""
        import torch

        accelerator = self.accelerator
        limit = self.config.eval.max_examples
        chosen = list(range(len(val) if limit is None else min(limit, len(val))))
        mine = chosen[accelerator.process_index :: accelerator.num_processes]
        model.eval()
        totals = torch.zeros(2)
        with torch.no_grad():
            for micro in micro_batches(mine, val, self.config.train.micro_batch_tokens):
                batch = {
                    k: v.to(accelerator.device) for k, v in collate([val[i] for i in micro], pad_id).items()
                }
                part, count = completion_loss_sum(model, batch)
                totals += torch.tensor([part.item(), float(count)])
        if accelerator.num_processes > 1:
            totals = accelerator.reduce(totals.to(accelerator.device), reduction="sum").cpu()
        return float(totals[0] / totals[1]) if totals[1] > 0 else float("nan")

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
            ckpt.load_checkpoint(best, model=model, optimizer=None, scheduler=None)
            exported_from = f"best (step {state['best_step']})"
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
            "params": {"total": total_params, "trainable": trainable_params},
            "data": data.stats(),
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


def _read_train_losses(out: Path) -> list[float]:
    from maaza.train.logs import read_curve

    return [value for _, value in read_curve(out)]


def count_trainable(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
