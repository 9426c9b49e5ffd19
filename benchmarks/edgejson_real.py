"""MLM-135M-JSON on real texts: our hand-written set (e-mails, chats, logs, invoices, notes) next to EdgeJSON v3.

    python benchmarks/edgejson_real.py                                  # generate, train (g), eval, report
    python benchmarks/edgejson_real.py --stages eval report --systems f # re-evaluate adapter (f) only
    python benchmarks/edgejson_real.py --stages check                   # check the hand-written set

Test sets: `benchmarks/data/edgejson_real/test.jsonl` (hand-written, over the 25 v3 schemas and 6 of ours in
`benchmarks/data/edgejson_real/schemas`, gold values spans of the text: `maaza.tasks.edgejson.handwritten`) and
EdgeJSON v3 test (158 rows). Every system is evaluated the way the shipped model is: merged model as F16 GGUF on
llama.cpp, schema-constrained + loop guard + grounded (free strings and numbers copied from the text), 2048-token
budget, schema-chat prompt.

Systems: (f) the shipped adapter (benchmarks/data_lift.py's third warm start); (g) (f) trained on v3 train plus
rows of the realistic render styles (`maaza.data.realistic`: thread, conversation, notes, pdf, with distractor
values of the same type) and some of the older prose/email/chat styles, at lr 2e-4, 5% warm-up, `--max-steps`
optimizer steps (the CPU budget of one session). The 6 new schemas are never generated: they measure schemas
the model was not trained on.

Writes benchmarks/results/edgejson_real.json|md, one eval JSON per system and test set, and (g)'s adapter to
benchmarks/artifacts/mlm_135m_json_realistic.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from common import ARTIFACTS_DIR, RESULTS_DIR, num, pct, provenance_header
from data_lift import WORK, MixedRun, f16_gguf, generate, mixed_config
from maaza.envinfo import environment
from maaza.eval.runner import EvalConfig, EvalRun
from maaza.io import atomic_write_json, atomic_write_text
from maaza.report.card import write_card
from maaza.tasks.edgejson import default_paths
from maaza.tasks.edgejson.handwritten import main as check_main
from maaza.train.checkpoint import latest_checkpoint
from maaza.train.recipe import Recipe
from train_mlm_135m_json import export_adapter_fp16

REPO = Path(__file__).resolve().parents[1]
REAL_DIR = REPO / "benchmarks" / "data" / "edgejson_real"
REAL_TEST = REAL_DIR / "test.jsonl"
REAL_SCHEMAS = REAL_DIR / "schemas"
STYLES = "thread=1,conversation=1,notes=1,pdf=1,prose=0.25,email=0.25,chat=0.25"
REALISTIC_RUN = MixedRun(
    label="(g) (f) + v3 train + realistic styles",
    generate_n=760,
    epochs=1.0,
    generated=WORK / "generated_realistic_760_seed5",
    run_dir=WORK / "realistic",
    artifact=ARTIFACTS_DIR / "mlm_135m_json_realistic",
    result_name="realistic",
    design="starts from (f)'s adapter; v3 train + 760 generated rows of the realistic styles "
    f"({STYLES}, seed 5) at lr 2e-4, 5% warm-up",
    seed=5,
    init_adapter=ARTIFACTS_DIR / "mlm_135m_json_warm_start_3",
    overrides=("train.lr=2e-4", "train.warmup_ratio=0.05"),
)
SYSTEMS = {
    "f": ("(f) shipped adapter", ARTIFACTS_DIR / "mlm_135m_json_warm_start_3"),
    "g": (REALISTIC_RUN.label, REALISTIC_RUN.artifact),
}


def test_sets() -> dict[str, tuple[Path, str]]:
    """name -> (rows, schema folders joined by os.pathsep)."""
    v3_rows, v3_schemas = default_paths()
    return {
        "real": (REAL_TEST, f"{v3_schemas}{os.pathsep}{REAL_SCHEMAS}"),
        "v3": (Path(v3_rows), str(v3_schemas)),
        # the held-out test split of (g)'s generated rows (never trained on): the generator's own texts
        "generated": (REALISTIC_RUN.generated / "test.jsonl", str(v3_schemas)),
    }


def evaluate(system: str, test_set: str, limit: int | None) -> dict[str, Any]:
    """One system on one test set, decoded as the shipped model is (F16 GGUF, constrained + guard + grounded)."""
    _, adapter = SYSTEMS[system]
    gguf = f16_gguf(adapter, f"mlm-135m-json-{system}", WORK / f"exports_real_{system}")
    rows, schemas = test_sets()[test_set]
    config = EvalConfig(data=str(rows), schemas=schemas, model=str(gguf), backend="llamacpp", batch_size=1,
                        constrained=True, loop_guard=True, grounded=True, limit=limit, max_new_tokens=2048)
    return EvalRun(config, RESULTS_DIR / f"edgejson_real_{system}_{test_set}.json").run()


def summary(result: dict[str, Any]) -> dict[str, Any]:
    metrics = result["metrics"]
    overall = metrics["overall"]
    groups = metrics.get("by_complexity", {})
    return {
        "rows": result["data"]["rows"],
        "json_exact": overall["json_exact"],
        "field_f1": overall["field_f1"],
        "schema_valid": overall["schema_valid"],
        "by_complexity": {name: {"rows": g["n"], "json_exact": g["json_exact"],
                                 "field_f1": g["field_f1"]} for name, g in groups.items()},
        "commit": result["environment"]["git_commit"],
    }


def genre_table(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """JSONExact / Field F1 per genre of the hand-written set (from the per-row results)."""
    genres = {row["id"]: row["genre"] for row in map(json.loads, REAL_TEST.read_text().splitlines()) if row}
    new = {path.stem for path in REAL_SCHEMAS.rglob("*.json")}
    by: dict[str, list[dict[str, Any]]] = {}
    for row in result["examples"]:
        by.setdefault(genres.get(row["id"], "?"), []).append(row)
        by.setdefault("new schemas" if row["schema_id"] in new else "v3 schemas", []).append(row)
    return {name: {"rows": len(rows), "json_exact": sum(r["json_exact"] for r in rows) / len(rows),
                   "field_f1": sum(r["field_f1"] for r in rows) / len(rows)} for name, rows in sorted(by.items())}


def report(results: dict[str, Any]) -> str:
    lines = [provenance_header("MLM-135M-JSON on real texts: hand-written set next to EdgeJSON v3",
                               results["environment"]), ""]
    lines += ["Decoding for every row: F16 GGUF on llama.cpp, schema-constrained + loop guard + grounded, "
              "schema-chat prompt, 2048-token budget.", ""]
    lines += ["| system | real JSONExact | real Field F1 | real simple | real medium | real complex | "
              "v3 JSONExact | v3 Field F1 | generated JSONExact | generated Field F1 |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for entry in results["systems"].values():
        real, v3, generated = entry.get("real"), entry.get("v3"), entry.get("generated")

        def level(result: dict[str, Any] | None, name: str) -> str:
            group = (result or {}).get("by_complexity", {}).get(name)
            return pct(group["json_exact"]) if group else "-"

        lines.append(f"| {entry['label']} | {pct(real['json_exact']) if real else '-'} | "
                     f"{num(real['field_f1']) if real else '-'} | {level(real, 'simple')} | {level(real, 'medium')} | "
                     f"{level(real, 'complex')} | {pct(v3['json_exact']) if v3 else '-'} | "
                     f"{num(v3['field_f1']) if v3 else '-'} | {pct(generated['json_exact']) if generated else '-'} | "
                     f"{num(generated['field_f1']) if generated else '-'} |")
    lines += ["", "real: the 104 hand-written texts; v3: EdgeJSON v3 test (158 rows); generated: the 38 held-out "
              "test rows of (g)'s generated realistic data (seed 5, never trained on)."]
    for entry in results["systems"].values():
        genres = entry.get("real_by_genre")
        if not genres:
            continue
        lines += ["", f"Hand-written set by genre, {entry['label']}:", "", "| genre | rows | JSONExact | Field F1 |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {name} | {g['rows']} | {pct(g['json_exact'])} | {num(g['field_f1'])} |"
                  for name, g in genres.items()]
    if "training" in results:
        lines += ["", f"(g) training: {results['training']}"]
    return "\n".join(lines) + "\n"


def write_shipped_card() -> None:
    """The model card of the shipped adapter (f), its v3 and hand-written results side by side."""
    _, adapter = SYSTEMS["f"]
    measured = [RESULTS_DIR / f"edgejson_real_f_{name}.json" for name in ("v3", "real")]
    if all(path.exists() for path in measured):
        print(f"model card: {write_card(adapter, adapter / 'README.md', [str(path) for path in measured])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "configs" / "mlm_135m_json.yaml"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    stages = ["check", "generate", "train", "eval", "report"]
    parser.add_argument("--stages", nargs="+", default=stages, choices=stages)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--sets", nargs="+", default=["real", "v3", "generated"], choices=["real", "v3", "generated"])
    parser.add_argument("--max-steps", type=int, default=64, help="optimizer steps of (g) (16 rows each)")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    if default_paths()[0] is None:
        print("EdgeJSON v3 not found: set MAAZA_DATA_DIR", file=sys.stderr)
        return 2
    out_path = RESULTS_DIR / "edgejson_real.json"
    results: dict[str, Any] = json.loads(out_path.read_text()) if out_path.exists() else {"systems": {}}
    if set(args.stages) & {"generate", "train", "eval"} or "environment" not in results:
        # a report-only run keeps the machine and command that measured
        results["environment"] = environment()
    if "check" in args.stages and check_main([str(REAL_TEST), "--schemas", test_sets()["real"][1]]) != 0:
        return 1
    if "generate" in args.stages:
        stats = generate(REALISTIC_RUN.generate_n, REALISTIC_RUN.generated, REALISTIC_RUN.seed, ["--styles", STYLES])
        results["generated"] = {k: stats[k] for k in ("written", "splits", "by_style", "rejects")}
    if "train" in args.stages:
        config = mixed_config(REALISTIC_RUN, args.config, [*args.overrides, f"train.max_steps={args.max_steps}"])
        run_dir = REALISTIC_RUN.run_dir
        train_summary = Recipe(config).run(resume=latest_checkpoint(run_dir / "checkpoints") is not None)
        export_adapter_fp16(run_dir / "adapter", REALISTIC_RUN.artifact)
        atomic_write_json(RESULTS_DIR / "edgejson_real_training_summary.json", train_summary)
    summary_path = RESULTS_DIR / "edgejson_real_training_summary.json"
    if summary_path.exists():
        facts = json.loads(summary_path.read_text())
        results["training"] = {key: facts.get(key) for key in ("steps", "train_seconds", "final_train_loss",
                                                               "best_val_loss") if key in facts}
    for system in args.systems:
        label, _ = SYSTEMS[system]
        entry = results["systems"].setdefault(system, {"label": label})
        for test_set in args.sets:
            path = RESULTS_DIR / f"edgejson_real_{system}_{test_set}.json"
            if "eval" in args.stages:
                evaluate(system, test_set, args.limit)
            if path.exists():
                result = json.loads(path.read_text())
                entry[test_set] = summary(result)
                if test_set == "real":
                    entry["real_by_genre"] = genre_table(result)
        atomic_write_json(out_path, results)
    atomic_write_json(out_path, results)
    if "report" in args.stages:
        text = report(results)
        atomic_write_text(RESULTS_DIR / "edgejson_real.md", text)
        print(text)
        write_shipped_card()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
