"""Does generated data help? MLM-135M-JSON trained on (a) EdgeJSON v3 train vs (b) v3 train + generated rows.

    python benchmarks/data_lift.py                          # generate, train (b, resumes), eval, teacher, report
    python benchmarks/data_lift.py --stages eval report     # re-evaluate the committed (b) adapter

Design (equal compute): both runs use `configs/mlm_135m_json.yaml` and the same number of optimizer steps
(53 x 16 rows, about an hour on this 2-core CPU). (a) is the committed benchmark adapter
(`benchmarks/train_mlm_135m_json.py`: 1.5 epochs over v3 train). (b) spends the same steps on one epoch over
v3 train plus as many template-generated rows (`maaza data generate`, seed 1, v3 test texts excluded) as fill
the remaining half epoch. Both are evaluated the same way: the merged model as F16 GGUF on llama.cpp,
schema-constrained, 2048-token budget, all 158 v3 test rows. The generation throughput of the template
teacher and of a local-server teacher (llama-cpp-python's OpenAI-compatible server running the bundled
SmolLM2 Q4_1 GGUF) is measured on this CPU too.

Writes benchmarks/results/data_lift.json|md and the (b) adapter (fp16) to benchmarks/artifacts/mlm_135m_json_mixed/.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ARTIFACTS_DIR, RESULTS_DIR, maaza_cli, num, pct, provenance_header
from maaza.config import load_config
from maaza.envinfo import environment
from maaza.eval.runner import EvalConfig, EvalRun
from maaza.io import atomic_write_json, atomic_write_text
from maaza.paths import data_root
from maaza.tasks.edgejson import default_paths
from maaza.train.checkpoint import latest_checkpoint
from maaza.train.config import TrainConfig
from maaza.train.recipe import Recipe
from train_mlm_135m_json import export_adapter_fp16

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "runs" / "data_lift"
GENERATED = WORK / "generated"
MIXED_RUN = WORK / "mixed"
MIXED_ARTIFACT = ARTIFACTS_DIR / "mlm_135m_json_mixed"
BASELINE = {  # (a): the committed v3-only adapter and its constrained F16 eval (benchmarks/train_mlm_135m_json.py)
    "adapter": ARTIFACTS_DIR / "mlm_135m_json",
    "training_summary": RESULTS_DIR / "train_mlm_135m_json_training_summary.json",
    "eval": RESULTS_DIR / "train_mlm_135m_json_llamacpp-f16_constrained.json",
}
GENERATE_N = 400  # ~316 train rows after the 1536-token cut: one v3 epoch + these = the baseline's 53 steps
GENERATE_SEED = 1
TEACHER_SAMPLES = 12  # the local-server teacher's throughput sample (each rewrite is one 135M generation)


def generate(n: int, out: Path, seed: int, extra: list[str]) -> dict[str, Any]:
    """Run `maaza data generate` (the command users run) and return its stats.json."""
    _, schemas = default_paths()
    test_rows = Path(data_root()) / "edgejson_v3" / "test.jsonl"
    command = [
        maaza_cli(),
        "data",
        "generate",
        "--schemas",
        str(schemas),
        "--n",
        str(n),
        "--out",
        str(out),
        "--seed",
        str(seed),
        "--exclude-texts",
        str(test_rows),
        "--no-progress",
        *extra,
    ]
    subprocess.run(command, check=True)
    return json.loads((out / "stats.json").read_text())


def mixed_config(config_path: str, overrides: list[str]) -> TrainConfig:
    """The benchmark recipe with v3 train + generated train and one epoch over both (= the baseline's steps)."""
    config = load_config(TrainConfig, config_path, overrides)
    config.output_dir = str(MIXED_RUN)
    config.name = "mlm-135m-json-mixed"
    config.data.train = [*config.data.train, str(GENERATED / "train.jsonl")]
    config.train.epochs = 1.0
    return config


def teacher_throughput(samples: int) -> dict[str, Any]:
    """samples/s of the openai teacher against a local llama-cpp-python server (bundled SmolLM2 Q4_1)."""
    from maaza.data.local_server import llama_cpp_server
    from maaza.models.registry import BUILTIN_MODELS

    gguf = BUILTIN_MODELS["smollm2-135m"].locate_gguf()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "teacher"
        with llama_cpp_server(gguf, alias="smollm2", log_path=Path(tmp) / "server.log") as url:
            started = time.perf_counter()
            stats = generate(
                samples,
                out,
                GENERATE_SEED,
                [
                    "--teacher",
                    "openai",
                    "--teacher-url",
                    f"{url}/v1",
                    "--teacher-model",
                    "smollm2",
                    "--concurrency",
                    "2",
                    "--teacher-max-tokens",
                    "512",
                    "--max-attempts",
                    "2",
                ],
            )
            wall = time.perf_counter() - started
    return {
        "teacher": "openai -> llama-cpp-python server, bundled SmolLM2-135M Q4_1",
        "requested": samples,
        "written": stats["written"],
        "candidates": stats["candidates"],
        "rejects": stats["rejects"],
        "seconds": round(wall, 1),
        "samples_per_s": round(stats["written"] / wall, 3) if wall > 0 else None,
        "candidates_per_s": round(stats["candidates"] / wall, 3) if wall > 0 else None,
    }


def evaluate(adapter: Path, name: str, exports: Path, limit: int | None) -> dict[str, Any]:
    """The merged model as F16 GGUF on llama.cpp, constrained, 2048 budget: the baseline's eval."""
    from maaza.export.command import export_model

    sizes = exports / "sizes.json"
    if not sizes.is_file() or "gguf-f16" not in json.loads(sizes.read_text())["formats"]:
        export_model(exports, ["merged", "gguf-f16"], adapter=str(adapter), name=name, report=print)
    gguf = exports / json.loads(sizes.read_text())["formats"]["gguf-f16"]["path"]
    data, schemas = default_paths()
    config = EvalConfig(
        data=str(data),
        schemas=str(schemas),
        model=str(gguf),
        backend="llamacpp",
        batch_size=1,
        constrained=True,
        limit=limit,
        max_new_tokens=2048,
        loop_guard=False,  # as the baseline's eval was run (before the loop guard existed)
    )
    return EvalRun(config, RESULTS_DIR / f"data_lift_{name}_constrained.json").run()


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    metrics = results["metrics"]
    return {
        "overall": {
            k: metrics["overall"][k]
            for k in ("n", "json_exact", "field_f1", "schema_compliance", "schema_valid")
        },
        "by_complexity": {
            c: {k: v[k] for k in ("n", "json_exact", "field_f1")} for c, v in metrics["by_complexity"].items()
        },
    }


def training_facts(summary: dict[str, Any]) -> dict[str, Any]:
    data = summary["data"]
    return {
        "train_files": summary["config"]["data"]["train"],
        "train_examples": data["train"]["examples"],
        "train_tokens": data["train"]["tokens"],
        "dropped_overlength": data["dropped_overlength"],
        "steps": summary["steps"],
        "epochs": summary["epochs"],
        "train_minutes": round(summary["train_seconds"] / 60, 1),
        "useful_tokens_per_s": summary["useful_tokens_per_s"],
        "final_train_loss": summary["final_train_loss"],
        "best_val_loss": summary["best_val_loss"],
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        provenance_header(
            "Data lift: EdgeJSON v3 train vs v3 train + generated (MLM-135M-JSON, 158 test rows)",
            results.get("environment"),
        )
    ]
    lines.append(
        "| training data | rows | steps | train min | JSONExact | Field F1 | compliance | schema valid | "
        "simple | medium | complex |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|")
    runs = results["runs"]
    for label, run in runs.items():
        if "eval" not in run:
            continue
        o, by, t = run["eval"]["overall"], run["eval"]["by_complexity"], run["training"]
        cells = [
            f"{pct(by[c]['json_exact'])} / {num(by[c]['field_f1'])}" if c in by else "-"
            for c in ("simple", "medium", "complex")
        ]
        lines.append(
            f"| {label} | {t['train_examples']} | {t['steps']} | {t['train_minutes']} | {pct(o['json_exact'])} | "
            f"{num(o['field_f1'])} | {pct(o['schema_compliance'])} | {pct(o['schema_valid'])} | "
            f"{' | '.join(cells)} |"
        )
    if "lift" in results:
        lift = results["lift"]
        parts = ", ".join(
            f"{c} {lift['by_complexity'][c]:+.1f}"
            for c in ("simple", "medium", "complex")
            if c in lift["by_complexity"]
        )
        lines += [
            "",
            f"Lift of (b) over (a), JSONExact points: overall {lift['json_exact']:+.1f} ({parts}); "
            f"Field F1 {lift['field_f1']:+.3f}.",
        ]
    lines += [
        "",
        "Cells by complexity: JSONExact / Field F1. Eval: merged model as F16 GGUF on llama.cpp, "
        "schema-constrained, 2048-token budget. Equal compute: both runs take the same optimizer steps "
        "(batch 16); (b) sees each v3 train row once and each generated row once, (a) sees v3 train 1.5 "
        "times.",
        "",
        "## Generation throughput (this CPU)",
        "",
        "| teacher | samples | seconds | samples/s | rejected candidates |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in results.get("generation", {}).values():
        lines.append(
            f"| {row['teacher']} | {row['written']} | {row['seconds']} | {row['samples_per_s']} | "
            f"{row['rejects']['total']} |"
        )
    gen = results.get("generated_dataset")
    if gen:
        lines += [
            "",
            f"Generated set: {gen['written']} rows (train {gen['splits']['train']}), by complexity "
            f"{gen['by_complexity']}, by style {gen['by_style']}; command `{gen['command']}`.",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(REPO / "configs" / "mlm_135m_json.yaml"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    stages = ["generate", "train", "eval", "teacher", "report"]
    parser.add_argument("--stages", nargs="+", default=stages, choices=stages)
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N test rows")
    parser.add_argument("--teacher-samples", type=int, default=TEACHER_SAMPLES)
    args = parser.parse_args()
    if default_paths()[0] is None:
        print("EdgeJSON v3 not found: set MAAZA_DATA_DIR", file=sys.stderr)
        return 2
    out_path = RESULTS_DIR / "data_lift.json"
    results: dict[str, Any] = json.loads(out_path.read_text()) if out_path.exists() else {"generation": {}}
    results["environment"] = environment()

    def save() -> None:
        atomic_write_json(out_path, results)

    if "generate" in args.stages:
        stats = generate(GENERATE_N, GENERATED, GENERATE_SEED, [])
        results["generated_dataset"] = {
            k: stats[k] for k in ("written", "splits", "by_complexity", "by_style")
        }
        results["generated_dataset"]["command"] = (
            stats["generator"]["command"]
            if "generator" in stats
            else (f"maaza data generate --n {GENERATE_N} --seed {GENERATE_SEED}")
        )
        results["generation"]["template"] = {
            "teacher": "template (offline)",
            "written": stats["written"],
            "seconds": stats["timing"]["seconds"],
            "samples_per_s": stats["timing"]["samples_per_s"],
            "rejects": stats["rejects"],
        }
        save()
    if "train" in args.stages:
        config = mixed_config(args.config, args.overrides)
        summary = Recipe(config).run(resume=latest_checkpoint(MIXED_RUN / "checkpoints") is not None)
        export_adapter_fp16(MIXED_RUN / "adapter", MIXED_ARTIFACT)
        atomic_write_json(RESULTS_DIR / "data_lift_mixed_training_summary.json", summary)
    runs: dict[str, Any] = {}
    baseline_summary = json.loads(BASELINE["training_summary"].read_text())
    runs["(a) v3 train"] = {
        "training": training_facts(baseline_summary),
        "eval": summarize(json.loads(BASELINE["eval"].read_text())),
    }
    mixed_summary_path = RESULTS_DIR / "data_lift_mixed_training_summary.json"
    if mixed_summary_path.exists():
        runs["(b) v3 train + generated"] = {
            "training": training_facts(json.loads(mixed_summary_path.read_text()))
        }
    if "eval" in args.stages:
        evaluate(MIXED_ARTIFACT, "mixed", WORK / "exports", args.limit)
    mixed_eval = RESULTS_DIR / "data_lift_mixed_constrained.json"
    if mixed_eval.exists() and "(b) v3 train + generated" in runs:
        runs["(b) v3 train + generated"]["eval"] = summarize(json.loads(mixed_eval.read_text()))
        a, b = runs["(a) v3 train"]["eval"], runs["(b) v3 train + generated"]["eval"]
        results["lift"] = {
            "json_exact": round(100 * (b["overall"]["json_exact"] - a["overall"]["json_exact"]), 1),
            "field_f1": round(b["overall"]["field_f1"] - a["overall"]["field_f1"], 3),
            "by_complexity": {
                c: round(100 * (b["by_complexity"][c]["json_exact"] - a["by_complexity"][c]["json_exact"]), 1)
                for c in a["by_complexity"]
                if c in b["by_complexity"]
            },
        }
    results["runs"] = runs
    save()
    if "teacher" in args.stages:
        results["generation"]["local_server"] = teacher_throughput(args.teacher_samples)
        save()
    if "report" in args.stages:
        text = report(results)
        atomic_write_text(RESULTS_DIR / "data_lift.md", text)
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
