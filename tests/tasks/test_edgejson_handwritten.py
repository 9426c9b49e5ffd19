"""The hand-written EdgeJSON set (benchmarks/data/edgejson_real) and its checker
(`maaza.tasks.edgejson.handwritten`): the committed file passes it, and each kind of bad row is caught and
named by file, line and field."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from data_helpers import shipped_schema_dir  # tests/data, on the path by tests/conftest.py

from maaza.io import iter_jsonl
from maaza.schemas import load_schema_folder
from maaza.tasks.edgejson.handwritten import GENRES, check_file, main
from maaza.tasks.edgejson.rows import schema_complexity

REAL_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "edgejson_real"
REAL_TEST = REAL_DIR / "test.jsonl"
NEW_SCHEMAS = REAL_DIR / "schemas"


def _rows() -> list[dict[str, Any]]:
    return [row for _, row in iter_jsonl(REAL_TEST)]


def test_the_committed_set_passes_the_checker_over_all_25_v3_and_6_new_schemas(capsys) -> None:
    v3 = shipped_schema_dir()
    folders = f"{v3}{os.pathsep}{NEW_SCHEMAS}"
    problems, rows = check_file(REAL_TEST, load_schema_folder(folders), schema_complexity(folders))
    assert problems == []
    assert len(rows) >= 100
    v3_ids, new_ids = set(load_schema_folder(v3)), set(load_schema_folder(NEW_SCHEMAS))
    assert len(v3_ids) == 25 and len(new_ids) >= 5 and not v3_ids & new_ids
    used = {row["schema_id"] for row in rows}
    assert used == v3_ids | new_ids  # every schema has texts
    assert len({row["genre"] for row in rows}) >= 10
    assert main([str(REAL_TEST), "--schemas", folders]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"{len(rows)} rows, 0 problems")


def _new_schema_row() -> dict[str, Any]:
    return copy.deepcopy(next(row for row in _rows() if row["schema_id"] == "parcel_delivery"))


def _check(tmp_path: Path, rows: list[dict[str, Any]]) -> list[str]:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    problems, _ = check_file(path, load_schema_folder(NEW_SCHEMAS), schema_complexity(str(NEW_SCHEMAS)))
    return [problem.replace(str(path), "rows.jsonl") for problem in problems]


def test_a_good_row_has_no_problems(tmp_path: Path) -> None:
    row = _new_schema_row()
    assert row["genre"] in GENRES and row["normalised"] == ["status"]
    assert _check(tmp_path, [row]) == []


def test_a_value_not_written_in_the_text_is_named_with_its_line_and_leaf(tmp_path: Path) -> None:
    good, bad = _new_schema_row(), _new_schema_row()
    bad["id"] = "other"
    bad["expected_output"]["recipient_name"] = "Okafor, M."
    (problem,) = _check(tmp_path, [good, bad])
    assert problem.startswith("rows.jsonl:2") and "expected_output.recipient_name" in problem
    assert "'Okafor, M.' is not written in the text" in problem


def test_a_value_written_only_inside_a_longer_token_is_not_grounded(tmp_path: Path) -> None:
    row = _new_schema_row()
    row["expected_output"]["tracking_number"] = "1550388741256"  # the text's number less its last digit
    (problem,) = _check(tmp_path, [row])
    assert "expected_output.tracking_number" in problem and "not written in the text" in problem


def test_normalised_paths_must_exist_and_must_not_be_verbatim(tmp_path: Path) -> None:
    row = _new_schema_row()
    row["normalised"] = ["status", "carrier", "items[0].sku"]
    problems = _check(tmp_path, [row])
    assert len(problems) == 2
    assert "'carrier' is written verbatim in the text" in problems[0]
    assert "'items[0].sku' is not a leaf of expected_output" in problems[1]
    row["normalised"] = []  # `out_for_delivery` is not in the text: it must be listed
    (problem,) = _check(tmp_path, [row])
    assert "expected_output.status" in problem


def test_schema_invalid_gold_wrong_complexity_unknown_genre_and_duplicate_ids(tmp_path: Path) -> None:
    row = _new_schema_row()
    row["expected_output"]["status"] = "lost at sea"
    row["normalised"] = ["status"]
    row["complexity"] = "complex"
    row["genre"] = "poem"
    problems = _check(tmp_path, [row, _new_schema_row()])
    text = "\n".join(problems)
    assert "field 'genre': 'poem' is not one of" in text
    assert "'complex', but schema 'parcel_delivery' is simple" in text
    assert "not valid against 'parcel_delivery'" in text
    assert "rows.jsonl:2" in text and "duplicate id 'real_parcel_delivery_01' (line 1)" in text


def test_a_missing_field_or_unknown_schema_stops_that_row(tmp_path: Path) -> None:
    missing = _new_schema_row()
    del missing["genre"]
    unknown = _new_schema_row()
    unknown["id"], unknown["schema_id"] = "x", "no_such_schema"
    problems = _check(tmp_path, [missing, unknown])
    assert len(problems) == 2
    assert problems[0].startswith("rows.jsonl:1") and "genre" in problems[0] and "is missing" in problems[0]
    assert "rows.jsonl:2" in problems[1] and "no schema named 'no_such_schema'" in problems[1]


def test_the_command_line_reports_a_bad_schema_folder_in_one_line(capsys) -> None:
    assert main([str(REAL_TEST), "--schemas", "/no/such/folder"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "/no/such/folder" in err and "Traceback" not in err
