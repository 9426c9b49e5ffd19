"""The funccall task: spec checks with clear errors, BFCL rows, the grammar of calls, prompts and scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from maaza.decoding.constrained import compile_grammar
from maaza.errors import MaazaError
from maaza.paths import data_root
from maaza.tasks import get_task
from maaza.tasks.funccall.metrics import parse_calls, score_output
from maaza.tasks.funccall.rows import category_of, load_rows
from maaza.tasks.funccall.specs import calls_from_ground_truth, calls_schema, normalise_functions

WEATHER = {
    "name": "weather.current",
    "description": "Current weather of a city.",
    "parameters": {
        "type": "dict",
        "properties": {
            "city": {"type": "string", "description": "City name."},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
            "days": {"type": "integer"},
            "coords": {"type": "array", "items": {"type": "float"}},
        },
        "required": ["city"],
    },
}
OPENAI_TOOL = {"type": "function", "function": {"name": "get_time", "description": "Time now.",
                                                "parameters": {"type": "object", "properties": {
                                                    "zone": {"type": "string"}, "exact": {"type": "boolean"},
                                                    "offset": {"type": "number"}}, "required": ["zone"]}}}


def bfcl() -> Path:
    root = data_root()
    assert root is not None and (root / "bfcl").is_dir(), "the data root with bfcl/ is needed"
    return root / "bfcl"


# ------------------------------------------------------------------------------------------- specs


def test_openai_tools_normalise_to_bfcl_spelling() -> None:
    (spec,) = normalise_functions([OPENAI_TOOL])
    assert spec["name"] == "get_time"
    assert spec["parameters"]["type"] == "dict"
    assert spec["parameters"]["properties"]["offset"]["type"] == "float"
    assert spec["parameters"]["required"] == ["zone"]


@pytest.mark.parametrize(
    ("functions", "message"),
    [
        ([{**WEATHER, "parameters": {"type": "dict", "properties": {"x": {"type": "decimal"}}}}],
         "function 0 ('weather.current').parameters.properties.x.type: unknown type 'decimal'"),
        ([{"name": "f", "description": "no parameters key"}], "function 0 ('f'): missing 'parameters'"),
        ([WEATHER, OPENAI_TOOL, WEATHER], "duplicate function name 'weather.current' (functions 0 and 2)"),
        ([], "no functions offered"),
        ([{**WEATHER, "parameters": {"type": "dict", "properties": {}, "required": ["city"]}}],
         "parameters.required must list names from its properties"),
        ([{"name": "", "parameters": {}}], "function 0 ('').name must be a non-empty string"),
    ],
)
def test_bad_specs_are_errors_naming_the_spec_and_field(functions: list, message: str) -> None:
    with pytest.raises(MaazaError) as info:
        normalise_functions(functions, where="tools.json")
    assert str(info.value).startswith("tools.json: ")
    assert message in str(info.value)


def test_the_grammar_schema_admits_only_valid_calls() -> None:
    functions = normalise_functions([WEATHER, OPENAI_TOOL])
    validator = Draft202012Validator(calls_schema(functions))
    assert validator.is_valid([])
    assert validator.is_valid([{"name": "weather.current", "arguments": {"city": "Oslo", "unit": "celsius"}},
                               {"name": "get_time", "arguments": {"zone": "CET", "offset": 1}}])
    for bad in (
        [{"name": "weather_now", "arguments": {"city": "Oslo"}}],  # a name not offered
        [{"name": "weather.current", "arguments": {}}],  # required parameter missing
        [{"name": "weather.current", "arguments": {"city": "Oslo", "unit": "kelvin"}}],  # not in the enum
        [{"name": "weather.current", "arguments": {"city": "Oslo", "days": 1.5}}],  # float for an integer
        [{"name": "weather.current", "arguments": {"city": "Oslo", "wind": True}}],  # not a parameter
        [{"name": "get_time", "arguments": {"zone": "CET", "exact": "yes"}}],  # a string for a boolean
    ):
        assert not validator.is_valid(bad), bad
    compile_grammar(calls_schema(functions))  # llguidance takes it


# -------------------------------------------------------------------------------------------- rows


def test_bfcl_loads_every_category_and_every_grammar_compiles() -> None:
    rows = load_rows(bfcl())
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.category] = counts.get(row.category, 0) + 1
    assert counts == {"simple": 400, "multiple": 200, "parallel": 200, "parallel_multiple": 200, "irrelevance": 240}
    assert all((row.ground_truth is None) == (row.category == "irrelevance") for row in rows)
    for row in rows[::7]:
        compile_grammar(calls_schema(row.functions))
    sliced = load_rows(bfcl(), limit=10)
    assert [row.category for row in sliced[:5]] == ["simple", "multiple", "parallel", "parallel_multiple",
                                                    "irrelevance"]


def test_category_comes_from_the_id() -> None:
    assert category_of("simple_python_12") == "simple"
    assert category_of("parallel_multiple_3") == "parallel_multiple"


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


GOOD = {"id": "r1", "question": [[{"role": "user", "content": "Weather in Oslo?"}]], "functions": [WEATHER],
        "ground_truth": [{"weather.current": {"city": ["Oslo"], "unit": ["", "celsius"]}}]}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({k: v for k, v in GOOD.items() if k != "functions"}, "rows.jsonl:2: field 'functions' is missing"),
        ({**GOOD, "question": []}, "rows.jsonl:2: field 'question' must be a non-empty list"),
        ({**GOOD, "ground_truth": [{"other": {}}]}, "function 'other' is not among the row's functions"),
        ({**GOOD, "ground_truth": [{"weather.current": {"city": "Oslo"}}]}, "list of acceptable values"),
        ({**GOOD, "functions": [{"name": "f"}]}, "rows.jsonl:2: field 'functions': function 0 ('f'): missing"),
        ({**GOOD, "id": "r1"}, "rows.jsonl:2: field 'id': duplicate id 'r1'"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path: Path, row: dict, message: str) -> None:
    with pytest.raises(MaazaError) as info:
        load_rows(_write(tmp_path, [GOOD, row]))
    assert message in str(info.value)


def test_prompt_shows_the_specs_and_target_is_the_calls(tmp_path: Path) -> None:
    task = get_task("funccall")
    (row,) = task.load_rows(_write(tmp_path, [GOOD]))
    assert row.calls == ({"name": "weather.current", "arguments": {"city": "Oslo"}},)
    assert task.target(row) == '[{"name":"weather.current","arguments":{"city":"Oslo"}}]'
    plain = task.prompt(row, "tools", None)
    assert plain.endswith("Request: Weather in Oslo?\n\nCalls:")
    assert '"name":"weather.current"' in plain
    assert task.answer_is_object is False


def test_calls_from_ground_truth_takes_first_values_and_skips_optional() -> None:
    truth = [{"f": {"a": [1, 2], "b": ["", "x"], "c": [[1, 2]]}}, {"g": {}}]
    assert calls_from_ground_truth(truth) == [{"name": "f", "arguments": {"a": 1, "c": [1, 2]}},
                                              {"name": "g", "arguments": {}}]
    assert calls_from_ground_truth(None) == []


# ------------------------------------------------------------------------------------------ scores


def test_parse_calls_accepts_lists_single_calls_fences_and_rejects_prose() -> None:
    call = {"name": "f", "arguments": {"a": 1}}
    assert parse_calls(json.dumps([call])) == [call]
    assert parse_calls(json.dumps(call)) == [call]
    assert parse_calls("Sure:\n```json\n" + json.dumps([call]) + "\n```") == [call]
    assert parse_calls('{"tool_calls": [{"name": "f", "arguments": "{\\"a\\": 1}"}]}') == [call]
    assert parse_calls("[]") == []
    assert parse_calls("I cannot help with that.") is None
    assert parse_calls('[{"arguments": {}}]') is None


def test_score_counts_ast_spec_validity_and_triples() -> None:
    functions = normalise_functions([WEATHER])
    truth = [{"weather.current": {"city": ["Oslo"], "unit": ["", "celsius"]}}]
    right = score_output('[{"name":"weather.current","arguments":{"city":"oslo"}}]', truth, functions)
    assert (right["ast_correct"], right["spec_valid"], right["error_class"]) == (True, True, None)
    assert (right["tp"], right["fp"], right["fn"]) == (1, 0, 0)
    wrong = score_output('[{"name":"weather.current","arguments":{"city":"Bergen"}}]', truth, functions)
    assert (wrong["ast_correct"], wrong["spec_valid"], wrong["error_class"]) == (False, True, "wrong_value")
    assert (wrong["tp"], wrong["fp"], wrong["fn"]) == (0, 1, 1)
    prose = score_output("The weather is nice.", truth, functions)
    assert (prose["parsed"], prose["error_class"], prose["fn"]) == (False, "unparsable", 1)
    none = score_output("[]", None, functions)
    assert none["ast_correct"] and none["spec_valid"]
    summary = get_task("funccall").aggregate([{"category": "simple", **right}, {"category": "simple", **wrong},
                                              {"category": "irrelevance", **none}])
    overall = summary["overall"]
    assert overall["n"] == 3 and overall["ast_accuracy"] == pytest.approx(2 / 3)
    assert overall["parameter_f1"] == pytest.approx(0.5)
    assert overall["errors"] == {"wrong_value": 1}
    assert list(summary["by_category"]) == ["simple", "irrelevance"]
