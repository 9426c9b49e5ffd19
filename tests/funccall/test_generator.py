"""The synthetic function-calling generator: deterministic, self-consistent rows, every value stated, no BFCL leak."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from maaza.paths import data_root
from maaza.tasks.funccall import generator
from maaza.tasks.funccall.checker import check_calls
from maaza.tasks.funccall.generator import (
    CATEGORIES,
    DEFAULT_MIX,
    bfcl_overlap,
    generate_rows,
    main,
    write_rows,
)

PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "float": (float, int), "boolean": (bool,), "array": (list,),
    "dict": (dict,),
}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return generate_rows(2000, seed=3)


def _type_ok(value: Any, spec_type: str) -> bool:
    if spec_type in ("integer", "float") and isinstance(value, bool):
        return False
    return isinstance(value, PY_TYPES[spec_type])


def _request(row: dict[str, Any]) -> str:
    return row["question"][0][0]["content"]


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a = json.dumps(generate_rows(300, seed=11))
    assert a == json.dumps(generate_rows(300, seed=11))
    assert a != json.dumps(generate_rows(300, seed=12))


def test_catalogue_is_broad() -> None:
    domains = {fn.domain for fn in generator.CATALOGUE}
    assert len(domains) >= 40 and len(generator.CATALOGUE) >= 200
    names = [fn.name for fn in generator.CATALOGUE]
    assert len(set(names)) == len(names)
    assert any("." in n for n in names) and any(n != n.lower() for n in names) and any("_" in n for n in names)
    for fn in generator.CATALOGUE:
        assert 1 <= len(fn.params) <= 6, fn.name


def test_rows_are_self_consistent(rows: list[dict[str, Any]]) -> None:
    counts = Counter(row["category"] for row in rows)
    for category in CATEGORIES:
        assert abs(counts[category] / len(rows) - DEFAULT_MIX[category]) < 0.02, counts
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        category, functions, calls, truth = row["category"], row["functions"], row["calls"], row["ground_truth"]
        assert row["id"].startswith(f"maaza_fc_{category}_")
        specs = {spec["name"]: spec for spec in functions}
        assert len(specs) == len(functions), row["id"]
        called = {call["name"] for call in calls}
        if category == "simple":
            assert len(functions) == 1 and len(calls) == 1
        elif category == "multiple":
            assert 2 <= len(functions) <= 4 and len(calls) == 1
        elif category == "parallel":
            assert len(functions) == 1 and 2 <= len(calls) <= 3
            args = [json.dumps(call["arguments"], sort_keys=True) for call in calls]
            assert len(set(args)) == len(args), row["id"]
        elif category == "parallel_multiple":
            assert 2 <= len(functions) <= 4 and 2 <= len(calls) <= 3 and len(called) >= 2
        else:
            assert 1 <= len(functions) <= 3 and calls == [] and truth is None
            continue
        assert len(truth) == len(calls)
        for call, entry in zip(calls, truth, strict=True):
            spec = specs[call["name"]]
            props, required = spec["parameters"]["properties"], spec["parameters"]["required"]
            assert set(required) <= set(call["arguments"]), row["id"]
            assert set(call["arguments"]) <= set(props)
            for name, value in call["arguments"].items():
                node = props[name]
                assert _type_ok(value, node["type"]), (row["id"], name, value)
                if "enum" in node:
                    assert value in node["enum"]
                if node["type"] == "array":
                    assert all(_type_ok(v, node["items"]["type"]) for v in value)
            assert list(entry) == [call["name"]]
            expected = entry[call["name"]]
            assert set(expected) == set(props)
            for name in props:
                assert expected[name] == ([call["arguments"][name]] if name in call["arguments"] else [""])


def test_specs_are_bfcl_style_and_compact(rows: list[dict[str, Any]]) -> None:
    for row in rows[:300]:
        for spec in row["functions"]:
            assert spec["parameters"]["type"] == "dict" and spec["description"].endswith(".")
            for node in spec["parameters"]["properties"].values():
                assert node["type"] in PY_TYPES and node["description"]
                if node["type"] == "array":
                    assert node["items"]["type"] in PY_TYPES
            optional = set(spec["parameters"]["properties"]) - set(spec["parameters"]["required"])
            assert all("default" in spec["parameters"]["properties"][name] for name in optional)
    words = [len(_request(row).split()) for row in rows]
    assert sum(words) / len(words) < 40


def test_optional_params_sometimes_stated_sometimes_not(rows: list[dict[str, Any]]) -> None:
    stated = omitted = 0
    for row in rows:
        for entry in row["ground_truth"] or []:
            for values in next(iter(entry.values())).values():
                if values == [""]:
                    omitted += 1
                elif row["functions"]:
                    stated += 1
    assert omitted > 200 and stated > 2000


def _stated(value: Any, text: str) -> bool:
    if isinstance(value, bool):
        return True  # booleans are phrased ("nonstop only"), not written as true/false
    if isinstance(value, list):
        return all(_stated(v, text) for v in value)
    return str(value).lower() in text.lower()


def test_every_argument_value_is_in_the_request(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        text = _request(row)
        for call in row["calls"]:
            for name, value in call["arguments"].items():
                assert _stated(value, text), (row["id"], name, value, text)


def test_irrelevance_offers_neither_the_asked_function(rows: list[dict[str, Any]]) -> None:
    """An irrelevance request is rendered from a function that is not offered; no offered name is asked for."""
    irrelevant = [row for row in rows if row["category"] == "irrelevance"]
    assert len(irrelevant) > 200
    same_domain = sum(
        all(spec["name"] in {f.name for f in generator._BY_DOMAIN[row["domain"]]} for spec in row["functions"])
        for row in irrelevant
    )
    assert same_domain > len(irrelevant) // 4  # near misses: same domain, the capability missing


def test_checker_accepts_every_generated_row(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        result = check_calls(row["calls"], row["ground_truth"], row["functions"])
        assert result.valid, (row["id"], result.error_class, result.detail)


def test_no_overlap_with_bfcl() -> None:
    root = data_root()
    folder = root / "bfcl" if root is not None else None
    if folder is None or not folder.is_dir():
        pytest.skip("BFCL not found under the data root")
    report = bfcl_overlap(generate_rows(3000, seed=0), folder)
    assert report["bfcl_questions"] > 1000 and report["bfcl_functions"] > 500
    assert report["exact_question_matches"] == []
    assert report["near_duplicate_matches"] == []
    assert report["function_name_matches"] == []


def test_bfcl_overlap_finds_copies(tmp_path: Path) -> None:
    ref = {"id": "simple_python_0", "question": [[{"role": "user", "content": "Find the area of a circle of radius 5."}]],
           "functions": [{"name": "geo2d.circle_metrics", "description": "x", "parameters": {}}]}
    (tmp_path / "simple_python.jsonl").write_text(json.dumps(ref) + "\n", encoding="utf-8")
    rows = generate_rows(50, seed=1)
    rows[0] = {**rows[0], "question": [[{"role": "user", "content": "find the AREA of a circle, of radius 5"}]]}
    rows[1] = {**rows[1], "question": [[{"role": "user", "content": "Find the area of a circle of radius 55."}]]}
    rows[2] = {**rows[2], "functions": [{"name": "geo2d.circle_metrics"}]}
    report = bfcl_overlap(rows, tmp_path)
    assert [m["id"] for m in report["exact_question_matches"]] == [rows[0]["id"]]
    assert {m["id"] for m in report["near_duplicate_matches"]} == {rows[0]["id"], rows[1]["id"]}
    assert report["function_name_matches"] == ["geo2d.circle_metrics"]


def test_mix_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    only = generate_rows(40, seed=2, mix={"parallel": 1.0})
    assert {row["category"] for row in only} == {"parallel"}
    with pytest.raises(ValueError):
        generate_rows(5, mix={"bogus": 1.0})
    out = tmp_path / "sub" / "train.jsonl"
    assert main(["--n", "30", "--seed", "5", "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == generate_rows(30, seed=5)
    assert "wrote 30 rows" in capsys.readouterr().out
    write_rows(tmp_path / "again.jsonl", only)
    assert len((tmp_path / "again.jsonl").read_text(encoding="utf-8").splitlines()) == 40


def test_max_calls_bounds_parallel_rows_and_the_cli_takes_a_mix(tmp_path: Path) -> None:
    from maaza.tasks.funccall.checker import check_calls

    default = generate_rows(60, seed=3, mix={"parallel": 1.0, "parallel_multiple": 1.0})
    assert {len(row["calls"]) for row in default} == {2, 3}  # the default: 2-3 calls
    wider = generate_rows(60, seed=3, mix={"parallel": 1.0, "parallel_multiple": 1.0}, max_calls=4)
    assert {len(row["calls"]) for row in wider} == {2, 3, 4}
    assert all(check_calls(row["calls"], row["ground_truth"], row["functions"]).valid for row in wider)
    with pytest.raises(ValueError, match="max_calls must be at least 2"):
        generate_rows(5, max_calls=1)
    out = tmp_path / "mixed.jsonl"
    assert main(["--n", "20", "--seed", "1", "--max-calls", "4", "--mix", "irrelevance=1,simple=1",
                 "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows == generate_rows(20, seed=1, mix={"irrelevance": 1.0, "simple": 1.0}, max_calls=4)
    assert {row["category"] for row in rows} == {"irrelevance", "simple"}
    with pytest.raises(SystemExit):
        main(["--n", "5", "--mix", "simple", "--out", str(out)])
