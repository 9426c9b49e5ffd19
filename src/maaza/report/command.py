"""`maaza card`, `maaza leaderboard`, `maaza publish` and `maaza refine`: argparse parsers and handlers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_card_parser(sub: Any) -> None:
    """Register `maaza card RUN_DIR [--results R.json ...] [--out PATH]`."""
    p = sub.add_parser(
        "card",
        help="write a Hugging Face model card (README.md) from a run's measured files",
        description="Build a model card from training_summary.json, results JSONs, sizes.json and maaza.json "
        "found in RUN_DIR (or its train/, eval/, export/ folders). Every number is read from those files; the "
        "published Maaza card's figures appear beside them, marked 'published'. Missing files drop their "
        "sections and the card names the command that writes them.",
    )
    p.add_argument("run_dir", help="the run folder (maaza train output_dir)")
    p.add_argument(
        "--results",
        nargs="+",
        default=None,
        metavar="R.json",
        help="results JSONs to report (default: *.json results found in RUN_DIR, eval/, results/)",
    )
    p.add_argument("--out", default=None, help="card path (default: RUN_DIR/README.md)")
    p.add_argument("--include-partial", action="store_true", help="also use results with status 'partial'")
    p.set_defaults(handler=run_card)


def run_card(args: argparse.Namespace) -> int:
    """Handler of `maaza card`."""
    from maaza.report.card import write_card

    path = write_card(args.run_dir, args.out, args.results, include_partial=args.include_partial)
    print(f"model card: {path}")
    return 0


def add_leaderboard_parser(sub: Any) -> None:
    """Register `maaza leaderboard RESULTS... --out DIR`."""
    p = sub.add_parser(
        "leaderboard",
        help="rank results JSONs: leaderboard.md, a sortable index.html and PNG plots",
        description="One row per results JSON (model, adapter/variant, prompt format, constrained), one ranked "
        "table per test set (task, data file sha256, rows evaluated): scores on different test sets are never "
        "ranked together. The published Maaza MLM-135M-JSON v1 figures, marked 'published', appear beside "
        "results measured on EdgeJSON v3 test (158 rows), else in a section of their own. RESULTS may be "
        "files, folders (searched for *.json) or glob patterns. Results with status 'partial' are skipped "
        "unless --include-partial.",
    )
    p.add_argument("results", nargs="+", metavar="RESULTS", help="results JSONs, folders or glob patterns")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--include-partial", action="store_true", help="also rank results with status 'partial'")
    p.add_argument("--no-published", action="store_true", help="leave out the published reference rows")
    p.set_defaults(handler=run_leaderboard)


def run_leaderboard(args: argparse.Namespace) -> int:
    """Handler of `maaza leaderboard`."""
    from maaza.report.leaderboard import write_leaderboard

    summary = write_leaderboard(
        args.results, args.out, include_partial=args.include_partial, published=not args.no_published
    )
    for path, reason in summary["skipped"]:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    measured = sum(1 for e in summary["entries"] if not e.published)
    groups = len(summary["groups"])
    print(
        f"{measured} results ranked ({len(summary['entries']) - measured} published rows) in {groups} "
        f"test-set group{'s' if groups != 1 else ''} -> "
        f"{Path(args.out) / 'leaderboard.md'}, {Path(args.out) / 'index.html'}, "
        f"{sum(1 for f in summary['files'] if f.suffix == '.png')} plots"
    )
    return 0


def add_publish_parser(sub: Any) -> None:
    """Register `maaza publish RUN_DIR --repo ID`."""
    p = sub.add_parser(
        "publish",
        help="upload a run's model card and model files to the Hugging Face Hub",
        description="Upload RUN_DIR's README.md, adapter/, merged/, export/ (GGUF), sizes.json, "
        "training_summary.json and results JSONs with huggingface_hub. Needs a token (HF_TOKEN or `hf auth "
        "login`) and network; checkpoints and logs are never uploaded.",
    )
    p.add_argument("run_dir", help="the run folder (with README.md from maaza card)")
    p.add_argument("--repo", required=True, help="model repo id, OWNER/NAME (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--message", default=None, help="commit message")
    p.add_argument(
        "--dry-run", action="store_true", help="list the files that would be uploaded, upload nothing"
    )
    p.set_defaults(handler=run_publish)


def run_publish(args: argparse.Namespace) -> int:
    """Handler of `maaza publish`."""
    from maaza.report.publish import publish

    result = publish(
        args.run_dir, args.repo, private=args.private, message=args.message, dry_run=args.dry_run
    )
    if args.dry_run:
        for name in result["files"]:
            print(name)
        print(f"{len(result['files'])} files would be uploaded to {args.repo}")
        return 0
    print(f"uploaded {len(result['files'])} files to {args.repo}: {result['url']}")
    return 0


def add_refine_parser(sub: Any) -> None:
    """Register `maaza refine RESULTS.json [--baseline BASE.json] --out DIR`."""
    p = sub.add_parser(
        "refine",
        help="per-schema difficulty report: too easy, solved, improving, still failing",
        description="Classify every schema of a results JSON: too easy for the base model (baseline JSONExact "
        ">= 0.9, needs --baseline), solved (>= 0.9), still failing (< 0.5) or improving, with up to two failed "
        "rows per failing schema shown as a diff of leaf paths (expected values read by id from the data file "
        "the results name). Writes DIR/refine.md and DIR/refine.json.",
    )
    p.add_argument("results", metavar="RESULTS.json", help="results JSON of the model to examine")
    p.add_argument("--baseline", default=None, metavar="BASE.json", help="results JSON of the base model")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--data", default=None, help="rows JSONL with expected outputs (default: the results' data path)"
    )
    p.set_defaults(handler=run_refine)


def run_refine(args: argparse.Namespace) -> int:
    """Handler of `maaza refine`."""
    from maaza.report.refine import CLASSES, write_refine

    report, md_path, json_path = write_refine(
        args.results, args.out, baseline_path=args.baseline, data_path=args.data
    )
    counts = ", ".join(f"{report['counts'][name]} {name}" for name in CLASSES)
    print(f"{len(report['schemas'])} schemas: {counts}")
    print(f"report: {md_path}, {json_path}")
    return 0
