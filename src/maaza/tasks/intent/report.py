"""EdgeIntent reports: the summary table `maaza eval` prints, the model-card sections, the confused-pairs chart.

`results` are results JSONs: `{"metrics": <IntentTask.aggregate output>, "timing": {...}, "config": {...},
"model": {...}, "data": {...}}`. A classifier's timing has `latency_ms` {p50, p95}, `batched_per_s`,
`peak_rss_mb` and `file_mb`; a generative model's the decoding keys of `maaza.tasks.base.timing_line`.
Everything shown is read from the results; a key a result lacks shows as `-`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from maaza.io import atomic_write_bytes
from maaza.report.markdown import cell, num, table
from maaza.tasks.base import timing_line
from maaza.tasks.intent.metrics import OOS_METRICS, confused_pairs

OOS_HEADERS = {
    "in_scope_accuracy": "in-scope acc",
    "oos_recall": "OOS recall",
    "oos_precision": "OOS precision",
}


def _pct(value: Any) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _f1(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _value(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{num(value)}{unit}"


def _has_oos(buckets: Sequence[Mapping[str, Any] | None]) -> bool:
    return any(bucket and "oos_recall" in bucket for bucket in buckets)


def _metric_cells(bucket: Mapping[str, Any], oos: bool) -> list[str]:
    cells = [_pct(bucket.get("top1")), _pct(bucket.get("top5")), _f1(bucket.get("macro_f1"))]
    if oos:
        cells += [_pct(bucket.get(key)) for key in OOS_METRICS]
    return cells


def _metric_headers(oos: bool) -> list[str]:
    return ["top-1", "top-5", "macro-F1", *([OOS_HEADERS[key] for key in OOS_METRICS] if oos else [])]


# ------------------------------------------------------------------------------------------ summary


def classifier_timing_line(results: Mapping[str, Any]) -> str:
    """The speed and memory line of a classifier's results (no decoding, so no tokens/s)."""
    timing = results.get("timing") or {}
    latency = timing.get("latency_ms") or {}
    return (
        f"latency p50 {_value(latency.get('p50'))} ms, p95 {_value(latency.get('p95'))} ms, "
        f"batched {_value(timing.get('batched_per_s'))} inf/s, peak RSS {_value(timing.get('peak_rss_mb'))} MiB, "
        f"file {_value(timing.get('file_mb'))} MB"
    )


def summary_table(results: Mapping[str, Any]) -> str:
    """A markdown table of top-1, top-5, macro-F1 (and the OOS metrics) overall and by scope, plus timing."""
    metrics = results.get("metrics") or {}
    buckets = [("overall", metrics.get("overall")), *list((metrics.get("by_scope") or {}).items())]
    oos = _has_oos([bucket for _, bucket in buckets])
    rows = [
        [cell(name), str(bucket.get("n")), *_metric_cells(bucket, oos)]
        for name, bucket in buckets
        if bucket and bucket.get("n")
    ]
    lines = table(["group", "n", *_metric_headers(oos)], rows)
    timing = results.get("timing") or {}
    speed = (
        timing_line(results) if timing.get("tokens_per_s") is not None else classifier_timing_line(results)
    )
    return "\n".join([*lines, "", speed])


# ------------------------------------------------------------------------------------------ card


def _name(result: Mapping[str, Any]) -> str:
    """The variant or model name, with the runtime that ran it (`onnx (onnxruntime int8)`) when recorded."""
    config = result.get("config") or {}
    model = result.get("model") or {}
    name = str(config.get("variant") or model.get("name") or "-")
    runtime = " ".join(str(model[key]) for key in ("backend", "precision") if model.get(key))
    return f"{name} ({runtime})" if runtime else name


def _latency_ms(timing: Mapping[str, Any]) -> Any:
    p50 = (timing.get("latency_ms") or {}).get("p50")
    if p50 is None and (timing.get("latency_s") or {}).get("p50") is not None:
        p50 = 1000 * float(timing["latency_s"]["p50"])
    return p50


