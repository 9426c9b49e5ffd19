"""Time the README's main job (`maaza pipeline configs/quickstart_json.yaml`) and record its lift.

    python benchmarks/quickstart.py                          # fresh run in runs/quickstart_bench (~10 min)
    python benchmarks/quickstart.py --existing runs/quickstart_json   # summarise a finished run folder

Goal (issue #5): the whole loop on the embedded default finishes in <= 15 minutes on this 2-core CPU and
shows a measured lift (constrained JSONExact of the fine-tuned model vs the base model on the same
held-out generated rows). Writes benchmarks/results/quickstart.json|md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from pathlib import Path

from common import RESULTS_DIR, maaza_cli, num, pct, provenance_header
from maaza.io import atomic_write_json, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "quickstart_json.yaml"
GOAL_MINUTES = 15


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--existing", default=None, help="a finished quickstart run folder to summarise")
    args = parser.parse_args()
    wall = None
    if args.existing:
        run_dir = Path(args.existing)
    else:
        run_dir = REPO / "runs" / "quickstart_bench"
        shutil.rmtree(run_dir, ignore_errors=True)
        started = time.perf_counter()
        command = [maaza_cli(), "pipeline", str(CONFIG), "--out", str(run_dir)]
        subprocess.run(command, check=True)
        wall = time.perf_counter() - started
    pipeline = json.loads((run_dir / "pipeline.json").read_text())
    base = json.loads((run_dir / "eval" / "base.json").read_text())
    tuned = json.loads((run_dir / "eval" / "finetuned.json").read_text())
    env = tuned["environment"]
    seconds = wall if wall is not None else pipeline["seconds"]
    stages = {s["name"]: round(s["seconds"], 1) for s in pipeline["stages"]}
    payload = {
        "run_dir": str(run_dir),
        "pipeline_seconds": pipeline["seconds"],
        "wall_seconds": wall,
        "goal_minutes": GOAL_MINUTES,
        "stages": stages,
        "base": base["metrics"]["overall"],
        "finetuned": tuned["metrics"]["overall"],
        "environment": env,
    }
    atomic_write_json(RESULTS_DIR / "quickstart.json", payload)
    b, t = base["metrics"]["overall"], tuned["metrics"]["overall"]
    lines = [
        provenance_header("Quickstart: `maaza pipeline configs/quickstart_json.yaml` on the embedded default", env),
        f"Pipeline time: **{seconds / 60:.1f} min** (goal <= {GOAL_MINUTES} min; stages in seconds: "
        + ", ".join(f"{k} {v}" for k, v in stages.items()) + ").",
        "",
        "| model | rows | JSONExact | Field F1 | compliance | schema valid |",
        "|---|---:|---:|---:|---:|---:|",
        f"| SmolLM2-135M-Instruct (bundled, as is) | {b['n']} | {pct(b['json_exact'])} | {num(b['field_f1'])} | "
        f"{pct(b['schema_compliance'])} | {pct(b['schema_valid'])} |",
        f"| quickstart LoRA (40 steps) | {t['n']} | {pct(t['json_exact'])} | {num(t['field_f1'])} | "
        f"{pct(t['schema_compliance'])} | {pct(t['schema_valid'])} |",
        "",
        "Both evaluated schema-constrained on the same held-out generated rows (the quickstart's test split).",
    ]
    text = "\n".join(lines) + "\n"
    atomic_write_text(RESULTS_DIR / "quickstart.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
