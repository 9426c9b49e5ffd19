"""Training throughput of the Maaza recipe vs a plain transformers Trainer, same data, same run.

    python benchmarks/train_throughput.py --steps 4

Both train the same LoRA on the same EdgeJSON examples with the same effective batch; the Trainer
baseline is what a user would write first (DataCollatorForSeq2Seq padding, random batches, full-vocab
logits). Useful tokens/s counts non-padding tokens. Writes benchmarks/results/train_throughput.json|md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from common import RESULTS_DIR, provenance_header
from maaza.config import load_config
from maaza.envinfo import environment
from maaza.io import atomic_write_json, atomic_write_text
from maaza.train.config import TrainConfig
from maaza.train.data import prepare_data
from maaza.train.recipe import Recipe, build_model

REPO = Path(__file__).resolve().parents[1]


def run_trainer(config: TrainConfig, steps: int, micro_batch: int, out: Path) -> dict[str, float]:
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    model, tokenizer, _ = build_model(config, torch.device("cpu"))
    data = prepare_data(config.data, tokenizer, config.train.seed)
    features = [
        {
            "input_ids": list(e.prompt_ids) + list(e.completion_ids),
            "attention_mask": [1] * e.length,
            "labels": [-100] * len(e.prompt_ids) + list(e.completion_ids),
        }
        for e in data.train
    ]
    accumulation = max(1, config.train.batch_size // micro_batch)
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=micro_batch,
        gradient_accumulation_steps=accumulation,
        learning_rate=config.train.lr,
        max_steps=steps,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, round(0.1 * steps)),  # transformers 5 dropped warmup_ratio
        weight_decay=config.train.weight_decay,
        max_grad_norm=config.train.max_grad_norm,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=config.train.seed,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    seen = {"useful": 0, "padded": 0}

    def counting_collator(batch: list[dict]) -> dict:
        out_batch = collator(batch)
        seen["useful"] += int(out_batch["attention_mask"].sum())
        seen["padded"] += int(out_batch["input_ids"].numel())
        return out_batch

    trainer = Trainer(model=model, args=args, train_dataset=features, data_collator=counting_collator)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "useful_tokens": seen["useful"],
        "padded_tokens": seen["padded"],
        "useful_tokens_per_s": seen["useful"] / seconds,
    }


def run_recipe(config: TrainConfig, steps: int, out: Path) -> dict[str, float]:
    config.output_dir = str(out)
    config.train.max_steps = steps
    summary = Recipe(config).run()
    return {
        "seconds": summary["train_seconds"],
        "useful_tokens": summary["useful_tokens"],
        "padded_tokens": summary["padded_tokens"],
        "useful_tokens_per_s": summary["useful_tokens_per_s"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(REPO / "configs" / "mlm_135m_json.yaml"))
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--trainer-micro-batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = [
        "data.val_fraction=0.0",
        "checkpoint.keep_best=false",
        "checkpoint.export_best=false",
        "logging.tensorboard=false",
        "eval.every_steps=100000",
        "checkpoint.every_steps=100000",
    ]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["maaza"] = run_recipe(
            load_config(TrainConfig, args.config, overrides), args.steps, Path(tmp) / "m"
        )
        results["trainer"] = run_trainer(
            load_config(TrainConfig, args.config, overrides),
            args.steps,
            args.trainer_micro_batch,
            Path(tmp) / "t",
        )
    ratio = results["maaza"]["useful_tokens_per_s"] / results["trainer"]["useful_tokens_per_s"]
    env = environment()
    payload = {
        "steps": args.steps,
        "config": args.config,
        "results": results,
        "speedup": ratio,
        "environment": env,
    }
    atomic_write_json(RESULTS_DIR / "train_throughput.json", payload)
    lines = [
        provenance_header("Training throughput: Maaza recipe vs transformers Trainer", env),
        "| loop | steps | wall s | useful tokens | padded tokens | useful tok/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {args.steps} | {r['seconds']:.1f} | {r['useful_tokens']} | {r['padded_tokens']} | "
            f"{r['useful_tokens_per_s']:.1f} |"
        )
    lines += [
        "",
        f"Speed-up (useful tokens/s): **{ratio:.2f}x** (goal: >= 1.5x). Same LoRA, same examples, "
        f"same effective batch; both fp32 on CPU.",
    ]
    atomic_write_text(RESULTS_DIR / "train_throughput.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
