"""Zero-shot EdgeJSON v3 evaluation of the bundled SmolLM2-135M-Instruct, beside the published figures.

    python benchmarks/edgejson_zero_shot.py                 # all 158 test rows, seed + schema formats
    python benchmarks/edgejson_zero_shot.py --limit 12      # a quick stratified slice

Writes benchmarks/results/edgejson_zero_shot_<format>.json (resumable) and edgejson_zero_shot.md.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from common import RESULTS_DIR, num, pct, provenance_header
from maaza.eval.runner import EvalConfig, EvalRun
from maaza.io import atomic_write_text
from maaza.tasks.edgejson import PROMPT_FORMATS, default_paths

# Published EdgeJSON v3 figures (SLM-Bench paper / Maaza MLM-135M-JSON card): JSONExact, Field F1, compliance.
PUBLISHED = [
    ("SmolLM2-135M base (published)", 0.019, 0.024, 0.051),
    ("Qwen2.5-0.5B (published)", 0.146, 0.195, 0.190),
    ("Maaza MLM-135M-JSON v1 (published)", 0.247, 0.520, 0.411),
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--formats", nargs="+", default=["seed", "schema"])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--constrained", action="store_true")
    parser.add_argument("--tag", default="", help="suffix of the result file names")
    args = parser.parse_args()
    data, schemas = default_paths()
    if data is None or not data.exists():
        print("EdgeJSON v3 not found: set MAAZA_DATA_DIR to the folder holding edgejson_v3/", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    suffix = ("_constrained" if args.constrained else "") + (f"_{args.tag}" if args.tag else "")
    for prompt_format in args.formats:
        out = RESULTS_DIR / f"edgejson_zero_shot_{prompt_format}{suffix}.json"
        config = EvalConfig(
            data=str(data),
            schemas=str(schemas),
            model=args.model,
            prompt_format=prompt_format,
            limit=args.limit,
            batch_size=args.batch_size,
            threads=args.threads,
            constrained=args.constrained,
        )
        EvalRun(config, out).run()
    # The table covers every format measured so far (formats may run as separate processes).
    for prompt_format in PROMPT_FORMATS:
        out = RESULTS_DIR / f"edgejson_zero_shot_{prompt_format}{suffix}.json"
        if out.exists():
            rows.append((prompt_format, json.loads(out.read_text()), out.name))
    env = rows[0][1]["environment"]
    lines = [provenance_header("EdgeJSON v3 zero-shot: bundled SmolLM2-135M-Instruct", env)]
    lines.append(
        "| model | prompt | rows | JSONExact | Field F1 | compliance | simple / medium / complex exact | "
        "schema valid | parse rate | tok/s (batch) | results |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---|")
    for prompt_format, results, name in rows:
        m = results["metrics"]
        by = m["by_complexity"]
        levels = " / ".join(
            pct(by[c]["json_exact"]) if c in by else "-" for c in ("simple", "medium", "complex")
        )
        o = m["overall"]
        lines.append(
            f"| SmolLM2-135M-Instruct (ours, measured{', constrained' if args.constrained else ''}) | {prompt_format} "
            f"| {o['n']} | {pct(o['json_exact'])} | {num(o['field_f1'])} | {pct(o['schema_compliance'])} | {levels} "
            f"| {pct(o['schema_valid'])} | {pct(o['parse_rate'])} | {results['timing']['tokens_per_s']} "
            f"({results['timing']['batch_size']}) | `{name}` |"
        )
    for name, exact, f1, compliance in PUBLISHED:
        lines.append(
            f"| {name} | seed | 158 | {pct(exact)} | {num(f1)} | {pct(compliance)} | - | - | - | - | - |"
        )
    lines.append("")
    lines.append(
        "Greedy decoding, max 512 new tokens, a row stops at EOS or when its top-level JSON object closes. "
        "Field F1 and compliance follow the benchmark authors' definitions (top-level keys)."
    )
    atomic_write_text(RESULTS_DIR / f"edgejson_zero_shot{suffix}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
