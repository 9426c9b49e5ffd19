"""`maaza data generate --task edgejson --schemas DIR --n N --out DIR [...]`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError


@dataclass
class GenerateSettings:
    """What `maaza data generate` and the pipeline's `data.generate` section set: one class for both."""

    schemas: str | None = None  # default: the task's schema folder under the data root
    n: int = 300  # samples requested, all splits together
    seed: int = 0
    schemas_include: list[str] | None = None  # schema ids or glob patterns (id or `complexity/id`); pipeline only
    styles: str | None = None  # e.g. "kv=3,prose,email"; default: every style, weighted
    val_fraction: float = 0.05
    test_fraction: float = 0.1
    optional_prob: float = 0.7
    max_items: int = 4
    max_attempts: int = 6
    datetime_tz: bool = False
    locale: str = "en_US"
    dedupe_threshold: float = 0.9
    exclude_texts: list[str] = field(default_factory=list)  # JSONL whose texts must not be generated

    def validate(self, key: Callable[[str], str] = lambda name: f"data.generate.{name}") -> None:
        """Every bad value is an error naming its key as the caller spells it (`--n`, `data.generate.n`)."""
        if self.n <= 0:
            raise MaazaError(f"{key('n')}: must be a positive number of samples (got {self.n})")
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise MaazaError(f"{key(name)}: must be in [0, 1) (got {value})")
        if self.val_fraction + self.test_fraction >= 1:
            raise MaazaError(f"{key('val_fraction')} + {key('test_fraction')} must leave rows for train (sum < 1)")
        if self.max_attempts < 1:
            raise MaazaError(f"{key('max_attempts')}: must be at least 1")
        if not 0 <= self.optional_prob <= 1:
            raise MaazaError(f"{key('optional_prob')}: must be in [0, 1]")
        if self.max_items < 1:
            raise MaazaError(f"{key('max_items')}: must be at least 1")
        if not 0 < self.dedupe_threshold <= 1:
            raise MaazaError(f"{key('dedupe_threshold')}: must be in (0, 1]")
        if self.schemas_include is not None and not self.schemas_include:
            raise MaazaError(f"{key('schemas_include')}: name at least one schema (or leave it out)")
        try:
            parse_styles(self.styles)
        except MaazaError as exc:
            raise MaazaError(f"{key('styles')}: {exc}") from None


