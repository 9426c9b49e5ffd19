"""EdgeFuncCall reports: the summary table `maaza eval` prints and the model-card section.

`results` are results JSONs (`{"metrics": FuncCallTask.aggregate output, "timing", "config", "model"}`);
every number shown is read from them, and a key a result lacks shows as `-`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from maaza.report.markdown import cell, table
from maaza.tasks.base import timing_line
from maaza.tasks.funccall.rows import CATEGORY_ORDER

# BFCL leaderboard figures (AST accuracy, %) the issue names for context; not measured here.
PUBLISHED_CONTEXT = {
    "Qwen3-0.6B": {"simple": 86.5, "multiple": 86.0, "parallel": 67.5, "parallel_multiple": 69.5, "irrelevance": 82.5},
    "Granite-4.0-350M": {"simple": 83.0, "multiple": 84.5, "parallel": 70.0, "parallel_multiple": 55.5,
                         "irrelevance": 76.7},
    "Hammer2.1-0.5B": {"simple": 83.3, "irrelevance": 85.0},
}


def _pct(value: Any) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _f1(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _errors(bucket: Mapping[str, Any]) -> str:
    errors = bucket.get("errors") or {}
    return ", ".join(f"{name} {count}" for name, count in errors.items()) or "none"


def summary_table(results: Mapping[str, Any]) -> str:
    """Overall and per category: AST accuracy, parameter F1, spec validity, parse rate, errors; then timing."""
    metrics = results.get("metrics") or {}
    header = ["group", "n", "AST accuracy", "param F1", "spec valid", "parsed", "errors"]
    rows = []
    for name, bucket in [("overall", metrics.get("overall")), *(metrics.get("by_category") or {}).items()]:
        if not bucket or not bucket.get("n"):
            continue
        rows.append([name, str(bucket["n"]), _pct(bucket.get("ast_accuracy")), _f1(bucket.get("parameter_f1")),
                     _pct(bucket.get("spec_valid")), _pct(bucket.get("parse_rate")), cell(_errors(bucket))])
    return "\n".join([*table(header, rows, "lrrrrrl"), "", timing_line(results)])


def _name(result: Mapping[str, Any]) -> str:
    config = result.get("config") or {}
    model = result.get("model") or {}
    return str(config.get("variant") or model.get("name") or "-")


def card_sections(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """One section: AST accuracy per BFCL category for each result, the published 0.35-0.6B figures below."""
    if not results:
        return []
    header = ["results", *CATEGORY_ORDER, "param F1 (simple)", "spec valid", "tokens/s"]
    rows = []
    for result in results:
        by_category = (result.get("metrics") or {}).get("by_category") or {}
        overall = (result.get("metrics") or {}).get("overall") or {}
        simple = by_category.get("simple") or {}
        rows.append([cell(_name(result)), *(_pct((by_category.get(c) or {}).get("ast_accuracy")) for c in CATEGORY_ORDER),
                     _f1(simple.get("parameter_f1")), _pct(overall.get("spec_valid")),
                     str((result.get("timing") or {}).get("tokens_per_s", "-"))])
    published = [[name, *(f"{scores[c]:.1f}%" if c in scores else "-" for c in CATEGORY_ORDER), "-", "-", "-"]
                 for name, scores in PUBLISHED_CONTEXT.items()]
    lines = ["## Function calling (BFCL AST accuracy)", "", *table(header, rows, "l" + "r" * (len(header) - 1)), "",
             "Published BFCL figures of larger models, for context (not measured here):", "",
             *table(header, published, "l" + "r" * (len(header) - 1))]
    return ["\n".join(lines)]
