"""Time the README's main job (`maaza pipeline configs/quickstart_json.yaml`) and record its lift.

    python benchmarks/quickstart.py                          # fresh run in runs/quickstart_bench (~10 min)
    python benchmarks/quickstart.py --existing runs/quickstart_json   # summarise a finished run folder

Goals: the whole loop on the embedded default finishes in <= 15 minutes on this 2-core CPU (issue #5), its
peak memory stays under 4 GB (issue #19: a laptop's share), and it shows a measured lift (constrained
JSONExact of the fine-tuned model vs the base model on the same held-out generated rows). Memory: the
pipeline records each stage's own peak RSS in pipeline.json (VmHWM, reset before the stage); a fresh run
also records the peak of the whole `maaza pipeline` process (getrusage of the waited child: its peak RSS,
children of its own included). Writes benchmarks/results/quickstart.json|md.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import time
from pathlib import Path

from common import RESULTS_DIR, maaza_cli, num, pct, provenance_header
from maaza.io import atomic_write_json, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "quickstart_json.yaml"
GOAL_MINUTES = 15
GOAL_RSS_GB = 4.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--existing", default=None, help="a finished quickstart run folder to summarise")
    args = parser.parse_args()
    wall = None
    process_peak_mb = None
    if args.existing:
        run_dir = Path(args.existing)
    else:
        run_dir = REPO / "runs" / "quickstart_bench"
        shutil.rmtree(run_dir, ignore_errors=True)
        started = time.perf_counter()
        command = [maaza_cli(), "pipeline", str(CONFIG), "--out", str(run_dir)]
        subprocess.run(command, check=True)
        wall = time.perf_counter() - started
        process_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    pipeline = json.loads((run_dir / "pipeline.json").read_text())
    base = json.loads((run_dir / "eval" / "base.json").read_text())
    tuned = json.loads((run_dir / "eval" / "finetuned.json").read_text())
    env = tuned["environment"]
    seconds = wall if wall is not None else pipeline["seconds"]
    stages = {s["name"]: round(s["seconds"], 1) for s in pipeline["stages"]}
    stage_rss = {s["name"]: s.get("peak_rss_mb") for s in pipeline["stages"]}
    payload = {
        "run_dir": str(run_dir),
        "pipeline_seconds": pipeline["seconds"],
        "wall_seconds": wall,
        "goal_minutes": GOAL_MINUTES,
        "stages": stages,
        "stage_peak_rss_mb": stage_rss,
        "process_peak_rss_mb": round(process_peak_mb, 1) if process_peak_mb else None,
        "goal_rss_gb": GOAL_RSS_GB,
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
        f"Peak RSS: **{_gb(process_peak_mb)}** for the whole `maaza pipeline` process (goal < {GOAL_RSS_GB:.0f} GB); "
        "each stage's own peak: " + ", ".join(f"{k} {_gb(v)}" for k, v in stage_rss.items()) + ".",
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


def _gb(mb: float | None) -> str:
    return "-" if mb is None else f"{mb / 1024:.2f} GB"


if __name__ == "__main__":
    raise SystemExit(main())