def _size_mb(result: Mapping[str, Any]) -> Any:
    timing = result.get("timing") or {}
    if timing.get("file_mb") is not None:
        return timing["file_mb"]
    size = (result.get("model") or {}).get("file_size_bytes")
    return size / 1e6 if isinstance(size, int | float) else None


def card_sections(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The card's sections (one markdown string each): the results table, and how a distilled model was
    trained when a result's `config.distill` says so."""
    if not results:
        return []
    overalls = [((r.get("metrics") or {}).get("overall") or {}) for r in results]
    oos = _has_oos(overalls)
    rows = []
    for result, overall in zip(results, overalls, strict=True):
        timing = result.get("timing") or {}
        n = (result.get("data") or {}).get("rows", overall.get("n"))
        rows.append(
            [
                cell(_name(result)),
                _value(n),
                *_metric_cells(overall, oos),
                _value(_latency_ms(timing), " ms"),
                _value(timing.get("batched_per_s")),
                _value(_size_mb(result), " MB"),
            ]
        )
    header = ["results", "rows", *_metric_headers(oos), "latency p50", "inf/s", "size"]
    sections = [
        "\n".join(["## Intent classification", "", *table(header, rows, "l" + "r" * (len(header) - 1))])
    ]
    method = _method(results)
    if method:
        sections.append(method)
    return sections


def _method(results: Sequence[Mapping[str, Any]]) -> str:
    """A paragraph per distinct distillation setting among the results (none: empty)."""
    settings: dict[tuple[str, str, str], list[str]] = {}
    for result in results:
        distill = (result.get("config") or {}).get("distill")
        if not isinstance(distill, Mapping):
            continue
        key = (
            str(distill.get("teacher") or "?"),
            _value(distill.get("temperature")),
            _value(distill.get("alpha")),
        )
        settings.setdefault(key, []).append(_name(result))
    if not settings:
        return ""
    lines = ["### Method", ""]
    for (teacher, temperature, alpha), names in settings.items():
        lines.append(
            f"{cell(', '.join(names))}: distilled from the teacher `{teacher}` on its cached logits over the "
            f"labels; each training row's loss is alpha · T² · KL(teacher ‖ student, both at temperature T) "
            f"+ (1 − alpha) · cross-entropy with the gold label, with T = {temperature} and alpha = {alpha}."
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ chart


def _pairs(metrics: Mapping[str, Any], top: int) -> list[dict[str, Any]]:
    if isinstance(metrics.get("examples"), list):  # a whole results JSON: count from its rows
        return confused_pairs(metrics["examples"], top)
    inner = metrics.get("metrics", metrics)
    overall = inner.get("overall", inner) if isinstance(inner, Mapping) else {}
    return list(overall.get("confused_pairs") or [])[:top]


def plot_confused_pairs(metrics: Mapping[str, Any], path: str | os.PathLike[str], top: int = 15) -> Path:
    """A horizontal bar chart (PNG) of the most confused (gold -> predicted) pairs, written atomically.

    `metrics` is `aggregate` output (which keeps the top 10 pairs) or a results JSON with its `examples`
    (then any `top` is counted from the rows). Returns the path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pairs = _pairs(metrics, top)
    target = Path(path)
    figure = Figure(figsize=(8, 1.5 + 0.35 * max(len(pairs), 1)))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if pairs:
        names = [
            f"{p['gold']} → {p['predicted'] if p['predicted'] is not None else '(unreadable)'}" for p in pairs
        ]
        counts = [int(p["count"]) for p in pairs]
        axes.barh(range(len(pairs)), counts, color="#4c72b0")
        axes.set_yticks(range(len(pairs)), names, fontsize=8)
        axes.invert_yaxis()  # the most confused pair on top
        axes.set_xlabel("rows")
    else:
        axes.text(0.5, 0.5, "no confusions", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
    axes.set_title("Most confused intents (gold → predicted)")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    atomic_write_bytes(target, buffer.getvalue())
    return target
