"""Where the quickstart's memory goes: peak RSS of its LoRA training per micro-batch token budget.

    python benchmarks/train_memory.py                       # budgets 2048 1024 512, 6 steps each
    python benchmarks/train_memory.py --budgets 2048 512 --steps 4

Each budget trains the quickstart recipe (configs/quickstart_json.yaml's train section: LoRA r16 on the
bundled SmolLM2-135M, batch 8) for a few steps on the quickstart's generated rows, in its own process, and
records that process's peak RSS (VmHWM) before training (model loaded) and at the end, and its useful
tokens/s. Rows come from a finished quickstart run folder (default runs/quickstart_bench/data, written by
benchmarks/quickstart.py). Writes benchmarks/results/train_memory.json|md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import RESULTS_DIR, provenance_header
from maaza.io import atomic_write_json, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "quickstart_json.yaml"

CHILD = r"""
import json, sys
from maaza.config import from_dict
from maaza.envinfo import peak_rss_mb
from maaza.pipeline.config import build_train_config
from maaza.train.config import TrainConfig
from maaza.train.recipe import Recipe
import yaml

config_path, data_dir, out, budget, steps = sys.argv[1:6]
section = yaml.safe_load(open(config_path))["train"]
config = build_train_config(section, None)
config.output_dir = out
config.data.train = [f"{data_dir}/train.jsonl"]
config.data.val = f"{data_dir}/val.jsonl"
config.data.schemas = f"{data_dir}/schemas"
config.train.micro_batch_tokens = int(budget)
config.train.max_steps = int(steps)
config.eval.every_steps = 10**6
config.checkpoint.every_steps = 10**6
config.logging.progress = False
config.logging.tensorboard = False
summary = Recipe(config).run()
print("RESULT " + json.dumps({"peak_rss_mb": round(peak_rss_mb(), 1), "steps": summary["steps"],
                              "useful_tokens_per_s": summary["useful_tokens_per_s"],
                              "padding_efficiency": summary["padding_efficiency"]}))
"""


def measure(budget: int, steps: int, data_dir: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, "-c", CHILD, str(CONFIG), str(data_dir), out, str(budget), str(steps)],
                              check=True, capture_output=True, text=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return {"micro_batch_tokens": budget, **json.loads(line.removeprefix("RESULT "))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[2048, 1024, 512])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--data", type=Path, default=REPO / "runs" / "quickstart_bench" / "data")
    args = parser.parse_args()
    rows = []
    for budget in args.budgets:
        rows.append(measure(budget, args.steps, args.data))
        print(rows[-1], flush=True)
    atomic_write_json(RESULTS_DIR / "train_memory.json", {"rows": rows, "steps": args.steps})
    lines = [
        provenance_header("Quickstart LoRA training: peak RSS by micro-batch token budget"),
        f"The quickstart recipe (LoRA r16, SmolLM2-135M fp32, batch 8 rows of ~216 tokens) for {args.steps} "
        "steps per budget, each in its own process; peak RSS is the process's VmHWM (model, optimizer, "
        "activations).",
        "",
        "| micro_batch_tokens | peak RSS | useful tok/s |",
        "|---:|---:|---:|",
        *[f"| {r['micro_batch_tokens']} | {r['peak_rss_mb'] / 1024:.2f} GB | {r['useful_tokens_per_s']} |" for r in rows],
        "",
    ]
    atomic_write_text(RESULTS_DIR / "train_memory.md", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
