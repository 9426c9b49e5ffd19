"""`maaza pipeline CONFIG.yaml [--out RUN_DIR] [--set key=value ...] [--force STAGE ...]`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from maaza.pipeline.runner import STAGE_ORDER


def add_parser(sub: Any) -> None:
    """Register `maaza pipeline` on an argparse subparsers object."""
    p = sub.add_parser(
        "pipeline",
        help="data -> train -> eval -> export -> card -> leaderboard into one run folder",
        description="Run every stage of a pipeline YAML (see configs/quickstart_json.yaml) into one run folder: "
        "data/, train/, eval/{base,finetuned}.json, refine/, export/, README.md, leaderboard/. Each stage records "
        "the sha256 of its inputs in RUN/stages/<stage>.json and is skipped when they are unchanged; re-running "
        "after an interruption resumes at the first incomplete stage (training from its checkpoint, evaluation "
        "from its partial results).",
    )
    p.add_argument("config", help="pipeline YAML, e.g. configs/quickstart_json.yaml")
    p.add_argument("--out", default=None, help="run folder (default: the config's run_dir, else runs/<config name>)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.train.lr=1e-4 or --set eval.limit=8 (repeatable)",
    )
    p.add_argument(
        "--force",
        action="append",
        default=[],
        choices=[*STAGE_ORDER, "all"],
        metavar="STAGE",
        help=f"re-run a stage even if its inputs are unchanged (repeatable): {', '.join(STAGE_ORDER)} or all",
    )
    p.add_argument("--task", default=None, help="the task to train and evaluate (`maaza tasks list`; shortcut "
                   "for --set train.task=NAME; default: the train config's task)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars inside stages")
    p.set_defaults(handler=run)


def default_run_dir(config_path: str | Path, run_dir: str | None) -> Path:
    """`run_dir` from the config, else runs/<config file stem>."""
    return Path(run_dir) if run_dir else Path("runs") / Path(config_path).stem


def run(args: argparse.Namespace) -> int:
    """Handler: load and validate the config, then run the stages."""
    from maaza.pipeline.config import load_pipeline
    from maaza.pipeline.runner import PipelineRun
    from maaza.tasks import get_task

    overrides = list(args.overrides) + (["progress=false"] if args.no_progress else [])
    if args.task is not None:
        get_task(args.task)  # an unknown name fails before the config is read
        overrides.append(f"train.task={args.task}")
    loaded = load_pipeline(args.config, overrides)
    run_dir = Path(args.out) if args.out else default_run_dir(args.config, loaded.config.run_dir)
    PipelineRun(loaded, run_dir, force=args.force).run()
    return 0
