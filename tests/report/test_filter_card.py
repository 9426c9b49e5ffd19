"""The filter's report tables and model card (maaza.report.filter_card) from results files: every number in the
card is the one in its results file, systems without results are left out, the front matter parses."""

from __future__ import annotations

from typing import Any

import yaml

from maaza.report.filter_card import build_filter_card, quality_table, report_body


def _label(top1: float, macro: float, rows: int, **extra: Any) -> dict[str, Any]:
    return {"task": "spam", "model": {"name": "x"}, "config": {}, "data": {"rows": rows, "path": "t.jsonl"},
            "metrics": {"overall": {"n": rows, "top1": top1, "macro_f1": macro, **extra}}}


def _pii(f1: float, rows: int) -> dict[str, Any]:
    per_label = {"PERSON": {"f1": f1, "support": 10}, "EMAIL_ADDRESS": {"f1": 1.0, "support": 4}}
    return {"task": "pii", "model": {"name": "x"}, "config": {"split": "pii_test"}, "data": {"rows": rows},
            "metrics": {"overall": {"n": rows, "f1": f1, "partial_f1": f1 + 0.01, "per_label": per_label}}}


RESULTS = {
    "nlm_5m_filter_int8_spam_test": _label(0.9874, 0.97, 1115),
    "nlm_5m_filter_int8_spam_test_dedup": _label(0.9861, 0.969, 997),
    "nlm_5m_filter_int8_toxicity_test": {**_label(0.9, 0.7312, 4957, toxic_accuracy=0.951), "task": "toxicity"},
    "nlm_5m_filter_int8_pii_test": _pii(0.962, 1500),
    "nlm_5m_filter_int8_pii_handwritten": _pii(0.871, 57),
    "tfidf_logreg_spam_test": _label(0.99, 0.979, 1115),
    "nlm_5m_filter_int8_timing": {"timing": {
        "file_mb_total": 5.61, "peak_rss_mb": 300.0, "batched_per_s_1_threads": 700.0, "batched_per_s_2_threads": 1100.0,
        "latency_ms_1_threads": {"p50": 2.1, "p95": 2.5}, "latency_ms_2_threads": {"p50": 1.6, "p95": 2.0}}},
    "int8_agreement": {"agreement": {"spam_test": 0.999}},
}


def test_quality_table_has_one_row_per_measured_system_with_its_numbers() -> None:
    lines = quality_table(RESULTS)
    rows = {line.split(" | ")[0].strip("| "): line for line in lines[2:]}
    assert set(rows) == {"nlm_5m_filter_int8", "tfidf_logreg"}  # fp32 and regex were not measured
    assert "98.7%" in rows["nlm_5m_filter_int8"] and "98.6%" in rows["nlm_5m_filter_int8"]
    assert "0.731" in rows["nlm_5m_filter_int8"] and "95.1%" in rows["nlm_5m_filter_int8"]
    assert "0.962" in rows["nlm_5m_filter_int8"] and "0.871" in rows["nlm_5m_filter_int8"]


def test_report_body_lists_speed_labels_and_agreement() -> None:
    text = "\n".join(report_body(RESULTS, {"spam": "published"}))
    assert "| int8 | 5.61 | 2.1 / 2.5 | 1.6 / 2.0 | 700.0 | 1100.0 | 300.0 |" in text
    assert "| PERSON | 0.962 | 10 | 0.871 | 10 | - |" in text
    assert "spam_test 99.9%" in text and "the 997 whose text" in text


def test_card_front_matter_parses_and_reports_the_int8_results() -> None:
    meta = {"name": "nlm-5m-filter", "parameters": 5202198, "max_length": 256, "stride": 64,
            "architecture": {"layers": 6, "hidden": 256, "vocab_size": 4352},
            "files": {"model.int8.onnx": 5_400_000, "tokenizer.json": 210_000}}
    summary = {"steps": 3555, "epochs": 3.0, "rows": {"spam": {"train": 4013, "validation": 446}},
               "best_val_loss": 0.5, "best_step": 3300, "train_seconds": 2500}
    card = build_filter_card(meta, summary, RESULTS, {"spam": "p"}, "benchmarks/results/filter.md")
    front = yaml.safe_load(card.split("---")[1])
    values: dict[tuple[str, str], list[float]] = {}
    for result in front["model-index"][0]["results"]:
        for metric in result["metrics"]:
            values.setdefault((result["dataset"]["type"], metric["type"]), []).append(metric["value"])
    assert values[("spam", "top1")] == [0.9874] and values[("toxicity", "toxic_accuracy")] == [0.951]
    assert sorted(values[("pii", "f1")]) == [0.871, 0.962]  # the generated and the hand-written set
    assert "5,202,198 parameters" in card and "5.61 MB" in card and "3555 steps" in card
