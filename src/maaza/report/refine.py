"""`maaza refine`: which schemas are too easy, solved, improving or still failing (the seed's feedback).

Per schema of a results JSON (optionally beside a baseline results JSON of the base model):
- *too easy for the base model*: the baseline already reaches JSONExact >= 0.9;
- *solved*: the evaluated model reaches JSONExact >= 0.9;
- *still failing*: JSONExact < 0.5;
- *improving*: in between.
Failing and improving schemas show up to two failed rows as a diff of leaf paths. Expected values are
not stored in results JSONs: they are read by row id from the data file the results name, when present.

EdgeJSON-specific (schemas, complexity buckets, leaf paths); the task's aggregation comes through the task
registry (`get_task("edgejson")`), the leaf helpers from `maaza.schemas`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.io import atomic_write_json, atomic_write_text, file_sha256, iter_jsonl
from maaza.report.results import COMPLEXITIES, load_results
from maaza.schemas import flatten_leaves, format_leaf_path, values_equal
from maaza.tasks import get_task

TOO_EASY = "too easy for the base model"
SOLVED = "solved"
IMPROVING = "improving"
FAILING = "still failing"
CLASSES: tuple[str, ...] = (TOO_EASY, SOLVED, IMPROVING, FAILING)
EASY_THRESHOLD = 0.9
SOLVED_THRESHOLD = 0.9
FAILING_THRESHOLD = 0.5
FAILURES_PER_SCHEMA = 2
MAX_DIFF_LINES = 24
MAX_VALUE_CHARS = 80
ADVICE: dict[str, str] = {
    TOO_EASY: "the base model already does these: fewer training rows needed; harder variants would teach more",
    SOLVED: "learned: keep a few rows so they are not forgotten",
    IMPROVING: "learning: more rows of the same kind should help",
    FAILING: "too hard so far: more and more varied rows, a larger model, or constrained decoding",
}


def classify(json_exact: float | None, baseline_json_exact: float | None = None) -> str:
    """The difficulty class of one schema from its JSONExact (and the baseline's, when known)."""
    if baseline_json_exact is not None and baseline_json_exact >= EASY_THRESHOLD:
        return TOO_EASY
    value = json_exact or 0.0
    if value >= SOLVED_THRESHOLD:
        return SOLVED
    if value < FAILING_THRESHOLD:
        return FAILING
    return IMPROVING


def schema_buckets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-schema aggregates: `metrics.by_schema_id` when present, else recomputed from the examples."""
    stored = (results.get("metrics") or {}).get("by_schema_id")
    if stored:
        return dict(stored)
    examples = results.get("examples") or []
    if not examples:
        return {}
    # EdgeJSON's aggregation: one bucket per schema id, alphabetical, a missing id as "unknown".
    return dict(get_task("edgejson").aggregate(list(examples)).get("by_schema_id") or {})


def _complexities(results: dict[str, Any]) -> dict[str, str]:
    counts: dict[str, Counter[str]] = {}
    for example in results.get("examples") or []:
        counts.setdefault(str(example.get("schema_id")), Counter())[str(example.get("complexity"))] += 1
    return {schema: counter.most_common(1)[0][0] for schema, counter in counts.items()}


def load_expected(results: dict[str, Any], data_path: str | Path | None = None) -> tuple[dict[str, Any], str]:
    """Gold objects by row id from the data file (`--data`, else `results["data"]["path"]`) and a note."""
    named = data_path or (results.get("data") or {}).get("path")
    if not named:
        return {}, "the results name no data file: expected values unavailable, predictions shown alone"
    path = Path(named)
    if not path.is_file():
        return {}, f"data file {path} not found: expected values unavailable, predictions shown alone"
    expected = {
        str(row["id"]): row["expected_output"]
        for _, row in iter_jsonl(path)
        if "id" in row and "expected_output" in row
    }
    note = f"expected values from {path}"
    recorded = (results.get("data") or {}).get("sha256")
    if recorded and recorded != file_sha256(path):
        note += " (WARNING: its sha256 differs from the evaluated file's; diffs may be wrong)"
    return expected, note


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def leaf_diff(expected: Any, predicted: Any) -> list[dict[str, Any]]:
    """Leaf paths where prediction and gold differ: kind 'wrong', 'missing' (gold only) or 'extra'."""
    gold = flatten_leaves(expected)
    pred = flatten_leaves(predicted) if isinstance(predicted, dict) else {}
    diff: list[dict[str, Any]] = []
    for path in gold:
        if path not in pred:
            diff.append({"path": format_leaf_path(path), "kind": "missing", "expected": gold[path]})
        elif not values_equal(gold[path], pred[path]):
            diff.append(
                {
                    "path": format_leaf_path(path),
                    "kind": "wrong",
                    "expected": gold[path],
                    "predicted": pred[path],
                }
            )
    for path in pred:
        if path not in gold:
            diff.append({"path": format_leaf_path(path), "kind": "extra", "predicted": pred[path]})
    return diff


def _failure(example: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    gold = expected.get(str(example.get("id")))
    parsed = example.get("parsed")
    item: dict[str, Any] = {
        "id": example.get("id"),
        "parsed_ok": parsed is not None,
        "field_f1": example.get("field_f1"),
        "leaf_f1": example.get("leaf_f1"),
        "schema_error": example.get("schema_error"),
        "finish_reason": example.get("finish_reason"),
    }
    if parsed is None:
        item["raw_output"] = str(example.get("raw_output", "")).strip()[:400]
    if gold is not None:
        item["diff"] = leaf_diff(gold, parsed)
    else:
        item["predicted_leaves"] = (
            {format_leaf_path(p): v for p, v in flatten_leaves(parsed).items()} if parsed is not None else {}
        )
    return item


def build_report(
    results: dict[str, Any],
    baseline: dict[str, Any] | None = None,
    *,
    expected: dict[str, Any] | None = None,
    expected_note: str = "",
) -> dict[str, Any]:
    """The difficulty report as a JSON-ready dict (schemas in class order, then by JSONExact)."""
    buckets = schema_buckets(results)
    base_buckets = schema_buckets(baseline) if baseline else {}
    complexity = _complexities(results)
    examples = results.get("examples") or []
    gold = expected or {}
    schemas = []
    for schema_id, bucket in buckets.items():
        base = base_buckets.get(schema_id)
        base_exact = base.get("json_exact") if base else None
        exact = bucket.get("json_exact")
        entry: dict[str, Any] = {
            "schema_id": schema_id,
            "complexity": complexity.get(schema_id),
            "n": bucket.get("n"),
            "json_exact": exact,
            "field_f1": bucket.get("field_f1"),
            "leaf_f1": bucket.get("leaf_f1"),
            "schema_compliance": bucket.get("schema_compliance"),
            "baseline": None
            if base is None
            else {k: base.get(k) for k in ("n", "json_exact", "field_f1", "leaf_f1")},
            "delta_json_exact": None if base_exact is None or exact is None else exact - base_exact,
            "class": classify(exact, base_exact),
            "failures": [],
        }
        if entry["class"] in (FAILING, IMPROVING):
            failed = [e for e in examples if e.get("schema_id") == schema_id and not e.get("json_exact")]
            entry["failures"] = [_failure(e, gold) for e in failed[:FAILURES_PER_SCHEMA]]
        schemas.append(entry)
    schemas.sort(key=lambda s: (CLASSES.index(s["class"]), -(s["json_exact"] or 0.0), s["schema_id"]))
    counts = Counter(s["class"] for s in schemas)
    model = results.get("model") or {}
    return {
        "model": {k: model.get(k) for k in ("name", "base", "adapter", "params")},
        "config": {k: (results.get("config") or {}).get(k) for k in ("prompt_format", "constrained")},
        "status": results.get("status"),
        "baseline_model": None if baseline is None else (baseline.get("model") or {}).get("name"),
        "thresholds": {
            "too_easy_baseline_json_exact": EASY_THRESHOLD,
            "solved_json_exact": SOLVED_THRESHOLD,
            "failing_below_json_exact": FAILING_THRESHOLD,
        },
        "expected_values": expected_note,
        "counts": {name: counts.get(name, 0) for name in CLASSES},
        "schemas": schemas,
    }


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _f3(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _fenced(lines: list[str], lang: str = "diff") -> list[str]:
    body = "\n".join(lines)
    fence = "`" * max(3, _longest_backtick_run(body) + 1)
    return [f"{fence}{lang}", *lines, fence]


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest


def _failure_lines(item: dict[str, Any]) -> list[str]:
    finish = f", finish: {item['finish_reason']}" if item.get("finish_reason") else ""
    lines = [f"- `{item['id']}` (leaf F1 {_f3(item.get('leaf_f1'))}{finish})"]
    if not item["parsed_ok"]:
        lines.append("  no JSON object parsed from the output; raw output (start):")
        lines.extend(
            "  " + line for line in _fenced(str(item.get("raw_output", "")).splitlines()[:8], "text")
        )
        return lines
    if "diff" in item:
        body = []
        for d in item["diff"][:MAX_DIFF_LINES]:
            if d["kind"] in ("wrong", "missing"):
                body.append(
                    f"- {d['path']}: {_short(d['expected'])}{'  (missing)' if d['kind'] == 'missing' else ''}"
                )
            if d["kind"] in ("wrong", "extra"):
                body.append(
                    f"+ {d['path']}: {_short(d['predicted'])}{'  (extra)' if d['kind'] == 'extra' else ''}"
                )
        if len(item["diff"]) > MAX_DIFF_LINES:
            body.append(f"  ... {len(item['diff']) - MAX_DIFF_LINES} more differing leaves")
        if not body:
            body.append("  (no leaf differs: the mismatch is in key order-insensitive structure or types)")
        lines.append("  `-` expected, `+` predicted:")
    else:
        leaves = item.get("predicted_leaves") or {}
        body = [f"  {path}: {_short(value)}" for path, value in list(leaves.items())[:MAX_DIFF_LINES]]
        lines.append("  predicted leaves (expected values unavailable):")
    if item.get("schema_error"):
        lines.append(f"  schema error: {_cell(item['schema_error'])}")
    lines.extend("  " + line for line in _fenced(body))
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """The report as markdown: summary counts, one table row per schema, then example failures."""
    model = report["model"]
    config = report["config"]
    has_base = report["baseline_model"] is not None
    title = f"{model.get('name')}" + (f" + adapter {model['adapter']}" if model.get("adapter") else "")
    lines = [
        f"# Schema difficulty: {_cell(title)}",
        "",
        f"Prompt format `{config.get('prompt_format')}`, {'constrained' if config.get('constrained') else 'unconstrained'} "
        f"decoding; results status `{report.get('status')}`."
        + (f" Baseline: {_cell(report['baseline_model'])}." if has_base else ""),
        "",
        f"Classes: *{TOO_EASY}* (baseline JSONExact >= {EASY_THRESHOLD:g}), *{SOLVED}* "
        f"(JSONExact >= {SOLVED_THRESHOLD:g}), *{FAILING}* (< {FAILING_THRESHOLD:g}), *{IMPROVING}* (between).",
    ]
    if not has_base:
        lines.append(f"No --baseline given: *{TOO_EASY}* cannot be detected.")
    lines += ["", "| class | schemas | what to do |", "|---|---:|---|"]
    for name in CLASSES:
        lines.append(f"| {name} | {report['counts'][name]} | {ADVICE[name]} |")
    by_complexity: dict[str, Counter[str]] = {}
    for schema in report["schemas"]:
        by_complexity.setdefault(str(schema["complexity"]), Counter())[schema["class"]] += 1
    order = [c for c in COMPLEXITIES if c in by_complexity] + sorted(set(by_complexity) - set(COMPLEXITIES))
    lines += ["", "| complexity | " + " | ".join(CLASSES) + " |", "|---|" + "---:|" * len(CLASSES)]
    for name in order:
        lines.append(f"| {name} | " + " | ".join(str(by_complexity[name][c]) for c in CLASSES) + " |")
    header = "| schema | complexity | n | JSONExact | Field F1 | leaf F1 |"
    rule = "|---|---|---:|---:|---:|---:|"
    if has_base:
        header += " baseline JSONExact | change |"
        rule += "---:|---:|"
    lines += ["", "## Per schema", "", header + " class |", rule + "---|"]
    for s in report["schemas"]:
        row = (
            f"| {_cell(s['schema_id'])} | {s['complexity']} | {s['n']} | {_pct(s['json_exact'])} | "
            f"{_f3(s['field_f1'])} | {_f3(s['leaf_f1'])} |"
        )
        if has_base:
            base = s["baseline"] or {}
            delta = s["delta_json_exact"]
            row += (
                f" {_pct(base.get('json_exact'))} | {'-' if delta is None else f'{100 * delta:+.1f} pts'} |"
            )
        lines.append(row + f" {s['class']} |")
    failing = [s for s in report["schemas"] if s["failures"]]
    if failing:
        lines += ["", "## Example failures", "", report["expected_values"] + "."]
        for s in failing:
            lines += [
                "",
                f"### {_cell(s['schema_id'])} ({s['class']}, JSONExact {_pct(s['json_exact'])})",
                "",
            ]
            for item in s["failures"]:
                lines.extend(_failure_lines(item))
    return "\n".join(lines) + "\n"


def write_refine(
    results_path: str | Path,
    out_dir: str | Path,
    *,
    baseline_path: str | Path | None = None,
    data_path: str | Path | None = None,
) -> tuple[dict[str, Any], Path, Path]:
    """Build the report from files and write `refine.md` + `refine.json` into `out_dir`."""
    results = load_results(results_path)
    if not schema_buckets(results):
        raise MaazaError(f"{results_path}: no per-schema metrics or examples to classify")
    baseline = load_results(baseline_path) if baseline_path else None
    expected, note = load_expected(results, data_path)
    report = build_report(results, baseline, expected=expected, expected_note=note)
    report["results_file"] = str(results_path)
    report["baseline_file"] = None if baseline_path is None else str(baseline_path)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MaazaError(f"--out {out} exists and is not a folder")
    md_path, json_path = out / "refine.md", out / "refine.json"
    atomic_write_text(md_path, render_markdown(report))
    atomic_write_json(json_path, report)
    return report, md_path, json_path