def cli_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def generate_dataset(
    out: Path,
    schemas: Path,
    settings: GenerateSettings,
    *,
    teacher: Any,
    command: str,
    show_progress: bool = True,
    provenance: dict[str, Any] | None = None,
    resolve: Callable[[str], Path] | None = None,
) -> dict[str, Any]:
    """Generate EdgeJSON rows from the schemas under `schemas` into the dataset folder `out`; returns stats.

    The one generation path of `maaza data generate` and the pipeline's data stage. `provenance` adds keys
    to the task config recorded in the dataset card (e.g. the folder the schemas were copied from); `resolve`
    finds the `exclude_texts` files (default: as given, else under the data root).
    """
    from maaza.data.dataset import write_dataset
    from maaza.data.engine import generate_with_progress
    from maaza.data.records import RecordOptions, faker_for
    from maaza.paths import resolve_under_data_root
    from maaza.tasks.edgejson.generator import build_task, load_exclusion_texts

    faker_for(settings.locale)
    options = RecordOptions(optional_prob=settings.optional_prob, max_items=settings.max_items,
                            datetime_tz=settings.datetime_tz, locale=settings.locale)
    excluded = load_exclusion_texts([(resolve or resolve_under_data_root)(p) for p in settings.exclude_texts])
    task = build_task(schemas, options=options, weights=parse_styles(settings.styles), exclude_texts=excluded,
                      dedupe_threshold=settings.dedupe_threshold)
    task.config.update(provenance or {})
    result = generate_with_progress(task, teacher, n=settings.n, seed=settings.seed,
                                    max_attempts=settings.max_attempts, show_progress=show_progress)
    run_settings = {"max_attempts": settings.max_attempts, "exclude_files": list(settings.exclude_texts),
                    "command": command}
    stats = write_dataset(out, task, result, seed=settings.seed, val_fraction=settings.val_fraction,
                          test_fraction=settings.test_fraction, teacher_name=teacher.name,
                          teacher=teacher.describe(), settings=run_settings)
    stats["specs"] = len(task.specs)
    return stats


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "data",
        help="generate synthetic training data (records first, grounded text)",
        description="Synthetic data engine. 'generate' draws records from JSON Schemas (label right by "
        "construction), renders them as realistic text, optionally lets a teacher LLM rewrite it, and keeps only "
        "samples whose every value is grounded in the text.",
    )
    p.set_defaults(handler=_need_action, data_parser=p)
    actions = p.add_subparsers(dest="data_command", metavar="ACTION")
    g = actions.add_parser(
        "generate",
        help="generate train/val/test JSONL + README.md + stats.json",
        description="Generate a dataset folder: train.jsonl, val.jsonl, test.jsonl (rows {id, schema_id, "
        "complexity, prompt, expected_output, style, teacher}), a dataset card README.md and stats.json. "
        "The same seed gives the same files (stats.json timing aside).",
    )
    g.add_argument("--task", default="edgejson", choices=["edgejson"], help="task module (default: edgejson)")
    g.add_argument("--schemas", default=None,
                   help="folder of JSON Schemas, any depth; a nested file's folder name is its complexity "
                   "(default: edgejson_v3/schemas under the data root)")
    g.add_argument("--n", type=int, required=True, help="number of samples to generate (all splits together)")
    g.add_argument("--out", required=True, help="output folder (created; existing dataset files are replaced)")
    g.add_argument("--teacher", default="template", choices=["template", "openai", "hf"],
                   help="template (offline, default), openai (any OpenAI-compatible endpoint) or hf (local model)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--val-fraction", type=float, default=0.05, help="share of rows in val.jsonl (default 0.05)")
    g.add_argument("--test-fraction", type=float, default=0.05, help="share of rows in test.jsonl (default 0.05)")
    g.add_argument("--exclude-texts", nargs="+", action="extend", default=[], metavar="JSONL",
                   help="JSONL files whose prompt/text must not appear (even nearly) in the output, "
                   "e.g. edgejson_v3/test.jsonl")
    g.add_argument("--styles", default=None,
                   help="render styles with optional weights, e.g. 'kv=3,prose,email' "
                   "(styles: kv, prose, email, chat, log, table, document, listing; default: all but listing, weighted)")
    g.add_argument("--max-attempts", type=int, default=6, help="tries per sample before it is dropped (default 6)")
    g.add_argument("--optional-prob", type=float, default=0.7, help="chance an optional field is present (0.7)")
    g.add_argument("--max-items", type=int, default=4, help="default maximum array length (default 4)")
    g.add_argument("--datetime-tz", action="store_true", help="date-time values carry a UTC offset")
    g.add_argument("--locale", default="en_US", help="Faker locale (default en_US)")
    g.add_argument("--dedupe-threshold", type=float, default=0.9,
                   help="character-shingle Jaccard at or above which texts are near-duplicates (default 0.9)")
    g.add_argument("--teacher-url", default=None, help="OpenAI-compatible base URL (or $MAAZA_TEACHER_URL)")
    g.add_argument("--teacher-model", default=None,
                   help="teacher model: served model name (openai) or a maaza model name/folder (hf); "
                   "or $MAAZA_TEACHER_MODEL")
    g.add_argument("--teacher-api-key", default=None, help="API key (prefer $MAAZA_TEACHER_API_KEY)")
    g.add_argument("--concurrency", type=int, default=4, help="parallel teacher requests (default 4)")
    g.add_argument("--teacher-timeout", type=float, default=60.0, help="seconds per teacher request (default 60)")
    g.add_argument("--teacher-retries", type=int, default=5, help="retries on 429/5xx/timeouts (default 5)")
    g.add_argument("--teacher-max-tokens", type=int, default=1024, help="max tokens per rewrite (default 1024)")
    g.add_argument("--teacher-cache", default=None,
                   help="JSONL answer cache; an interrupted run resumes from it (default OUT/teacher_cache.jsonl)")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    g.set_defaults(handler=run_generate)


