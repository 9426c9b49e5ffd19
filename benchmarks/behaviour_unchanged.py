"""Behaviour unchanged across a restructure: the same eval command, old and new code, row for row.

    python benchmarks/behaviour_unchanged.py --label before --src /path/to/old/checkout/src
    python benchmarks/behaviour_unchanged.py --label after            # this checkout's src
    python benchmarks/behaviour_unchanged.py --compare                # table of both runs

Adapter (f) (`benchmarks/artifacts/mlm_135m_json_warm_start_3`) is exported once as an F16 GGUF
(runs/behaviour_unchanged/, with this checkout's exporter), then each label runs
`maaza eval --backend llamacpp --constrained --grounded --limit 24 --max-new-tokens 2048 --batch-size 1`
on EdgeJSON v3 test (a stratified slice: 8 simple, 8 medium, 8 complex rows), as in
`constrained_quality/llamacpp_f16_third_warm-start_adapter_loop_guard_grounded.json`, with the code of
`--src` on PYTHONPATH. Greedy decoding is deterministic on one CPU kind, so the restructure left the
product's behaviour alone exactly when every row's raw output is the same string.

Writes benchmarks/results/behaviour_unchanged/{LABEL}.json (the eval results) and, with --compare,
benchmarks/results/behaviour_unchanged.json|md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import ARTIFACTS_DIR, RESULTS_DIR, pct, provenance_header
from maaza.envinfo import environment
from maaza.io import atomic_write_json, atomic_write_text
from maaza.tasks.edgejson import default_paths

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "runs" / "behaviour_unchanged"
OUT_DIR = RESULTS_DIR / "behaviour_unchanged"
ADAPTER = ARTIFACTS_DIR / "mlm_135m_json_warm_start_3"
ROWS = 24
MAX_NEW_TOKENS = 2048


def f16_gguf() -> Path:
    """Adapter (f) merged and written as an F16 GGUF (once; reused by every label)."""
    from maaza.export.command import export_model

    sizes = WORK / "sizes.json"
    if not sizes.is_file() or "gguf-f16" not in json.loads(sizes.read_text())["formats"]:
        export_model(WORK, ["merged", "gguf-f16"], adapter=str(ADAPTER), name="warm_start_3", report=print)
    return WORK / json.loads(sizes.read_text())["formats"]["gguf-f16"]["path"]


def run_label(label: str, src: Path) -> Path:
    test, schemas = default_paths()
    if test is None or schemas is None:
        raise SystemExit("EdgeJSON v3 is not under the data root: set MAAZA_DATA_DIR")
    out = OUT_DIR / f"{label}.json"
    command = [
        sys.executable, "-m", "maaza", "eval", "--backend", "llamacpp", "--model", str(f16_gguf()),
        "--data", str(test), "--schemas", str(schemas), "--constrained", "--grounded",
        "--limit", str(ROWS), "--max-new-tokens", str(MAX_NEW_TOKENS), "--batch-size", "1",
        "--out", str(out), "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": str(src)}
    print("$", " ".join(command), f"(PYTHONPATH={src})")
    subprocess.run(command, check=True, env=env, cwd=src.parent)  # its git commit goes in the results
    return out


def compare() -> dict[str, Any]:
    before = json.loads((OUT_DIR / "before.json").read_text())
    after = json.loads((OUT_DIR / "after.json").read_text())
    old = {e["id"]: e for e in before["examples"]}
    new = {e["id"]: e for e in after["examples"]}
    rows = []
    for row_id in old:
        a, b = old[row_id], new.get(row_id)
        rows.append({
            "id": row_id,
            "complexity": a.get("complexity"),
            "same_output": b is not None and a["raw_output"] == b["raw_output"],
            "same_scores": b is not None and all(a[k] == b[k] for k in ("json_exact", "field_f1", "schema_valid")),
            "json_exact": a["json_exact"],
            "new_tokens": (a["new_tokens"], b["new_tokens"] if b else None),
        })
    summary = {
        "rows": len(rows),
        "same_output": sum(r["same_output"] for r in rows),
        "same_scores": sum(r["same_scores"] for r in rows),
        "only_in_after": sorted(set(new) - set(old)),
        "before": {"commit": before["environment"].get("git_commit"), "metrics": before["metrics"]["overall"],
                   "tokens_per_s": before["timing"]["tokens_per_s"]},
        "after": {"commit": after["environment"].get("git_commit"), "metrics": after["metrics"]["overall"],
                  "tokens_per_s": after["timing"]["tokens_per_s"]},
        "rows_detail": rows,
        "environment": environment(),
    }
    atomic_write_json(RESULTS_DIR / "behaviour_unchanged.json", summary)
    lines = [
        provenance_header("Behaviour unchanged by the tasks-as-plug-ins restructure"),
        f"Adapter (f) as llama.cpp F16, constrained + grounded + loop guard, {ROWS} stratified EdgeJSON v3 test "
        f"rows, {MAX_NEW_TOKENS}-token budget, batch 1. `before` ran the code of commit "
        f"`{summary['before']['commit']}`, `after` the code of `{summary['after']['commit']}` (the result "
        "files' environments; a dirty tree is marked there).",
        "",
        "| run | JSONExact | Field F1 | schema valid | decode tok/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for label in ("before", "after"):
        m = summary[label]["metrics"]
        lines.append(f"| {label} | {pct(m['json_exact'])} | {m['field_f1']:.3f} | {pct(m['schema_valid'])} | "
                     f"{summary[label]['tokens_per_s']} |")
    lines += [
        "",
        f"**Same raw output on {summary['same_output']} of {summary['rows']} rows** (same scores on "
        f"{summary['same_scores']}). Speed is not part of the claim: the two runs share one 2-core machine.",
        "",
        "| row | complexity | same output | exact | new tokens (before, after) |",
        "|---|---|---|---|---|",
        *[f"| {r['id']} | {r['complexity']} | {'yes' if r['same_output'] else '**no**'} | "
          f"{'yes' if r['json_exact'] else 'no'} | {r['new_tokens'][0]}, {r['new_tokens'][1]} |" for r in rows],
        "",
    ]
    atomic_write_text(RESULTS_DIR / "behaviour_unchanged.md", "\n".join(lines))
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", choices=["before", "after"])
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the src/ folder whose maaza runs")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    if args.label:
        print(run_label(args.label, args.src.resolve()))
    if args.compare:
        summary = compare()
        print(f"same output on {summary['same_output']} of {summary['rows']} rows")
        return 0 if summary["same_output"] == summary["rows"] else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
