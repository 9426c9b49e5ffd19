"""Reliability table: fuzz cases per input target, SIGKILL points per command, damaged files detected, full disk.

    python benchmarks/reliability.py                          # every stage (about 40 min on 2 cores)
    python benchmarks/reliability.py --stages fuzz --cases 200
    python benchmarks/reliability.py --stages faults --points 20

Stages, each stored in `benchmarks/results/reliability.json` as it finishes (a rerun of one stage keeps the
others), then the table `reliability.md` is rewritten from all of them:

- `fuzz` (tests/fuzz/fuzz_targets.py, the targets `tests/fuzz` runs small): schema loading and checking as
  `Extractor` does it, JSONL rows, JSON schema files, YAML recipes, the CLI's arguments, and
  `Extractor.extract` on the tiny model. A case is handled when it works or raises a `MaazaError` with a
  message; anything else is unhandled and listed. Derandomized (Hypothesis): the same command, the same cases.
- `faults` (tests/faults/kill_harness.py): `maaza data generate`, `eval`, `export`, `pipeline` and
  `extract --input` on the tiny model, each killed with SIGKILL at `--points` seeded random moments and rerun;
  a point survives when the rerun exits 0 with outputs byte-identical to a clean run's (wall times aside).
- `corruption`: each kind of file the product resumes from, damaged after it was written (a changed value
  that keeps the JSON valid, a truncation, a torn line); detected means the damaged copy was not used, a
  warning named it, and the previous good version (or the work again) took its place.
- `full_disk`: a results write on a 64 KiB tmpfs that runs out of space (real ENOSPC; needs root to mount,
  else RLIMIT_FSIZE stands in and the table says so): the previous file must stay intact.
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
sys.path.insert(0, str(ROOT / "tests" / "faults"))
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


STAGES = ("fuzz", "faults", "corruption", "full_disk")
COMMANDS = ("data generate", "eval", "export", "pipeline", "extract --input")


def run_fuzz(cases: int, names: list[str]) -> list[dict[str, Any]]:
    import fuzz_targets as targets

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        extractor = tiny_extractor(Path(tmp) / "tiny")
        for name in names:
            make = getattr(targets, f"target_{name}")
            strategy, run = make(extractor) if name in ("schema", "extract") else make()
            count = max(20, cases // 5) if name == "extract" else cases
            started = time.perf_counter()
            outcome = targets.run_target(strategy, run, count)
            rows.append({"target": name, "cases": outcome.cases, "maaza_errors": outcome.handled,
                         "unhandled": len(outcome.unhandled), "unhandled_samples": sorted(set(outcome.unhandled))[:5],
                         "seconds": round(time.perf_counter() - started, 1)})
            print(f"{name}: {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def run_faults(points: int, commands: list[str], seed: int) -> list[dict[str, Any]]:
    import kill_harness

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        world = kill_harness.build_world(Path(tmp) / "world")
        for name in commands:
            rows.append(kill_harness.run_scenario(name, world, Path(tmp) / "runs", points=points, seed=seed,
                                                  log=lambda line: print(line, file=sys.stderr, flush=True)))
    return rows


def _detected(action: Any, expect: str) -> dict[str, Any]:
    """Run `action()` (returns the data it resumed from) and record the IntegrityWarning it raised."""
    import warnings

    from maaza.errors import IntegrityWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        used = action()
    messages = [str(w.message) for w in caught if issubclass(w.category, IntegrityWarning)]
    return {"warning": messages[0] if messages else None, "used": used, "detected": bool(messages) and used == expect}


def run_corruption() -> list[dict[str, Any]]:
    """One damaged copy per kind of file the product resumes from; see the module docstring."""
    import torch

    from maaza.data.teachers import ResponseCache
    from maaza.io import append_checked_lines, read_checked_json, read_checked_lines, write_checked_json
    from maaza.train import checkpoint as ckpt

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # eval results, export sizes.json and pipeline stage records are all checked JSON (write_checked_json)
        for kind, damage in [("checked JSON (results): changed value", lambda t: t.replace('"good"', '"evil"')),
                             ("checked JSON (results): truncated", lambda t: t[: len(t) // 2]),
                             ("checked JSON (results): not UTF-8", lambda t: t.replace('"good"', '"\udcff"'))]:
            path = root / f"{len(rows)}.json"
            write_checked_json(path, {"answer": "previous"})
            write_checked_json(path, {"answer": "good"})
            text = damage(path.read_text(encoding="utf-8"))
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
            outcome = _detected(lambda p=path, k=kind: (read_checked_json(p, what=k) or {}).get("answer"), "previous")
            rows.append({"file": kind, **outcome})
        lines = root / "progress.jsonl"
        append_checked_lines(lines, [{"id": 1, "output": "a"}, {"id": 2, "output": "b"}])
        lines.write_text(lines.read_text().replace('"b"', '"B"'))
        outcome = _detected(lambda: [r["output"] for r in read_checked_lines(lines, what="extract progress")], ["a"])
        rows.append({"file": "extract --input progress line (changed)", **outcome})
        torn = root / "torn.jsonl"
        append_checked_lines(torn, [{"id": 1, "output": "a"}])
        with torn.open("ab") as handle:
            handle.write(b'{"id": 2, "outp')
        outcome = _detected(lambda: [r["output"] for r in read_checked_lines(torn, what="extract progress")], ["a"])
        rows.append({"file": "extract --input progress line (torn by a kill)", **outcome})
        cache_path = root / "teacher_cache.jsonl"
        cache = ResponseCache(cache_path)
        cache.put("k", "m", "earlier answer")
        cache.put("k", "m", "later answer")
        cache_path.write_text(cache_path.read_text().replace("later answer", "forged answer"))
        outcome = _detected(lambda: ResponseCache(cache_path).get("k"), "earlier answer")
        rows.append({"file": "teacher cache entry (changed answer)", **outcome})
        model = torch.nn.Linear(4, 2)
        optimizer = torch.optim.AdamW(model.parameters())
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
        folder = root / "checkpoints"
        for step in (1, 2):
            ckpt.save_checkpoint(folder, f"step-{step:08d}", model=model, optimizer=optimizer, scheduler=scheduler,
                                 state={"global_step": step})
        weights = folder / "step-00000002" / "trainable.safetensors"
        weights.write_bytes(weights.read_bytes()[:-5])
        outcome = _detected(lambda: ckpt.latest_checkpoint(folder).name, "step-00000001")  # type: ignore[union-attr]
        rows.append({"file": "training checkpoint (truncated weights)", **outcome})
    for row in rows:
        print(f"corruption: {row['file']}: detected={row['detected']}", file=sys.stderr, flush=True)
    return rows


FULL_DISK_CHILD = """
import json, sys
from maaza.errors import MaazaError
from maaza.io import read_checked_json, write_checked_json
path = sys.argv[1]
if sys.argv[2] == "rlimit":
    import resource, signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
