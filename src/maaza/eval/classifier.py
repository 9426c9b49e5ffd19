"""Evaluate anything that gives label probabilities (a maaza Classifier, a scikit-learn peer) on a task's rows.

The generative runner (`maaza.eval.runner`) decodes text; a classifier is judged on its probability over the
task's labels instead: `task.score_distribution(row, probs, threshold)` per row and `task.aggregate` over all,
plus its own timing: batch-1 latency p50/p95 over the first `latency_rows` rows (texts one by one, as a
router sees them), batched inferences/s over all rows, peak RSS and file size.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from maaza.envinfo import peak_rss_mb

# texts -> one probability row per text, over the task's labels in order
Predict = Callable[[Sequence[str]], Sequence[Sequence[float]]]


def file_megabytes(paths: Sequence[str | Path]) -> float:
    """Total size of the files (or folders, recursively) in MB (10^6 bytes)."""
    total = 0
    for path in map(Path, paths):
        total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
    return round(total / 1e6, 2)


def count_parameters(folder: str | Path) -> int | None:
    """Parameters in a transformers folder's safetensors files (None when it has none, e.g. an ONNX folder)."""
    from safetensors import safe_open

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118  (safe_open has keys(), not iteration)
                total += _product(handle.get_slice(name).get_shape())
    return total


def _product(shape: Sequence[int]) -> int:
    out = 1
    for size in shape:
        out *= int(size)
    return out


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure_latency(predict: Predict, texts: Sequence[str], rows: int = 200, warmup: int = 5) -> dict[str, float]:
    """Batch-1 latency in ms (p50, p95, mean) over the first `rows` texts, after `warmup` untimed calls."""
    sample = list(texts[:rows])
    for text in sample[:warmup]:
        predict([text])
    times = []
    for text in sample:
        start = time.perf_counter()
        predict([text])
        times.append(1000 * (time.perf_counter() - start))
    return {"p50": round(percentile(times, 0.5), 3), "p95": round(percentile(times, 0.95), 3),
            "mean": round(statistics.fmean(times), 3), "rows": len(sample)}


def evaluate_probabilities(
    task: Any,
    rows: Sequence[Any],
    predict: Predict,
    *,
    model: dict[str, Any],
    data_path: str | Path | None = None,
    threshold: float | None = None,
    latency_rows: int = 200,
    files: Sequence[str | Path] = (),
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The results of one classifier on `rows`, in the shape of `maaza eval`'s results JSON (task, model,
    config, data identity, metrics, timing, environment, every example), so the leaderboard reads both.

    `model` names what ran: at least `name`; `params`, `base`, `backend`, `precision` when known. The file
    size is measured here from `files`.
    """
    from maaza.envinfo import environment
    from maaza.io import file_sha256

    texts = [row.text for row in rows]
    start = time.perf_counter()
    probabilities = [list(map(float, p)) for p in predict(texts)]
    batched_s = time.perf_counter() - start
    if len(probabilities) != len(rows):
        raise ValueError(f"the classifier returned {len(probabilities)} rows of probabilities for {len(rows)} texts")
    examples = [
        {"id": row.id, **task.score_distribution(row, probs, threshold=threshold)}
        for row, probs in zip(rows, probabilities, strict=True)
    ]
    size_mb = file_megabytes(files) if files else None
    timing = {
        "latency_ms": measure_latency(predict, texts, latency_rows) if latency_rows else None,
        "batched_per_s": round(len(rows) / batched_s, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "file_mb": size_mb,
    }
    return {
        "task": task.name,
        "status": "complete",
        "model": {**model, "file_size_bytes": int(size_mb * 1e6) if size_mb is not None else None},
        "config": {"prompt_format": "text", "constrained": False, **(config or {}), "threshold": threshold},
        "data": {
            "path": str(data_path) if data_path else None,
            "sha256": file_sha256(data_path) if data_path else None,
            "rows": len(rows),
        },
        "metrics": task.aggregate(examples),
        "timing": timing,
        "environment": environment(),
        "examples": examples,
    }


def classifier_predict(classifier: Any, batch_size: int = 32) -> Predict:
    """A `Predict` over a maaza Classifier: full probability rows in its label order."""
    labels = list(classifier.labels)
    index = {label: i for i, label in enumerate(labels)}

    def predict(texts: Sequence[str]) -> list[list[float]]:
        rows = []
        for result in classifier.classify_batch(list(texts), top_k=len(labels), batch_size=batch_size):
            probs = [0.0] * len(labels)
            for label, p in result.top_k:
                probs[index[label]] = float(p)
            rows.append(probs)
        return rows

    return predict


def is_classifier_folder(folder: str | Path | None) -> bool:
    """Whether `folder` holds a sequence classifier: an exported ONNX one, or a transformers one."""
    import json

    if folder is None or not Path(folder).is_dir():
        return False
    root = Path(folder)
    for name in ("maaza.json", "config.json"):
        try:
            data = json.loads((root / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        kinds = (data.get("kind"), data.get("model_kind"))
        if "sequence_classifier" in kinds:
            return True
        if any(str(a).endswith("ForSequenceClassification") for a in data.get("architectures") or ()):
            return True
    return False


def evaluate_classifier_folder(
    task: Any,
    folder: str | Path,
    rows: Sequence[Any],
    *,
    data_path: str | Path | None = None,
    runtime: str = "auto",
    int8: bool = True,
    threshold: float | None = None,
    latency_rows: int = 200,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Load a classifier folder (maaza.classify.Classifier) and evaluate it on `rows`; the results name its
    runtime, the file it ran and its parameter count."""
    from maaza.classify import Classifier
    from maaza.envinfo import reset_peak_rss

    root = Path(folder)
    reset_peak_rss()
    classifier = Classifier.load(root, runtime=runtime, int8=int8)
    used = getattr(classifier, "runtime", runtime)
    onnx = sorted(root.glob("*.onnx"))
    if used == "onnx" and onnx:
        preferred = root / ("model.int8.onnx" if int8 else "model.onnx")
        files: list[Path] = [preferred if preferred.exists() else onnx[0]]
    else:
        files = sorted(root.glob("*.safetensors"))
    import json

    try:
        metadata = json.loads((root / "maaza.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        metadata = {}
    source = metadata.get("source_model")
    if source and not metadata.get("base_model"):  # an ONNX export: its source folder says what it was made from
        with contextlib.suppress(OSError, ValueError):
            metadata = {**json.loads((Path(source) / "maaza.json").read_text(encoding="utf-8")), **metadata}
    base = metadata.get("base_model") or metadata.get("base")
    params = count_parameters(root) or (count_parameters(source) if source else None)
    quantized = bool(int8 and used == "onnx" and files and files[0].name.endswith(".int8.onnx"))
    model = {
        "name": root.name,
        "base": str(base) if base else None,  # what it was trained from (None: unknown)
        "path": str(root),
        "params": params,
        "backend": "onnxruntime" if used == "onnx" else "transformers",
        "precision": "int8" if quantized else "fp32",
        "file": str(files[0]) if files else None,
    }
    return evaluate_probabilities(
        task, rows, classifier_predict(classifier), model=model, data_path=data_path, threshold=threshold,
        latency_rows=latency_rows, files=files, config=config,
    )
