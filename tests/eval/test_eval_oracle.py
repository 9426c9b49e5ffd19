"""The eval runner scored against a known answer key: an oracle backend returns each row's gold answer (every
score must be perfect), a shifted oracle the gold of another row for a known subset (JSONExact must be exactly
the share left right, and each output must be stored and scored under the row it answers).

Rows: the 24 hand-written texts of the 6 committed schemas in benchmarks/data/edgejson_real (no data root
needed). The oracle maps a prompt to its row by the row's text, which occurs in exactly one prompt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maaza.decoding.backends.base import Backend, BackendBatch
from maaza.decoding.generate import BatchTiming, Generation
from maaza.eval.runner import EvalConfig, EvalRun
from maaza.io import iter_jsonl

REAL_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "edgejson_real"
NEW_SCHEMA_IDS = {path.stem for path in (REAL_DIR / "schemas").rglob("*.json")}


class OracleBackend(Backend):
    """Answers each prompt with `answers[row id]` (JSON text), finding the row by its text in the prompt."""

    name = "oracle"
    metadata: dict[str, Any] = {}  # noqa: RUF012  (the Backend attribute)

    def __init__(self, tokenizer: Any, texts: dict[str, str], answers: dict[str, str]) -> None:
        self.tokenizer = tokenizer
        self.texts = texts
        self.answers = answers
        self.calls: list[int] = []

    def generate(
        self, prompts: list[str], schemas: list[dict[str, Any]] | None = None, **_: Any
    ) -> BackendBatch:
        self.calls.append(len(prompts))
        generations = []
        for prompt in prompts:
            (row_id,) = [key for key, text in self.texts.items() if text in prompt]
            answer = self.answers[row_id]
            generations.append(
                Generation(
                    answer,
                    len(self.tokenizer(prompt).input_ids),
                    len(self.tokenizer(answer).input_ids),
                    0.01,
                    0.002,
                    "json_closed",
                )
            )
        return BackendBatch(generations, BatchTiming.of(generations, 0.01 * len(prompts)))

    def describe(self) -> dict[str, Any]:
        return {"name": "oracle", "backend": "oracle", "precision": "exact"}


@pytest.fixture
def rows(tmp_path: Path) -> list[dict[str, Any]]:
    rows = [row for _, row in iter_jsonl(REAL_DIR / "test.jsonl") if row["schema_id"] in NEW_SCHEMA_IDS]
    assert len(rows) == 24
    return rows


def _run(
    tmp_path: Path,
    rows: list[dict[str, Any]],
    answers: dict[str, str],
    tokenizer: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[dict[str, Any], OracleBackend]:
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    backend = OracleBackend(tokenizer, {row["id"]: row["prompt"] for row in rows}, answers)
    monkeypatch.setattr("maaza.eval.runner.load_backend", lambda *args, **kwargs: backend)
    config = EvalConfig(data=str(data), schemas=str(REAL_DIR / "schemas"), model=None, batch_size=5)
    return EvalRun(config, tmp_path / "results.json").run(progress=False), backend


def test_the_gold_answers_score_perfectly(
    tmp_path: Path, rows: list[dict[str, Any]], smollm2_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {row["id"]: json.dumps(row["expected_output"]) for row in rows}
    results, backend = _run(tmp_path, rows, answers, smollm2_tokenizer, monkeypatch)
    overall = results["metrics"]["overall"]
    assert overall["n"] == 24 and backend.calls == [5, 5, 5, 5, 4]
    for key in ("json_exact", "field_f1", "schema_compliance", "leaf_f1", "schema_valid", "parse_rate"):
        assert overall[key] == 1.0, key
    assert {name: bucket["n"] for name, bucket in results["metrics"]["by_complexity"].items()} == {
        "simple": 8,
        "medium": 12,
        "complex": 4,
    }
    assert json.loads((tmp_path / "results.json").read_text())["metrics"]["overall"] == overall


def test_answers_of_other_rows_score_exactly_the_share_left_right(
    tmp_path: Path, rows: list[dict[str, Any]], smollm2_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows 0, 3, 6, ... keep their gold; every other row gets the gold of the next row of its own schema
    (schema-valid, so only the values are wrong). JSONExact must be 8/24, and each stored output must be
    the one given for that row id."""
    by_schema: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_schema.setdefault(row["schema_id"], []).append(row)
    answers, right = {}, set()
    for index, row in enumerate(rows):
        group = by_schema[row["schema_id"]]
        other = group[(group.index(row) + 1) % len(group)]
        assert other["expected_output"] != row["expected_output"]
        keep = index % 3 == 0
        answers[row["id"]] = json.dumps((row if keep else other)["expected_output"])
        if keep:
            right.add(row["id"])
    results, _ = _run(tmp_path, rows, answers, smollm2_tokenizer, monkeypatch)
    overall = results["metrics"]["overall"]
    assert len(right) == 8 and overall["json_exact"] == pytest.approx(8 / 24)
    assert overall["schema_valid"] == 1.0 and overall["field_f1"] < 1.0
    for example in results["examples"]:
        assert example["raw_output"] == answers[example["id"]]
        assert example["json_exact"] is (example["id"] in right)
        assert (example["field_f1"] == 1.0) is (example["id"] in right)
