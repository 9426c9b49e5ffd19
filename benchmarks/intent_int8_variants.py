"""INT8 settings for a classifier export: which onnxruntime dynamic quantization keeps the fp32 accuracy.

    python benchmarks/intent_int8_variants.py     # needs runs/intent/banking77/student_kd_onnx (intent_distill.py)

Quantizes the student's fp32 `model.onnx` four ways (per tensor or per output channel, 8-bit or 7-bit
`reduce_range` weights; MatMul + embedding Gather) and scores each on the BANKING77 test rows. On a CPU without
VNNI (AVX2) onnxruntime's u8 x s8 kernels add pairs of products in 16 bits, which full-range weights can
saturate. maaza.export.onnx_classifier uses the winner. Writes benchmarks/results/intent_int8_variants.json|md.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from common import RESULTS_DIR, pct, provenance_header
from maaza.envinfo import environment
from maaza.io import atomic_write_json, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "runs" / "intent" / "banking77" / "student_kd_onnx"
VARIANTS = {  # name: (per_channel, reduce_range)
    "per tensor, 8-bit": (False, False),
    "per tensor, 7-bit (reduce_range)": (False, True),
    "per channel, 8-bit": (True, False),
    "per channel, 7-bit (reduce_range)": (True, True),
}


def main() -> int:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from maaza.classify import Classifier
    from maaza.export.onnx_classifier import FP32_FILE, INT8_FILE, INT8_OP_TYPES
    from maaza.tasks import get_task

    if not (SOURCE / FP32_FILE).is_file():
        print(f"error: {SOURCE / FP32_FILE} is missing: run benchmarks/intent_distill.py first", file=sys.stderr)
        return 1
    task = get_task("intent")
    data = task.default_data("test")
    if data is None:
        print("error: no BANKING77 test file under the data root", file=sys.stderr)
        return 1
    rows = task.load_rows(data.rows, {})
    texts, gold = [r.text for r in rows], [r.label for r in rows]

    def accuracy(folder: Path, int8: bool) -> float:
        results = Classifier.load(folder, runtime="onnx", int8=int8).classify_batch(texts, top_k=1)
        return sum(r.label == g for r, g in zip(results, gold, strict=True)) / len(gold)

    measured = {"fp32": {"top1": accuracy(SOURCE, False), "mb": round((SOURCE / FP32_FILE).stat().st_size / 1e6, 1)}}
    with tempfile.TemporaryDirectory() as scratch:
        for name, (per_channel, reduce_range) in VARIANTS.items():
            folder = Path(scratch) / name.replace(" ", "_")
            folder.mkdir()
            for file in SOURCE.iterdir():
                if file.is_file() and file.suffix != ".onnx":
                    shutil.copy2(file, folder / file.name)
            quantize_dynamic(str(SOURCE / FP32_FILE), str(folder / INT8_FILE), weight_type=QuantType.QInt8,
                             op_types_to_quantize=list(INT8_OP_TYPES), per_channel=per_channel,
                             reduce_range=reduce_range, extra_options={"MatMulConstBOnly": True})
            measured[name] = {"per_channel": per_channel, "reduce_range": reduce_range,
                              "top1": accuracy(folder, True),
                              "mb": round((folder / INT8_FILE).stat().st_size / 1e6, 1)}
            print(f"{name}: top-1 {pct(measured[name]['top1'])}", flush=True)
    env = environment()
    atomic_write_json(RESULTS_DIR / "intent_int8_variants.json",
                      {"source": str(SOURCE), "rows": len(rows), "environment": env, "variants": measured})
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    lines = [provenance_header("INT8 dynamic quantization variants (BANKING77 student, 3080 test rows)", env),
             f"CPU has VNNI: {'yes' if 'vnni' in str(flags) else 'no (AVX2 u8 x s8 kernels)'}", "",
             "| weights | top-1 | drop vs fp32 | file MB |", "|---|---:|---:|---:|"]
    base = measured["fp32"]["top1"]
    for name, entry in measured.items():
        drop = "-" if name == "fp32" else f"{100 * (base - entry['top1']):.1f} pt"
        lines.append(f"| {name} | {pct(entry['top1'])} | {drop} | {entry['mb']} |")
    atomic_write_text(RESULTS_DIR / "intent_int8_variants.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
