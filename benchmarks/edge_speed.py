"""Edge speed of the trained MLM-135M-JSON across runtimes and precisions, measured in one run.

    python benchmarks/edge_speed.py                       # export (once) + measure every target
    python benchmarks/edge_speed.py --formats gguf-q4_0   # a subset of export formats

Exports the committed adapter (benchmarks/artifacts/mlm_135m_json) merged into SmolLM2-135M to
runs/edge_exports (merged safetensors, GGUF f16/q8_0/q4_0/q4_1, the adapter alone as a LoRA GGUF run on
the bundled Q4_1 base, ONNX int4/int8 when the runtimes are installed), then runs `maaza bench speed` over transformers fp32 (the baseline of every ratio) and each
export: single-stream greedy decode tokens/s, time to first token on ~200-token prompts, peak RSS and
file size. Writes benchmarks/results/edge_speed.json|md. Goal (issue #6): >= 200 decode tok/s with the
best backend on this 2-core CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from dataclasses import replace
from pathlib import Path

from common import ARTIFACTS_DIR, RESULTS_DIR, provenance_header
from maaza.envinfo import environment
from maaza.eval.speed import Target, format_table, run_targets, targets_from_exports
from maaza.export.command import export_model
from maaza.io import atomic_write_json, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
ADAPTER = ARTIFACTS_DIR / "mlm_135m_json"
EXPORTS = REPO / "runs" / "edge_exports"
GGUF_FORMATS = ["gguf-f16", "gguf-q8_0", "gguf-q4_1", "gguf-q4_0", "gguf-q4_0-pure", "gguf-lora"]
# The 4-bit files whose quality constrained_quality.md / qat_q4_0.md report, measured when present: the GPTQ
# Q4_0 files of data_lift.py's warm-start adapters (`maaza export --adapter
# benchmarks/artifacts/mlm_135m_json_warm_start --out runs/data_lift/exports_warm_start --formats gguf-q4_0-gptq
# --name warm_start`; (f) likewise, with gguf-iq4_nl-gptq too, and once more with `--gptq-keep-q8_0 N --name
# warm_start_3_keep_q8_0` into `exports_warm_start_3_keep_q8_0`), and the quantization-aware fine-tune of (f)
# (benchmarks/qat_q4_0.py).
FOUR_BIT_FILES = [REPO / "runs" / "data_lift" / "exports_warm_start" / "warm_start-q4_0-gptq.gguf",
                  REPO / "runs" / "data_lift" / "exports_warm_start_3" / "warm_start_3-q4_0-gptq.gguf",
                  REPO / "runs" / "data_lift" / "exports_warm_start_3" / "warm_start_3-iq4_nl-gptq.gguf",
                  REPO / "runs" / "data_lift" / "exports_warm_start_3_keep_q8_0" / "warm_start_3_keep_q8_0-q4_0-gptq.gguf",
                  REPO / "runs" / "qat_q4_0" / "exports" / "qat-q4_0-pure.gguf"]
# GGUFs also measured under libgomp's default wait policy: the A/B of maaza's OMP_WAIT_POLICY=ACTIVE
OPENMP_AB_FORMATS = ["gguf-q4_0", "gguf-q4_0-pure"]
ONNX_FORMATS = ["onnx-int4", "onnx-int8"]
GOAL_TOKENS_PER_S = 200


def default_formats() -> list[str]:
    formats = ["merged", *GGUF_FORMATS]
    if importlib.util.find_spec("onnxruntime_genai") is not None:
        formats += ONNX_FORMATS
    return formats


def ensure_exports(formats: list[str]) -> dict:
    """Export what sizes.json does not list yet (exports are minutes; re-runs reuse them)."""
    sizes = EXPORTS / "sizes.json"
    done = json.loads(sizes.read_text())["formats"] if sizes.is_file() else {}
    missing = [fmt for fmt in formats if fmt not in done]
    if missing:
        if "merged" not in missing and "merged" in done:
            missing.insert(0, "merged")  # the GGUF/ONNX writers read the merged folder
        export_model(EXPORTS, missing, adapter=str(ADAPTER), name="mlm-135m-json", report=print)
    return json.loads(sizes.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--formats", nargs="+", default=None)
    parser.add_argument("--prompts", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    formats = args.formats or default_formats()
    sizes = ensure_exports(formats)
    targets = [Target("hf", str(EXPORTS / "merged"))]
    targets += [t for t in targets_from_exports(EXPORTS) if t.backend != "hf"]
    wanted = {str(EXPORTS / sizes["formats"][f]["path"]) for f in formats if f in sizes["formats"]}
    targets = [t for t in targets if t.backend == "hf" or t.model in wanted or t.adapter in wanted]
    # llama.cpp twice: plain greedy steps, and with prompt-lookup drafting (same tokens, fewer model calls)
    targets = [v for t in targets for v in ([replace(t, draft=0), replace(t, draft=8)] if t.backend == "llamacpp"
                                            else [t])]
    targets += [Target("llamacpp", str(path), draft=0) for path in FOUR_BIT_FILES if path.is_file()]
    # and the fastest files once more with OpenMP's default wait policy (maaza sets ACTIVE for llama.cpp)
    ab = {str(EXPORTS / sizes["formats"][f]["path"]) for f in OPENMP_AB_FORMATS if f in sizes["formats"]}
    targets += [replace(t, openmp="default") for t in targets if t.model in ab and t.draft == 0]
    if importlib.util.find_spec("llama_cpp") is None:
        print("llama-cpp-python is not installed: GGUF targets will be reported as failed")
    results = run_targets(targets, prompts=args.prompts, max_new_tokens=args.max_new_tokens,
                          threads=args.threads, report=print)
    env = environment()
    best = max((r for r in results if r.get("decode_tokens_per_s")), key=lambda r: r["decode_tokens_per_s"])
    payload = {
        "settings": {"prompts": args.prompts, "max_new_tokens": args.max_new_tokens, "threads": args.threads,
                     "formats": formats},
        "exports": sizes,
        "results": results,
        "best": {"label": best["label"], "decode_tokens_per_s": best["decode_tokens_per_s"]},
        "goal_decode_tokens_per_s": GOAL_TOKENS_PER_S,
        "environment": env,
    }
    atomic_write_json(RESULTS_DIR / "edge_speed.json", payload)
    lines = [
        provenance_header("Edge speed: MLM-135M-JSON per runtime and precision (single stream, greedy)", env),
        format_table(results),
        "",
        f"Best: **{best['label']}** at **{best['decode_tokens_per_s']} decode tok/s** "
        f"(goal >= {GOAL_TOKENS_PER_S}; the published card: 18.5 tok/s, estimated). Decode tok/s excludes the "
        "first token (prefill); TTFT is measured on extraction prompts of about 200 tokens. Each target runs "
        "in its own process, one after the other; sizes are the files a user ships. llama.cpp runs with "
        "OMP_WAIT_POLICY=ACTIVE (maaza's default for it: its threads spin at each of the graph's OpenMP "
        "barriers instead of sleeping); rows marked `omp=default` are the same file under libgomp's default "
        "policy, for comparison. `q4_0-pure` is Q4_0 throughout, the token embedding / tied output head "
        "included (`maaza export --formats gguf-q4_0-pure`); plain q4_0 keeps that head Q8_0. "
        "`warm_start-q4_0-gptq.gguf` has the same layout, its 4-bit codes chosen by GPTQ on 128 EdgeJSON v3 train "
        "rows (`--formats gguf-q4_0-gptq`), for data_lift.py's warm-start adapter (d); `warm_start_3-q4_0-gptq."
        "gguf` the same for adapter (f), and `warm_start_3_keep_q8_0-q4_0-gptq.gguf` that with its 24 "
        "matrices of largest GPTQ error kept Q8_0 (`--gptq-keep-q8_0 24`); `warm_start_3-iq4_nl-gptq.gguf` "
        "GPTQ on llama.cpp's IQ4_NL grid (`--formats gguf-iq4_nl-gptq`, same size); `qat-q4_0-pure.gguf` the "
        "quantization-aware fine-tune of (f) (benchmarks/qat_q4_0.py), same layout as q4_0-pure. Files of one "
        "layout run the same kernels: their spread within a run is this VM's noise.",
    ]
    text = "\n".join(lines) + "\n"
    atomic_write_text(RESULTS_DIR / "edge_speed.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
