"""Reliability table: fuzz cases per input target and the exceptions that escaped (must be 0).

    python benchmarks/reliability.py                 # 1000 cases per target (the tiny model for extract)
    python benchmarks/reliability.py --cases 200

Targets (tests/fuzz/fuzz_targets.py, the same ones `tests/fuzz` runs small): schema loading and checking as
`Extractor` does it, JSONL rows, JSON schema files, YAML recipes, the CLI's arguments, and `Extractor.extract`
(random Unicode with lone surrogates, non-str, texts far beyond the context, deep and cyclic schemas). A case is
handled when it works or raises a `MaazaError` with a message; anything else is counted as unhandled and
listed. Cases are derandomized (Hypothesis), so the same command gives the same cases.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "fuzz"))
from common import RESULTS_DIR, provenance_header  # noqa: E402

RESULTS = RESULTS_DIR / "reliability.json"
TABLE = RESULTS_DIR / "reliability.md"
TARGETS = ("schema", "jsonl", "json_file", "yaml", "cli", "extract")
DESCRIPTIONS = {
    "schema": "schema loading + grammar compile (Extractor)",
    "jsonl": "JSONL rows (iter_jsonl)",
    "json_file": "schema files (load_schema)",
    "yaml": "YAML recipes (load_config TrainConfig)",
    "cli": "CLI arguments (maaza ...)",
    "extract": "Extractor.extract(text, schema), tiny model",
}


def tiny_extractor(folder: Path) -> Any:
    """A 2-layer random Llama with the SmolLM2 tokenizer (what the tests use), behind Extractor."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    from maaza.extract import Extractor
    from maaza.models.registry import resolve_model

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    model = LlamaForCausalLM(config).eval()
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=2)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_model("smollm2-135m").path).save_pretrained(folder)
    return Extractor.load(str(folder), max_new_tokens=12)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="cases per target (extract: a fifth of it)")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import fuzz_targets as targets

    from maaza.envinfo import environment
    from maaza.io import atomic_write_json, atomic_write_text

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        extractor = tiny_extractor(Path(tmp) / "tiny")
        for name in args.targets:
            make = getattr(targets, f"target_{name}")
            strategy, run = make(extractor) if name in ("schema", "extract") else make()
            cases = max(20, args.cases // 5) if name == "extract" else args.cases
            started = time.perf_counter()
            outcome = targets.run_target(strategy, run, cases)
            rows.append({"target": name, "cases": outcome.cases, "maaza_errors": outcome.handled,
                         "unhandled": len(outcome.unhandled), "unhandled_samples": sorted(set(outcome.unhandled))[:5],
                         "seconds": round(time.perf_counter() - started, 1)})
            print(f"{name}: {rows[-1]}", file=sys.stderr)
    env = environment()
    atomic_write_json(RESULTS, {"env": env, "fuzz": rows})
    lines = [provenance_header("Reliability: fuzzing the user-facing inputs", env),
             "| target | cases | ended in a MaazaError | unhandled (must be 0) | seconds |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {DESCRIPTIONS[row['target']]} | {row['cases']} | {row['maaza_errors']} | {row['unhandled']} | "
                     f"{row['seconds']} |")
    lines += ["", f"Total: {sum(r['cases'] for r in rows)} cases, {sum(r['unhandled'] for r in rows)} unhandled.", ""]
    for row in rows:
        for sample in row["unhandled_samples"]:
            lines.append(f"- {row['target']}: `{sample}`")
    atomic_write_text(TABLE, "\n".join(lines) + "\n")
    print(TABLE.read_text())
    return 0 if not any(r["unhandled"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
