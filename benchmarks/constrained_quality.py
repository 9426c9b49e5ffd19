"""Schema-constrained quality of MLM-135M-JSON per runtime and quantization on EdgeJSON v3 (158 rows).

    python benchmarks/constrained_quality.py                 # every GGUF/ONNX export in runs/edge_exports
    python benchmarks/constrained_quality.py --limit 40      # a stratified slice

Reuses the evaluations of benchmarks/train_mlm_135m_json.py (llama.cpp F16 constrained and
unconstrained, transformers fp32 constrained) and evaluates each export written by benchmarks/edge_speed.py with `--constrained` on
its own backend (resumable results under benchmarks/results/constrained_quality/). The table puts
each quantization's JSONExact beside its size; goals (issue #6): 100% schema-valid outputs, constrained
JSONExact no lower than unconstrained, 4-bit within 2 points of F16, constraint overhead <= 5% per token.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from common import ARTIFACTS_DIR, RESULTS_DIR, num, pct, provenance_header
from maaza.envinfo import environment
from maaza.eval.runner import EvalConfig, EvalRun
from maaza.export.command import GPTQ_FORMATS
from maaza.io import atomic_write_json, atomic_write_text
from maaza.tasks.edgejson import default_paths
from maaza.tasks.edgejson.metrics import aggregate

REPO = Path(__file__).resolve().parents[1]
EXPORTS = REPO / "runs" / "edge_exports"
OUT_DIR = RESULTS_DIR / "constrained_quality"
MAX_NEW_TOKENS = 2048  # as benchmarks/train_mlm_135m_json.py: room for the longest complex target (1559)
# Evaluations benchmarks/train_mlm_135m_json.py already ran: shown as they are, or (f16) resumed in place.
REUSED = {
    "llamacpp f16, unconstrained": RESULTS_DIR / "train_mlm_135m_json_llamacpp-f16_unconstrained.json",
    "hf fp32 (512 tokens)": RESULTS_DIR / "train_mlm_135m_json_constrained.json",
}
F16_CONSTRAINED = RESULTS_DIR / "train_mlm_135m_json_llamacpp-f16_constrained.json"
GUARD_SUFFIX = " + loop guard"  # the same export evaluated with maaza.decoding.loop_guard on (rows without: off)
GROUNDED_SUFFIX = " + loop guard + grounded"  # ... and values copied from the row's text (maaza.decoding.grounded)
VARIANTS = {"": (False, False), GUARD_SUFFIX: (True, False), GROUNDED_SUFFIX: (True, True)}  # (guard, grounded)
# benchmarks/data_lift.py's adapters, evaluated with the loop-guard variants beside the v3-only adapter's rows:
# (c) v3 train + generated rows, (d) (c) warm-started for one more epoch over v3 train + new generated rows,
# (e) (d) warm-started the same way once more.
# Each as its F16 GGUF (written by data_lift.py's `eval` stage) and as the bundled Q4_1 base + the adapter
# as an F16 LoRA GGUF (the 4-bit file a user ships), and as GPTQ Q4_0 / IQ4_NL GGUFs where exported beside the
# F16 (`maaza export --adapter ARTIFACT --out FOLDER --formats gguf-q4_0-gptq gguf-iq4_nl-gptq --name NAME`).
DATA_LIFT_ADAPTERS = {
    "v3+generated adapter": (REPO / "runs" / "data_lift" / "exports_more_data", ARTIFACTS_DIR / "mlm_135m_json_more_data"),
    "warm-start adapter": (REPO / "runs" / "data_lift" / "exports_warm_start", ARTIFACTS_DIR / "mlm_135m_json_warm_start"),
    "second warm-start adapter": (REPO / "runs" / "data_lift" / "exports_warm_start_2",
                                  ARTIFACTS_DIR / "mlm_135m_json_warm_start_2"),
    "third warm-start adapter": (REPO / "runs" / "data_lift" / "exports_warm_start_3",
                                 ARTIFACTS_DIR / "mlm_135m_json_warm_start_3"),
}


# `<folder>_keep_q8_0`: beside an adapter's exports, its GPTQ file written with `--gptq-keep-q8_0 N`
MIXED_SUFFIX = "_keep_q8_0"


def short_commit(commit: str) -> str:
    """The first 10 hex digits, keeping a `-dirty` mark (a row measured with uncommitted changes)."""
    return commit[:10] + ("-dirty" if commit.endswith("-dirty") else "")


def variant_of(label: str) -> str:
    """The decoding variant suffix a row label ends with ("" for plain constrained decoding)."""
    return next((suffix for suffix in (GROUNDED_SUFFIX, GUARD_SUFFIX) if label.endswith(suffix)), "")


def f16_reference(label: str) -> str:
    """The F16 row a row is compared with: the same adapter (the v3-only one unless named), same variant."""
    variant = variant_of(label)
    adapter = label.removesuffix(variant).partition(", ")[2]
    return (f"llamacpp f16, {adapter}" if adapter in DATA_LIFT_ADAPTERS else "llamacpp f16") + variant


def export_targets() -> list[tuple[str, str, str, str | None]]:
    """(label, backend, model, adapter) for every GGUF / ONNX export in runs/edge_exports."""
    sizes = json.loads((EXPORTS / "sizes.json").read_text())["formats"]
    targets: list[tuple[str, str, str, str | None]] = []
    for fmt, entry in sorted(sizes.items()):
        path = str(EXPORTS / entry["path"])
        if fmt == "gguf-lora":  # the bundled Q4_1 base GGUF + the adapter as a LoRA GGUF, applied at run time
            targets.append(("llamacpp q4_1 base + f16 lora", "llamacpp", entry["base"], path))
        elif fmt.startswith("gguf-"):
            targets.append((f"llamacpp {fmt.removeprefix('gguf-')}", "llamacpp", path, None))
        elif fmt.startswith("onnx-"):
            targets.append((f"onnx {fmt.removeprefix('onnx-')}", "onnx", path, None))
    for name, (folder, artifact) in DATA_LIFT_ADAPTERS.items():
        if (folder / "sizes.json").is_file():
            formats = json.loads((folder / "sizes.json").read_text())["formats"]
            targets.append((f"llamacpp f16, {name}", "llamacpp", str(folder / formats["gguf-f16"]["path"]), None))
            for fmt in GPTQ_FORMATS:  # `maaza export --formats gguf-q4_0-gptq|gguf-iq4_nl-gptq` into the same folder
                if fmt in formats:
                    path = str(folder / formats[fmt]["path"])
                    targets.append((f"llamacpp {fmt.removeprefix('gguf-')}, {name}", "llamacpp", path, None))
        mixed = folder.with_name(folder.name + MIXED_SUFFIX) / "sizes.json"
        if mixed.is_file():  # the same export with `--gptq-keep-q8_0 N` (its worst matrices Q8_0)
            entry = json.loads(mixed.read_text())["formats"]["gguf-q4_0-gptq"]
            kept = len(entry["gptq"]["kept_q8_0"])
            targets.append((f"llamacpp q4_0-gptq {kept}xq8_0, {name}", "llamacpp", str(mixed.parent / entry["path"]),
                            None))
        if artifact.is_dir():  # the PEFT folder: the backend converts it to a LoRA GGUF (cached) for the base
            targets.append((f"llamacpp q4_1 base + f16 lora, {name}", "llamacpp", None, str(artifact)))
    return targets


def f16_exact_on(f16: dict[str, Any], results: dict[str, Any]) -> float:
    """F16's JSONExact on exactly the rows `results` holds (a --limit slice compares like with like)."""
    ids = {e["id"] for e in results["examples"]}
    rows = [e for e in f16["examples"] if e["id"] in ids]
    return aggregate(rows)["overall"]["json_exact"]


