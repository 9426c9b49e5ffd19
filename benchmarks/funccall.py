"""EdgeFuncCall: the base model, the peer and MLM-135M-FuncCall on BFCL's five non-live categories.

    python benchmarks/funccall.py                                    # generate, train, eval, report
    python benchmarks/funccall.py --stages eval report --systems tuned --limit 1240   # all BFCL rows

Training data: `maaza.tasks.funccall.generator` (synthetic specs, calls and requests over many domains,
never BFCL; `tests/funccall/test_generator.py` checks that no BFCL question or function name is in it).
Model: configs/mlm_135m_funccall.yaml (LoRA on the bundled SmolLM2-135M), shipped as its fp16 adapter in
benchmarks/artifacts/mlm_135m_funccall.

Every system is decoded the same way on the same rows: llama.cpp, greedy, constrained by the JSON Schema of
calls to the row's specs (`maaza.tasks.funccall.specs.calls_schema`: only offered names, typed arguments,
required parameters, or []), loop guard on, 512-token budget, the task's `tools-chat` prompt. Systems:
`base` (the bundled SmolLM2-135M-Instruct Q4_1 GGUF, zero-shot), `peer` (Gemma 3 270M Q4_K_M, zero-shot),
`tuned` (the adapter merged into the base, F16 GGUF). `--limit` takes a slice stratified by category (the
first rows of each category in turn), the same for every system.

Writes benchmarks/results/funccall.json|md and one eval JSON per system (funccall_<system>.json).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from common import ARTIFACTS_DIR, RESULTS_DIR, num, pct, provenance_header
from data_lift import f16_gguf
from maaza.config import load_config
from maaza.envinfo import environment
from maaza.eval.runner import EvalConfig, EvalRun
from maaza.io import atomic_write_json, atomic_write_text
from maaza.paths import data_root
from maaza.tasks.funccall.report import PUBLISHED_CONTEXT
from maaza.tasks.funccall.rows import CATEGORY_ORDER
from maaza.train.checkpoint import latest_checkpoint
from maaza.train.config import TrainConfig
from maaza.train.recipe import Recipe
from train_mlm_135m_json import export_adapter_fp16

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "mlm_135m_funccall.yaml"
WORK = REPO / "runs" / "funccall"
ARTIFACT = ARTIFACTS_DIR / "mlm_135m_funccall"
SYSTEMS = {
    "base": "SmolLM2-135M-Instruct, zero-shot (bundled Q4_1)",
    "peer": "Gemma 3 270M, zero-shot (Q4_K_M)",
    "tuned": "MLM-135M-FuncCall (ours, F16 GGUF)",
}


def generate(n: int, seed: int, out: Path) -> None:
    from maaza.tasks.funccall.generator import generate_rows, write_rows

    rows = generate_rows(n, seed=seed)
    write_rows(out, rows)
    print(f"{len(rows)} generated rows -> {out}")


def train(config_path: Path, train_file: Path, overrides: list[str]) -> dict[str, Any]:
    config = load_config(TrainConfig, config_path, overrides)
    config.data.train = [str(train_file)]
    checkpoints = Path(config.output_dir) / "checkpoints"
    summary = Recipe(config).run(resume=latest_checkpoint(checkpoints) is not None)
    export_adapter_fp16(Path(config.output_dir) / "adapter", ARTIFACT)
    atomic_write_json(RESULTS_DIR / "funccall_training_summary.json", summary)
    return summary


def model_of(system: str) -> str:
    if system == "tuned":
        return str(f16_gguf(ARTIFACT, "mlm-135m-funccall", WORK / "exports"))
    from maaza.models.registry import BUILTIN_MODELS

    name = {"base": "smollm2-135m", "peer": "gemma3-270m"}[system]
    return str(BUILTIN_MODELS[name].locate_gguf())


def evaluate(system: str, limit: int | None) -> dict[str, Any]:
    root = data_root()
    if root is None or not (root / "bfcl").is_dir():
        sys.exit("BFCL is read from <data root>/bfcl ($MAAZA_DATA_DIR, or ../shared/data beside the checkout)")
    config = EvalConfig(data=str(root / "bfcl"), task="funccall", model=model_of(system), backend="llamacpp",
                        batch_size=1, constrained=True, loop_guard=True, limit=limit, max_new_tokens=512,
                        extra={"variant": SYSTEMS[system]})
    return EvalRun(config, RESULTS_DIR / f"funccall_{system}.json").run()


def summary(result: dict[str, Any]) -> dict[str, Any]:
    metrics = result["metrics"]
    by = metrics.get("by_category", {})
    overall = metrics["overall"]
    return {
        "rows": overall["n"],
        "ast_accuracy": overall["ast_accuracy"],
        "parameter_f1": overall["parameter_f1"],
        "spec_valid": overall["spec_valid"],
        "errors": overall.get("errors", {}),
        "by_category": {name: {key: by[name].get(key) for key in ("n", "ast_accuracy", "parameter_f1", "errors")}
                        for name in CATEGORY_ORDER if name in by},
        "tokens_per_s": result["timing"].get("tokens_per_s"),
        "latency_p50_s": (result["timing"].get("latency_s") or {}).get("p50"),
        "commit": result["environment"]["git_commit"],
    }


def report(results: dict[str, Any]) -> str:
    lines = [provenance_header("EdgeFuncCall: BFCL AST accuracy of 135M-270M models", results["environment"]), ""]
    lines += ["Every system: llama.cpp, greedy, constrained by the specs' JSON Schema, loop guard, tools-chat "
              "prompt, 512-token budget, the same BFCL rows (stratified slice by category).", ""]
    header = "| system | rows | " + " | ".join(CATEGORY_ORDER) + " | param F1 (simple) | param F1 (all) | spec valid | tok/s |"
    lines += [header, "|---|" + "---:|" * (len(CATEGORY_ORDER) + 6)]
    for name, entry in results["systems"].items():
        by = entry["by_category"]
        cells = [pct((by.get(c) or {}).get("ast_accuracy")) + f" ({(by.get(c) or {}).get('n', 0)})"
                 for c in CATEGORY_ORDER]
        lines.append(f"| {SYSTEMS[name]} | {entry['rows']} | {' | '.join(cells)} | "
                     f"{num((by.get('simple') or {}).get('parameter_f1'))} | {num(entry['parameter_f1'])} | "
                     f"{pct(entry['spec_valid'])} | {num(entry['tokens_per_s'], 1)} |")
    lines += ["", "Cells: AST accuracy (rows). Published BFCL figures for larger models (context, not measured here):",
              "", "| model | " + " | ".join(CATEGORY_ORDER) + " |", "|---|" + "---:|" * len(CATEGORY_ORDER)]
    for model, scores in PUBLISHED_CONTEXT.items():
        lines.append(f"| {model} | " + " | ".join(f"{scores[c]:.1f}%" if c in scores else "-"
                                                   for c in CATEGORY_ORDER) + " |")
    lines += ["", "Targets (issue #23, 135M model): simple >= 75%, multiple >= 70%, parallel >= 55%, "
              "parallel_multiple >= 45%, irrelevance >= 75%, parameter F1 on simple >= 0.85, 100% spec-valid calls.",
              "", "Error classes (all rows of each system):", ""]
    for name, entry in results["systems"].items():
        errors = ", ".join(f"{k} {v}" for k, v in entry["errors"].items()) or "none"
        lines.append(f"- {SYSTEMS[name]}: {errors}")
    training = results.get("training")
    if training:
        lines += ["", f"Training (tuned): {training}"]
    return "\n".join(lines) + "\n"


def training_facts(path: Path) -> str | None:
    if not path.exists():
        return None
    s = json.loads(path.read_text())
    keys = ("steps", "epochs_done", "train_examples", "dropped_overlength", "final_train_loss", "best_val_loss",
            "train_seconds", "tokens_per_s")
    return ", ".join(f"{key} {s[key]}" for key in keys if key in s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    stages = ["generate", "train", "eval", "report"]
    parser.add_argument("--stages", nargs="+", default=stages, choices=stages)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--n", type=int, default=2400, help="generated training rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=250, help="BFCL rows per system, stratified by category")
    parser.add_argument("--config", default=str(CONFIG))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    train_file = WORK / "data" / f"train_{args.n}_seed{args.seed}.jsonl"
    if "generate" in args.stages and not train_file.exists():
        generate(args.n, args.seed, train_file)
    if "train" in args.stages:
        train(Path(args.config), train_file, args.overrides)
    if "eval" in args.stages:
        for system in args.systems:
            evaluate(system, args.limit)
    if "report" in args.stages:
        results: dict[str, Any] = {"environment": environment(), "systems": {}}
        for system in SYSTEMS:
            path = RESULTS_DIR / f"funccall_{system}.json"
            if path.exists():
                results["systems"][system] = summary(json.loads(path.read_text()))
        results["training"] = training_facts(RESULTS_DIR / "funccall_training_summary.json")
        atomic_write_json(RESULTS_DIR / "funccall.json", results)
        atomic_write_text(RESULTS_DIR / "funccall.md", report(results))
        print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
