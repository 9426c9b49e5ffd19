"""Does generated data help? MLM-135M-JSON trained on (a) EdgeJSON v3 train vs (b) v3 train + generated rows.

    python benchmarks/data_lift.py                          # generate, train (b, resumes), eval, teacher, report
    python benchmarks/data_lift.py --stages eval report     # re-evaluate the committed (b) adapter

    python benchmarks/data_lift.py --run more_data          # only the (c) run
    python benchmarks/data_lift.py --run warm_start         # only (d) (needs (c)'s committed adapter)
    python benchmarks/data_lift.py --run warm_start_2 --stages generate train eval report   # only (e)
    python benchmarks/data_lift.py --run warm_start_3 --stages generate train eval report   # only (f)

Design: every run uses `configs/mlm_135m_json.yaml`. (a) is the committed benchmark adapter
(`benchmarks/train_mlm_135m_json.py`: 1.5 epochs over v3 train, 53 steps of 16 rows). The generated rows come
from `maaza data generate` (template teacher, seed 1, v3 test texts excluded).
- (b) `equal_steps`: the same 53 steps spent on one epoch over v3 train plus as many generated rows as fill
  the remaining half epoch (equal compute: does a generated row replace a v3 repeat?).
- (c) `more_data`: the unchanged recipe (1.5 epochs) over v3 train plus about one hour of this CPU's training
  on generated rows on top (the issue's "as many samples as this CPU trains in about an hour").
- (d) `warm_start`: (c)'s adapter (`model.init_adapter`) trained one more epoch over v3 train plus 1300 new
  generated rows (seed 2), at the published lr 2e-4 with a 5% warm-up: another hour of this CPU.
- (e) `warm_start_2`: the same step once more from (d)'s adapter, with generated rows of seed 3.
- (f) `warm_start_3`: and once more from (e)'s adapter, with generated rows of seed 4.
All are evaluated the same way: the merged model as F16 GGUF on llama.cpp, schema-constrained, 2048-token
budget, all 158 v3 test rows. The generation throughput of the template teacher and of a local-server teacher
(llama-cpp-python's OpenAI-compatible server running the bundled SmolLM2 Q4_1 GGUF) is measured on this CPU too.

Writes benchmarks/results/data_lift.json|md and each run's adapter (fp16) to benchmarks/artifacts/.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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
BASELINE = {  # (a): the committed v3-only adapter and its constrained F16 eval (benchmarks/train_mlm_135m_json.py)
    "adapter": ARTIFACTS_DIR / "mlm_135m_json",
    "training_summary": RESULTS_DIR / "train_mlm_135m_json_training_summary.json",
    "eval": RESULTS_DIR / "train_mlm_135m_json_llamacpp-f16_constrained.json",
}
GENERATE_SEED = 1


@dataclass(frozen=True)
class MixedRun:
    """One (v3 train + generated) training run: how many rows to generate, epochs, where its outputs go."""

    label: str
    generate_n: int
    epochs: float
    generated: Path
    run_dir: Path
    artifact: Path
    result_name: str  # benchmarks/results/data_lift_{result_name}_{constrained,training_summary}.json
    design: str
    seed: int = GENERATE_SEED  # of `maaza data generate`
    init_adapter: Path | None = None  # model.init_adapter: continue from a trained adapter
    overrides: tuple[str, ...] = ()  # recipe --set overrides of this run


def warm_start(letter: str, result_name: str, *, seed: int, previous: tuple[str, str]) -> MixedRun:
    """Run `letter`: the adapter of run `previous` (letter, result name) trained one more epoch over v3 train
    plus 1300 new generated rows of `seed`, at lr 2e-4 with a 5% warm-up (`model.init_adapter`)."""
    previous_letter, previous_name = previous
    return MixedRun(
        label=f"({letter}) ({previous_letter}) + 1 epoch on v3 + new generated",
        generate_n=1300,
        epochs=1.0,
        generated=WORK / f"generated_1300_seed{seed}",
        run_dir=WORK / result_name,
        artifact=ARTIFACTS_DIR / f"mlm_135m_json_{result_name}",
        result_name=result_name,
        design=f"starts from ({previous_letter})'s adapter (model.init_adapter); one more epoch over v3 train + "
        f"1300 new generated rows (seed {seed}) at lr 2e-4, 5% warm-up",
        seed=seed,
        init_adapter=ARTIFACTS_DIR / f"mlm_135m_json_{previous_name}",
        overrides=("train.lr=2e-4", "train.warmup_ratio=0.05"),
    )


MIXED_RUNS = {
    "equal_steps": MixedRun(
        label="(b) v3 train + generated, equal steps",
        generate_n=400,  # ~300 train rows after the 1536-token cut: one v3 epoch + these = (a)'s 53 steps
        epochs=1.0,
        generated=WORK / "generated",
        run_dir=WORK / "mixed",
        artifact=ARTIFACTS_DIR / "mlm_135m_json_mixed",
        result_name="mixed",
        design="same 53 steps as (a): each v3 train row and each generated row once",
    ),
    "more_data": MixedRun(
        label="(c) v3 train + 1 h of generated",
        # ~970 train rows after the val split and the 1536-token cut; 1.5 epochs over them at ~158 useful
        # tokens/s is about an hour of this CPU on top of (a)'s 1.5 epochs over v3 train
        generate_n=1300,
        epochs=1.5,
        generated=WORK / "generated_1300",
        run_dir=WORK / "more_data",
        artifact=ARTIFACTS_DIR / "mlm_135m_json_more_data",
        result_name="more_data",
        design="(a)'s recipe unchanged (1.5 epochs) over v3 train + generated rows",
    ),
    # (c)'s adapter trained one more epoch over v3 train + a fresh generated set (seed 2: rows (c) never saw),
    # at the published lr with a short warm-up: another hour of this CPU; (e) and (f) repeat the step from
    # the run before (does each further hour still pay? (d) gave +3.2, (e) +5.0 points)
    "warm_start": warm_start("d", "warm_start", seed=2, previous=("c", "more_data")),
    "warm_start_2": warm_start("e", "warm_start_2", seed=3, previous=("d", "warm_start")),
    "warm_start_3": warm_start("f", "warm_start_3", seed=4, previous=("e", "warm_start_2")),
}
TEACHER_SAMPLES = 12  # the local-server teacher's throughput sample (each rewrite is one 135M generation)


def generate(n: int, out: Path, seed: int, extra: list[str], schemas: Path | None = None) -> dict[str, Any]:
    """Run `maaza data generate` (the command users run) and return its stats.json; `schemas` (default: all
    of v3's) is the folder its schemas come from."""
    if schemas is None:
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


def mixed_config(run: MixedRun, config_path: str, overrides: list[str]) -> TrainConfig:
    """The benchmark recipe over v3 train + the run's generated train split, for the run's epochs."""
    config = load_config(TrainConfig, config_path, [*run.overrides, *overrides])
    config.output_dir = str(run.run_dir)
    config.name = f"mlm-135m-json-{run.result_name.replace('_', '-')}"
    config.data.train = [*config.data.train, str(run.generated / "train.jsonl")]
    config.train.epochs = run.epochs
    if run.init_adapter is not None:
        config.model.init_adapter = str(run.init_adapter)
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


def f16_gguf(adapter: Path, name: str, exports: Path) -> Path:
    """The adapter merged into the base and written as F16 GGUF under `exports` (reused when already there)."""
    from maaza.export.command import export_model

    sizes = exports / "sizes.json"
    if not sizes.is_file() or "gguf-f16" not in json.loads(sizes.read_text())["formats"]:
        export_model(exports, ["merged", "gguf-f16"], adapter=str(adapter), name=name, report=print)
    return exports / json.loads(sizes.read_text())["formats"]["gguf-f16"]["path"]


def evaluate(adapter: Path, name: str, exports: Path, limit: int | None) -> dict[str, Any]:
    """The merged model as F16 GGUF on llama.cpp, constrained, 2048 budget: the baseline's eval."""
    gguf = f16_gguf(adapter, name, exports)
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
    lines.append("")
    for label, run in runs.items():
        if "lift_over_a" not in run:
            continue
        lift = run["lift_over_a"]
        parts = ", ".join(f"{c} {v:+.1f}" for c, v in lift["by_complexity"].items())
        lines.append(
            f"- Lift of {label.split(' ')[0]} over (a), JSONExact points: overall {lift['json_exact']:+.1f} "
            f"({parts}); Field F1 {lift['field_f1']:+.3f}."
        )
    lines.append("")
    for label, run in runs.items():
        lines.append(f"- {label.split(' ')[0]}: {run['design']}.")
    lines += [
        "",
        "Cells by complexity: JSONExact / Field F1. Eval: merged model as F16 GGUF on llama.cpp, "
        "schema-constrained, 2048-token budget (no loop guard, as (a) was evaluated). Batch 16 rows per step; "
        "rows longer than 1536 tokens are dropped (counted in the training summaries).",
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
    for name, gen in results.get("generated_datasets", {}).items():
        lines += [
            "",
            f"Generated set of {MIXED_RUNS[name].label.split(' ')[0]}: {gen['written']} rows (train "
            f"{gen['splits']['train']}), by complexity {gen['by_complexity']}, by style {gen['by_style']}; "
            f"command `{gen['command']}`.",
        ]
    return "\n".join(lines) + "\n"


def lift_over(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """JSONExact points and Field F1 of eval b minus eval a, overall and by complexity."""
    return {
        "json_exact": round(100 * (b["overall"]["json_exact"] - a["overall"]["json_exact"]), 1),
        "field_f1": round(b["overall"]["field_f1"] - a["overall"]["field_f1"], 3),
        "by_complexity": {
            c: round(100 * (b["by_complexity"][c]["json_exact"] - a["by_complexity"][c]["json_exact"]), 1)
            for c in a["by_complexity"]
            if c in b["by_complexity"]
        },
    }


def load_results(path: Path) -> dict[str, Any]:
    """The results so far; results written before runs had names hold one generated set (equal_steps)."""
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault("generation", {})
    results.setdefault("generated_datasets", {})
    if "generated_dataset" in results:
        results["generated_datasets"].setdefault("equal_steps", results.pop("generated_dataset"))
    results.pop("lift", None)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(REPO / "configs" / "mlm_135m_json.yaml"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    stages = ["generate", "train", "eval", "teacher", "report"]
    parser.add_argument("--stages", nargs="+", default=stages, choices=stages)
    parser.add_argument(
        "--run",
        dest="runs",
        nargs="+",
        default=list(MIXED_RUNS),
        choices=list(MIXED_RUNS),
        help="which (v3 + generated) runs the generate/train/eval stages work on",
    )
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N test rows")
    parser.add_argument("--teacher-samples", type=int, default=TEACHER_SAMPLES)
    args = parser.parse_args()
    if default_paths()[0] is None:
        print("EdgeJSON v3 not found: set MAAZA_DATA_DIR", file=sys.stderr)
        return 2
    out_path = RESULTS_DIR / "data_lift.json"
    results = load_results(out_path)
    results["environment"] = environment()

    def save() -> None:
        atomic_write_json(out_path, results)

    for name in args.runs:
        run = MIXED_RUNS[name]
        if "generate" in args.stages:
            stats = generate(run.generate_n, run.generated, run.seed, [])
            dataset = {k: stats[k] for k in ("written", "splits", "by_complexity", "by_style")}
            dataset["command"] = stats["generator"]["command"]
            results["generated_datasets"][name] = dataset
            results["generation"]["template"] = {
                "teacher": "template (offline)",
                "written": stats["written"],
                "seconds": stats["timing"]["seconds"],
                "samples_per_s": stats["timing"]["samples_per_s"],
                "rejects": stats["rejects"],
            }
            save()
        if "train" in args.stages:
            config = mixed_config(run, args.config, args.overrides)
            summary = Recipe(config).run(resume=latest_checkpoint(run.run_dir / "checkpoints") is not None)
            export_adapter_fp16(run.run_dir / "adapter", run.artifact)
            atomic_write_json(RESULTS_DIR / f"data_lift_{run.result_name}_training_summary.json", summary)
        if "eval" in args.stages:
            evaluate(run.artifact, run.result_name, WORK / f"exports_{run.result_name}", args.limit)

    baseline = {
        "training": training_facts(json.loads(BASELINE["training_summary"].read_text())),
        "eval": summarize(json.loads(BASELINE["eval"].read_text())),
        "design": "1.5 epochs over v3 train",
    }
    runs: dict[str, Any] = {"(a) v3 train": baseline}
    for name, run in MIXED_RUNS.items():
        summary_path = RESULTS_DIR / f"data_lift_{run.result_name}_training_summary.json"
        eval_path = RESULTS_DIR / f"data_lift_{run.result_name}_constrained.json"
        if not summary_path.exists():
            continue
        entry: dict[str, Any] = {
            "run": name,
            "design": run.design,
            "training": training_facts(json.loads(summary_path.read_text())),
        }
        if eval_path.exists():
            entry["eval"] = summarize(json.loads(eval_path.read_text()))
            entry["lift_over_a"] = lift_over(baseline["eval"], entry["eval"])
        runs[run.label] = entry
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
