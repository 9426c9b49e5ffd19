"""`maaza train CONFIG.yaml [--set key=value ...] [--resume]`."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="fine-tune a model with a recipe config (LoRA or full)",
        description="Train with a YAML recipe (see configs/). Values can be overridden with --set section.key=value. "
        "Writes checkpoints/, adapter/, merged/, tb/, metrics.jsonl and training_summary.json into output_dir. "
        "For several processes/GPUs: accelerate launch --multi_gpu --num_processes N -m maaza train CONFIG "
        "(--multi_gpu on a CPU-only machine too: it starts N gloo processes; --cpu would start one).",
    )
    p.add_argument("config", help="recipe YAML, e.g. configs/mlm_135m_json.yaml")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.lr=1e-4 (repeatable)",
    )
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in output_dir")
    p.add_argument("--output-dir", default=None, help="shortcut for --set output_dir=DIR")
    p.add_argument("--task", default=None, help="the task to train on (`maaza tasks list`; shortcut for --set task=NAME)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from maaza.config import load_config, load_yaml

    if load_yaml(args.config).get("recipe") == "filter":
        return run_filter(args)
    from maaza.train.config import TrainConfig
    from maaza.train.recipe import Recipe

    overrides = list(args.overrides) + ([f"output_dir={args.output_dir}"] if args.output_dir else [])
    if args.task is not None:
        overrides.append(f"task={args.task}")
    config = load_config(TrainConfig, args.config, overrides)
    summary = Recipe(config).run(resume=args.resume)
    if summary.get("outputs"):  # only the main process writes outputs (and reports); other ranks stay quiet
        print(
            f"\ntrained {summary['steps']} steps ({summary['epochs']:.2f} epochs) in {summary['train_seconds']:.0f} s, "
            f"{summary['useful_tokens_per_s']} useful tok/s, final loss {summary['final_train_loss']}, "
            f"best val loss {summary['best_val_loss']} (step {summary['best_step']})"
        )
        for kind, path in summary["outputs"].items():
            print(f"{kind}: {path}")
    return 0


def run_filter(args: argparse.Namespace) -> int:
    """A `recipe: filter` config: the NLM filter recipe (maaza.train.filter_recipe)."""
    from maaza.config import load_config
    from maaza.train.filter_recipe import FilterConfig, FilterRecipe

    overrides = list(args.overrides) + ([f"output_dir={args.output_dir}"] if args.output_dir else [])
    if args.task is not None:
        from maaza.errors import MaazaError

        raise MaazaError("--task: a filter config names its tasks (spam, toxicity, pii) itself")
    config = load_config(FilterConfig, args.config, overrides)
    summary = FilterRecipe(config).run(resume=args.resume)
    print(
        f"\ntrained {summary['steps']} steps ({summary['epochs']} epochs) in {summary['train_seconds']:.0f} s, "
        f"{summary['parameters']:,} parameters, best val loss {summary['best_val_loss']} (step {summary['best_step']})"
    )
    for kind, path in summary["outputs"].items():
        print(f"{kind}: {path}")
    return 0