def _need_action(args: argparse.Namespace) -> int:
    args.data_parser.print_help(sys.stderr)
    return 2


def parse_styles(text: str | None) -> dict[str, float] | None:
    """`kv=3,prose,email=0.5` -> {"kv": 3.0, "prose": 1.0, "email": 0.5}; None keeps the defaults."""
    from maaza.data.render import STYLES

    if text is None:
        return None
    weights: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in STYLES:
            raise MaazaError(f"unknown style '{name}' in --styles; choose from {', '.join(STYLES)}")
        try:
            weights[name] = float(weight) if weight else 1.0
        except ValueError:
            raise MaazaError(f"--styles: weight of '{name}' must be a number, got '{weight}'") from None
        if weights[name] < 0:
            raise MaazaError(f"--styles: weight of '{name}' must not be negative")
    if not weights or not any(w > 0 for w in weights.values()):
        raise MaazaError("--styles needs at least one style with a positive weight")
    return weights


_REPRODUCE_SKIP = {"handler", "data_parser", "data_command", "command", "out", "no_progress", "teacher_api_key",
                   "teacher_cache", "schemas"}


def reproduce_command(args: argparse.Namespace, schemas: str) -> str:
    """The command line that regenerates this dataset (output folder and API key left out)."""
    parts = ["maaza data generate", f"--schemas {schemas}"]
    for name, value in vars(args).items():
        if name in _REPRODUCE_SKIP or value is None or value is False or value == []:
            continue
        if args.teacher == "template" and (name.startswith("teacher_") or name == "concurrency"):
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, list):
            parts.append(f"{flag} {' '.join(str(v) for v in value)}")
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts) + " --out OUT"


def settings_from_args(args: argparse.Namespace) -> GenerateSettings:
    settings = GenerateSettings(
        schemas=args.schemas, n=args.n, seed=args.seed, styles=args.styles, val_fraction=args.val_fraction,
        test_fraction=args.test_fraction, optional_prob=args.optional_prob, max_items=args.max_items,
        max_attempts=args.max_attempts, datetime_tz=args.datetime_tz, locale=args.locale,
        dedupe_threshold=args.dedupe_threshold, exclude_texts=list(args.exclude_texts),
    )
    settings.validate(cli_flag)
    return settings


def run_generate(args: argparse.Namespace) -> int:
    from maaza.data.teachers import make_teacher
    from maaza.paths import resolve_under_data_root
    from maaza.tasks.edgejson import default_paths

    settings = settings_from_args(args)
    schemas = args.schemas
    if schemas is None:
        schemas = default_paths()[1]
        if schemas is None:
            raise MaazaError("no schema folder: pass --schemas DIR (or set MAAZA_DATA_DIR)")
    schemas = resolve_under_data_root(schemas)
    out = Path(args.out)
    cache = args.teacher_cache or (out / "teacher_cache.jsonl" if args.teacher != "template" else None)
    teacher = make_teacher(
        args.teacher, url=args.teacher_url, model=args.teacher_model,
        api_key=args.teacher_api_key or os.environ.get("MAAZA_TEACHER_API_KEY"), concurrency=args.concurrency,
        timeout=args.teacher_timeout, max_retries=args.teacher_retries, max_tokens=args.teacher_max_tokens,
        cache_path=cache,
    )
    stats = generate_dataset(out, schemas, settings, teacher=teacher, command=reproduce_command(args, str(schemas)),
                             show_progress=not args.no_progress)
    splits = stats["splits"]
    print(f"wrote {stats['written']} rows (train {splits['train']}, val {splits['val']}, test {splits['test']}) "
          f"to {out} in {stats['timing']['seconds']:.1f} s ({stats['timing']['samples_per_s']} samples/s)")
    rejects = stats["rejects"]
    if rejects["total"]:
        top = ", ".join(f"{k} x{v}" for k, v in list(rejects["by_reason"].items())[:5])
        print(f"rejected {rejects['total']} candidates: {top}; slots given up: {stats['dropped_slots']}")
    return 0