try:
    write_checked_json(path, {"rows": 2, "text": "x" * 200_000})
    print(json.dumps({"error": None}))
except MaazaError as exc:
    print(json.dumps({"error": str(exc), "after": read_checked_json(path, what="results file")}))
"""


def run_full_disk() -> dict[str, Any]:
    """A results write that runs out of space: real ENOSPC on a 64 KiB tmpfs when it can be mounted."""
    import json
    import subprocess

    from maaza.io import read_checked_json, write_checked_json

    with tempfile.TemporaryDirectory() as tmp:
        mount = Path(tmp) / "small"
        mount.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                 capture_output=True).returncode == 0
        try:
            path = mount / "results.json"
            write_checked_json(path, {"rows": 1, "text": "previous"})
            done = subprocess.run([sys.executable, "-c", FULL_DISK_CHILD, str(path), "tmpfs" if mounted else "rlimit"],
                                  capture_output=True, text=True, timeout=120)
            outcome = json.loads(done.stdout.strip().splitlines()[-1])
            intact = read_checked_json(path, what="results file") == {"rows": 1, "text": "previous"}
            leftovers = [p.name for p in mount.iterdir() if p.name.endswith(".tmp")]
        finally:
            if mounted:
                subprocess.run(["umount", str(mount)], check=False)
    row = {"method": "tmpfs 64 KiB (ENOSPC)" if mounted else "RLIMIT_FSIZE 8 KiB (EFBIG)", "error": outcome["error"],
           "previous_intact": intact, "temp_files_left": leftovers,
           "passed": bool(outcome["error"]) and intact and not leftovers}
    print(f"full disk: {row}", file=sys.stderr, flush=True)
    return row


def write_table(data: dict[str, Any]) -> None:
    from maaza.io import atomic_write_text

    lines = [provenance_header("Reliability: fuzzing, SIGKILL, damaged files, full disk", data["env"])]
    measured = data.get("measured", {})
    if measured:  # stages run separately: which commit and command measured each section
        lines += ["Sections measured by separate runs (the header is the latest):", ""]
        lines += [f"- {stage}: commit `{m['commit']}`, {m['timestamp']}, `{m['command']}`" for stage, m in measured.items()]
        lines.append("")
    if fuzz := data.get("fuzz"):
        lines += ["## Fuzzing the user-facing inputs", "",
                  "| target | cases | ended in a MaazaError | unhandled (must be 0) | seconds |", "|---|---|---|---|---|"]
        for row in fuzz:
            lines.append(f"| {DESCRIPTIONS[row['target']]} | {row['cases']} | {row['maaza_errors']} | "
                         f"{row['unhandled']} | {row['seconds']} |")
        lines += ["", f"Total: {sum(r['cases'] for r in fuzz)} cases, {sum(r['unhandled'] for r in fuzz)} unhandled.", ""]
        lines += [f"- {row['target']}: `{sample}`" for row in fuzz for sample in row["unhandled_samples"]]
    if faults := data.get("faults"):
        lines += ["## SIGKILL at seeded random moments, then the same command again", "",
                  "| command | clean run, s | kill window, s | kill points | killed mid-run | with partial outputs | "
                  "survived (rerun exit 0, outputs identical) | differing or failed (must be 0) | leftover temp files |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for row in faults:
            window = "-".join(f"{w:.1f}" for w in row["kill_window_seconds"])
            lines.append(f"| `{row['command']}` | {row['clean_seconds']} | {window} | {row['kill_points']} | "
                         f"{row['killed_mid_run']} | {row['killed_with_partial_outputs']} | {row['survived']} | "
                         f"{row['differing_or_failed']} | {len(row['hidden_leftovers'])} |")
        lines += ["", "Identical: every output file byte for byte, after removing from JSON files the keys that differ "
                  "between two clean runs too (wall times, the environment, digests of files holding them; "
                  "`kill_harness.TIMING_KEYS`, checked on two clean runs first).", ""]
    if corruption := data.get("corruption"):
        lines += ["## Files damaged after they were written", "", "| file | detected | warning |", "|---|---|---|"]
        for row in corruption:
            lines.append(f"| {row['file']} | {'yes' if row['detected'] else '**no**'} | {row['warning'] or ''} |")
        lines.append("")
    if disk := data.get("full_disk"):
        lines += ["## A results write on a full disk", "", "| method | error | previous file intact | temp files left |",
                  "|---|---|---|---|",
                  f"| {disk['method']} | {disk['error']} | {'yes' if disk['previous_intact'] else '**no**'} | "
                  f"{len(disk['temp_files_left'])} |", ""]
    atomic_write_text(TABLE, "\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--cases", type=int, default=1000, help="fuzz cases per target (extract: a fifth of it)")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--points", type=int, default=20, help="SIGKILL points per command")
    parser.add_argument("--commands", nargs="+", default=list(COMMANDS), choices=COMMANDS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from maaza.envinfo import environment
    from maaza.io import atomic_write_json, read_json

    data: dict[str, Any] = read_json(RESULTS, what="results") if RESULTS.is_file() else {}
    data["env"] = environment()
    data.setdefault("commands", {})
    for stage in args.stages:
        if stage == "fuzz":
            data["fuzz"] = run_fuzz(args.cases, args.targets)
        elif stage == "faults":
            data["faults"] = run_faults(args.points, args.commands, args.seed)
        elif stage == "corruption":
            data["corruption"] = run_corruption()
        else:
            data["full_disk"] = run_full_disk()
        data["commands"][stage] = "python benchmarks/reliability.py " + " ".join(sys.argv[1:])
        data.setdefault("measured", {})[stage] = {"commit": data["env"]["git_commit"],
                                                  "timestamp": data["env"]["timestamp"],
                                                  "command": data["commands"][stage]}
        atomic_write_json(RESULTS, data)
        write_table(data)
    print(TABLE.read_text())
    failed = (any(r["unhandled"] for r in data.get("fuzz", [])) or any(r["differing_or_failed"] for r in data.get("faults", []))
              or not all(r["detected"] for r in data.get("corruption", []))
              or not data.get("full_disk", {"passed": True})["passed"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
