"""The filter tasks (maaza.tasks.filter): spam and toxicity as label tasks, the pii span task, their input errors
and metrics against hand-computed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maaza.errors import MaazaError
from maaza.tasks import get_task, task_names
from maaza.tasks.base import Task, is_classification_task
from maaza.tasks.filter import toxic_accuracy
from maaza.tasks.filter.pii import load_pii_rows
from maaza.tasks.filter.spans import Span


def write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_three_tasks_are_registered_and_follow_the_protocol() -> None:
    assert {"spam", "toxicity", "pii"} <= set(task_names())
    for name in ("spam", "toxicity", "pii"):
        assert isinstance(get_task(name), Task)
    assert get_task("spam").labels == ("ham", "spam") and is_classification_task(get_task("spam"))
    assert get_task("toxicity").metric_names == ("top1", "macro_f1", "toxic_accuracy")
    assert get_task("pii").headline_metric == "f1"


def test_toxic_accuracy_counts_hate_and_offensive_as_one_class() -> None:
    examples = [
        {"label": "hate", "predicted": "offensive"},  # toxic either way: right
        {"label": "offensive", "predicted": "neither"},  # wrong
        {"label": "neither", "predicted": "neither"},  # right
        {"label": "neither", "predicted": "hate"},  # wrong
    ]
    assert toxic_accuracy(examples) == 0.5
    task = get_task("toxicity")
    rows = [
        {"id": str(i), "label": label, "predicted": pred, "correct": label == pred, "scope": "in"}
        for i, (label, pred) in enumerate([("hate", "hate"), ("offensive", "hate"), ("neither", "neither")])
    ]
    overall = task.aggregate(rows)["overall"]
    assert overall["top1"] == pytest.approx(2 / 3) and overall["toxic_accuracy"] == 1.0


def test_pii_rows_are_checked_with_file_line_and_field(tmp_path: Path) -> None:
    good = write(tmp_path / "ok.jsonl", [
        {"text": "mail jo@example.com", "spans": [{"start": 5, "end": 19, "label": "EMAIL_ADDRESS"}], "genre": "chat"},
        {"text": "nothing here", "spans": []},
    ])
    rows = load_pii_rows(good)
    assert rows[0].spans == (Span(5, 19, "EMAIL_ADDRESS"),) and rows[0].groups == {"genre": "chat"}
    assert rows[1].genre == "unknown" and rows[0].id != rows[1].id
    cases = {
        "missing": ({"text": "x"}, "ok.jsonl:1: field 'spans' is missing"),
        "bounds": ({"text": "abc", "spans": [{"start": 1, "end": 9, "label": "PERSON"}]}, "ends after the text"),
        "overlap": ({"text": "abcdef", "spans": [{"start": 0, "end": 3, "label": "PERSON"},
                                                {"start": 2, "end": 5, "label": "PERSON"}]}, "overlap"),
        "label": ({"text": "abc", "spans": [{"start": 0, "end": 1, "label": "NAME"}]}, "label"),
        "text": ({"spans": []}, "field 'text' is missing"),
    }
    for name, (row, message) in cases.items():
        path = write(tmp_path / f"{name}.jsonl", [row])
        with pytest.raises(MaazaError, match=message.replace("ok.jsonl", f"{name}.jsonl")):
            load_pii_rows(path)


def test_pii_scores_a_generative_answer_by_locating_each_value(tmp_path: Path) -> None:
    task = get_task("pii")
    text = "Anna wrote to anna@x.org; Anna called."
    path = write(tmp_path / "rows.jsonl", [{"text": text, "spans": [
        {"start": 0, "end": 4, "label": "PERSON"}, {"start": 14, "end": 24, "label": "EMAIL_ADDRESS"},
        {"start": 26, "end": 30, "label": "PERSON"}]}])
    row = task.load_rows(path)[0]
    assert json.loads(task.target(row)) == {"pii": [
        {"label": "PERSON", "text": "Anna"}, {"label": "EMAIL_ADDRESS", "text": "anna@x.org"},
        {"label": "PERSON", "text": "Anna"}]}
    assert task.score(row, task.target(row))["exact"]  # the n-th equal value is its n-th occurrence
    partial = task.score(row, '{"pii": [{"label": "PERSON", "text": "Anna"}, {"label": "PERSON", "text": "Bob"}]}')
    overall = task.aggregate([partial])["overall"]
    assert (overall["tp"], overall["fp"], overall["fn"]) == (1, 0, 2)
    assert overall["f1"] == pytest.approx(2 * 1 / (2 * 1 + 0 + 2))
    assert "| **all** |" in task.summary_table({"metrics": {"overall": overall}})
