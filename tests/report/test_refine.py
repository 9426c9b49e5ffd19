"""`maaza refine`: per-schema classes, failure diffs from the data file, prediction-only fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_helpers import BASE_PLAN, TUNED_PLAN, make_examples, results_doc, run_cli, write_json, write_rows

from maaza.report.refine import FAILING, IMPROVING, SOLVED, TOO_EASY, build_report, classify, leaf_diff


@pytest.mark.parametrize(
    ("exact", "baseline", "expected"),
    [
        (1.0, 0.95, TOO_EASY),
        (0.2, 0.9, TOO_EASY),
        (0.9, 0.1, SOLVED),
        (0.9, None, SOLVED),
        (0.89, None, IMPROVING),
        (0.5, None, IMPROVING),
        (0.49, 0.3, FAILING),
        (None, None, FAILING),
    ],
)
def test_classify_thresholds(exact: float | None, baseline: float | None, expected: str) -> None:
    assert classify(exact, baseline) == expected


def _files(tmp_path: Path, *, with_data: bool = True) -> tuple[Path, Path]:
    rows, tuned = make_examples(TUNED_PLAN)
    _, base = make_examples(BASE_PLAN)
    data = tmp_path / "data" / "test.jsonl"
    if with_data:
        write_rows(data, rows)
    results = write_json(tmp_path / "tuned.json", results_doc(tuned, name="tuned", data_path=str(data)))
    baseline = write_json(tmp_path / "base.json", results_doc(base, data_path=str(data)))
    return results, baseline


def test_refine_classes_and_diffs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results, baseline = _files(tmp_path)
    out = tmp_path / "out"
    assert run_cli(["refine", str(results), "--baseline", str(baseline), "--out", str(out)]) == 0
    assert (
        "4 schemas: 1 too easy for the base model, 1 solved, 1 improving, 1 still failing"
        in capsys.readouterr().out
    )
    report = json.loads((out / "refine.json").read_text())
    by_id = {s["schema_id"]: s for s in report["schemas"]}
    assert {k: v["class"] for k, v in by_id.items()} == {
        "easy": TOO_EASY,
        "solved": SOLVED,
        "mid": IMPROVING,
        "hard": FAILING,
    }
    hard = by_id["hard"]
    assert (hard["n"], hard["json_exact"], hard["complexity"]) == (10, 0.1, "complex")
    assert hard["baseline"]["json_exact"] == 0.0 and hard["delta_json_exact"] == pytest.approx(0.1)
    assert [f["id"] for f in hard["failures"]] == ["hard_001", "hard_002"]
    unparsable, near_miss = hard["failures"]
    assert not unparsable["parsed_ok"] and unparsable["raw_output"].startswith("Sure!")
    kinds = {(d["path"], d["kind"]) for d in near_miss["diff"]}
    assert kinds == {("customer.age", "wrong"), ("items[0].sku", "missing"), ("items[0].qty", "missing")}
    age = next(d for d in near_miss["diff"] if d["path"] == "customer.age")
    assert (age["expected"], age["predicted"]) == (32, 33)
    assert len(by_id["mid"]["failures"]) == 2 and by_id["solved"]["failures"] == []
    md = (out / "refine.md").read_text()
    assert "| hard | complex | 10 | 10.0% |" in md
    assert "- customer.age: 32" in md and "+ customer.age: 33" in md
    assert '- items[0].sku: "K2"  (missing)' in md
    assert "no JSON object parsed" in md


def test_refine_without_data_shows_predictions(tmp_path: Path) -> None:
    results, _ = _files(tmp_path, with_data=False)
    out = tmp_path / "out"
    assert run_cli(["refine", str(results), "--out", str(out)]) == 0
    report = json.loads((out / "refine.json").read_text())
    by_id = {s["schema_id"]: s for s in report["schemas"]}
    assert by_id["easy"]["class"] == SOLVED  # no baseline: "too easy" cannot be told apart
    assert "not found" in report["expected_values"]
    near_miss = by_id["hard"]["failures"][1]
    assert "diff" not in near_miss and near_miss["predicted_leaves"]["customer.age"] == 33
    md = (out / "refine.md").read_text()
    assert "predicted leaves (expected values unavailable)" in md
    assert "No --baseline given" in md


def test_leaf_diff_kinds() -> None:
    diff = leaf_diff({"a": 1, "b": {"c": [1, 2]}}, {"a": 1.0, "b": {"c": [1]}, "x": True})
    assert diff == [
        {"path": "b.c[1]", "kind": "missing", "expected": 2},
        {"path": "x", "kind": "extra", "predicted": True},
    ]
    assert leaf_diff({"a": 1}, None) == [{"path": "a", "kind": "missing", "expected": 1}]


def test_report_recomputes_from_examples_without_by_schema() -> None:
    _, tuned = make_examples({"mid": (4, 2)})
    doc = results_doc(tuned)
    del doc["metrics"]["by_schema_id"]
    report = build_report(doc)
    assert [(s["schema_id"], s["n"], s["json_exact"], s["class"]) for s in report["schemas"]] == [
        ("mid", 4, 0.5, IMPROVING)
    ]


def test_refine_rejects_a_non_results_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_json(tmp_path / "x.json", {"hello": 1})
    assert run_cli(["refine", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("maaza: error: ") and "not a maaza results JSON" in err and "\n" not in err