def overhead(results: dict[str, Any]) -> float | None:
    """Mask time per token as a fraction of the decode time per token (constrained runs)."""
    constraint = results["timing"].get("constraint") or {}
    calls = constraint.get("mask_calls") or 0
    examples = results["examples"]
    decode = sum(e["seconds"] - e["ttft_seconds"] for e in examples)
    tokens = sum(max(e["new_tokens"] - 1, 0) for e in examples)
    if not calls or not tokens or decode <= 0:
        return None
    per_token_step = decode / tokens
    per_token_mask = constraint["mask_seconds"] / calls
    return per_token_mask / max(per_token_step - per_token_mask, 1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--only", nargs="*", default=None, help="labels to (re-)evaluate, e.g. 'llamacpp q4_0'")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads per evaluation (1 when sharing the CPU: llama.cpp's threads spin-wait)")
    args = parser.parse_args()
    data, schemas = default_paths()
    if data is None:
        raise SystemExit("EdgeJSON v3 not found: set MAAZA_DATA_DIR")
    rows: dict[str, dict[str, Any]] = {}
    for label, path in REUSED.items():
        if path.is_file():
            rows[label] = json.loads(path.read_text())
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for target_label, backend, model, adapter in export_targets():
        for suffix, (guard, grounded) in VARIANTS.items():
            label = target_label + suffix
            if ", " in target_label and not guard:
                continue  # its guard-off eval is data_lift.py's (data_lift_*_constrained.json)
            slug = label.replace(" + ", "_").replace(", ", "_").replace(" ", "_").replace("+", "_")
            out = F16_CONSTRAINED if label == "llamacpp f16" else OUT_DIR / f"{slug}.json"
            if label == "llamacpp f16" and args.limit is not None:
                out = OUT_DIR / "llamacpp_f16.json"
            if args.only is not None and label not in args.only:
                if out.is_file():
                    rows[label] = json.loads(out.read_text())
                continue
            config = EvalConfig(data=str(data), schemas=str(schemas), model=model, adapter=adapter, backend=backend,
                                batch_size=1,
                                constrained=True, limit=args.limit, max_new_tokens=MAX_NEW_TOKENS, loop_guard=guard,
                                grounded=grounded, threads=args.threads)
            try:
                rows[label] = EvalRun(config, out).run()
            except Exception as exc:
                print(f"{label}: {exc}")
    env = environment()  # this report's run; each row's own machine, commit and command are in its results file
    lines = [
        provenance_header("Constrained quality per runtime and quantization: MLM-135M-JSON, EdgeJSON v3 test", env),
        "Rows evaluated by earlier runs are reused as they are: each row's results file (`constrained_quality/*.json`, "
        "or the `train_mlm_135m_json_*.json` it names) holds its own machine, commit, command and time.",
        "",
        "| runtime | size MB | rows | JSONExact | vs f16 | Field F1 | schema valid | parse | complex exact | "
        "closed by guard | mask ms/token | overhead/token | commit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    # "vs f16": JSONExact minus llama.cpp F16's (same loop-guard setting) on the same rows (all, or a --limit slice).
    summary = {}
    for label, results in rows.items():
        f16 = rows.get(f16_reference(label))
        reasons = results["timing"].get("finish_reasons") or {}
        closed = sum(count for reason, count in reasons.items() if reason.startswith("closed_on_"))
        o = results["metrics"]["overall"]
        complex_exact = results["metrics"]["by_complexity"].get("complex", {}).get("json_exact")
        size = results["model"].get("file_size_bytes")
        if size and results["model"].get("backend") == "llamacpp":
            size += results["model"].get("adapter_size_bytes") or 0  # base GGUF + LoRA GGUF
        delta = None if f16 is None else o["json_exact"] - f16_exact_on(f16, results)
        over = overhead(results) if results["config"].get("constrained") else None
        mask = (results["timing"].get("constraint") or {}).get("mask_ms_per_token")
        summary[label] = {"json_exact": o["json_exact"], "field_f1": o["field_f1"], "schema_valid": o["schema_valid"],
                          "size_bytes": size, "delta_vs_f16": delta, "overhead": over, "rows": o["n"],
                          "loop_guard": bool(results["config"].get("loop_guard")), "closed_by_guard": closed,
                          "grounded": bool(results["config"].get("grounded")),
                          "finish_reasons": reasons}
        lines.append(
            f"| {label} | {'-' if not size else f'{size / 1e6:.1f}'} | {o['n']} | {pct(o['json_exact'])} | "
            f"{'-' if delta is None else f'{100 * delta:+.1f}'} | {num(o['field_f1'])} | {pct(o['schema_valid'])} | "
            f"{pct(o['parse_rate'])} | {pct(complex_exact)} | {closed if variant_of(label) else '-'} | "
            f"{mask if mask is not None else '-'} | "
            f"{'-' if over is None else f'{100 * over:.1f}%'} | `{short_commit(results['environment']['git_commit'])}` |"
        )
    lines += [
        "",
        "Sizes: hf rows show the fp32 safetensors of the base model plus the adapter; GGUF/ONNX rows the file(s) "
        "a user ships. Overhead/token = grammar mask time per token / unconstrained decode time per token of "
        "the same run (llguidance, computed on the CPU between steps). Rows marked `+ loop guard` decode with "
        "maaza.decoding.loop_guard on (a row that repeats itself or nears the 2048-token budget is steered to close "
        "its JSON inside the grammar); 'closed by guard' counts those rows. The other rows were measured "
        "without it. Rows marked `+ grounded` also copy every free string and number from the row's text "
        "(maaza.decoding.grounded: spans on word boundaries; a value the text lacks leaves its optional key out; "
        "rows from commits after 4194f75 also never copy an empty string and give an optional enum only values "
        "the text mentions); "
        "'vs f16' compares each row with llama.cpp F16 of the same adapter under the same decoding variant. Rows "
        "naming an adapter evaluate benchmarks/data_lift.py's runs: 'v3+generated' is (c), v3 train + "
        "generated rows; 'warm-start' is (d), (c) trained one more epoch over v3 train + new generated rows; "
        "'second warm-start' is (e), (d) trained the same way once more; 'third warm-start' is (f), (e) once "
        "more; every other row is the v3-only adapter "
        "(benchmarks/artifacts/mlm_135m_json). `q4_0-gptq` is the pure Q4_0 layout with codes chosen by GPTQ "
        "(act-order) on 128 EdgeJSON v3 train rows (`maaza export --formats gguf-q4_0-gptq`); `q4_0-gptq NxQ8_0` "
        "the same with the N matrices of largest GPTQ output error written Q8_0 (`--gptq-keep-q8_0 N`).",
    ]
    atomic_write_json(RESULTS_DIR / "constrained_quality.json", {"environment": env, "summary": summary})
    text = "\n".join(lines) + "\n"
    atomic_write_text(RESULTS_DIR / "constrained_quality.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
