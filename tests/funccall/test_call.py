"""FunctionCaller and `maaza call`: specs checked before the model loads, answers always valid against them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maaza.call import FunctionCaller, FunctionCallError, load_functions
from maaza.cli import main
from maaza.errors import MaazaError
from maaza.tasks.funccall.metrics import spec_valid

TOOLS = [
    {"type": "function", "function": {"name": "set_alarm", "description": "Set an alarm.", "parameters": {
        "type": "object", "properties": {"hour": {"type": "integer"}, "label": {"type": "string"}},
        "required": ["hour"]}}},
    {"name": "play_song", "description": "Play a song.", "parameters": {
        "type": "dict", "properties": {"title": {"type": "string"}, "loud": {"type": "boolean"},
                                       "mode": {"type": "string", "enum": ["shuffle", "repeat"]}},
        "required": ["title", "mode"]}},
]


def _error_line(capsys: Any) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_load_functions_reads_tools_files_and_names_bad_json(tmp_path: Path) -> None:
    good = tmp_path / "tools.json"
    good.write_text(json.dumps({"tools": TOOLS}))
    assert [spec["name"] for spec in load_functions(good)] == ["set_alarm", "play_song"]
    bad = tmp_path / "bad.json"
    bad.write_text('[\n{"name": "f",\n')
    with pytest.raises(MaazaError, match=r"bad\.json:3: not valid JSON"):
        load_functions(bad)
    with pytest.raises(MaazaError, match="functions file not found"):
        load_functions(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([{"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "uuid"}}}}],
         "function 0 ('f').parameters.properties.x.type: unknown type 'uuid'"),
        ([{"name": "f"}], "function 0 ('f'): missing 'parameters'"),
        ([TOOLS[1], TOOLS[1]], "duplicate function name 'play_song'"),
        ([], "no functions offered"),
    ],
)
def test_cli_rejects_bad_specs_before_loading_a_model(tmp_path: Path, capsys: Any, specs: list, message: str) -> None:
    path = tmp_path / "specs.json"
    path.write_text(json.dumps(specs))
    assert main(["call", "wake me at 7", "--functions", str(path), "--model", str(tmp_path / "no-model")]) == 2
    line = _error_line(capsys)
    assert line.startswith(f"maaza: error: {path}: ") and message in line


def test_cli_needs_functions_and_text(tmp_path: Path, capsys: Any) -> None:
    assert main(["call", "wake me at 7"]) == 2
    assert "--functions specs.json is required" in _error_line(capsys)
    path = tmp_path / "specs.json"
    path.write_text(json.dumps(TOOLS))
    assert main(["call", "  ", "--functions", str(path)]) == 2
    assert "empty request text" in _error_line(capsys)


def test_batch_rows_without_functions_name_file_line_and_field(tmp_path: Path, capsys: Any) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": 1, "text": "play Yellow"}) + "\n")
    assert main(["call", "--input", str(rows), "--output", str(tmp_path / "out.jsonl")]) == 2
    assert "rows.jsonl:1: field 'functions' is missing" in _error_line(capsys)


def test_constrained_answers_are_valid_against_the_specs_even_from_a_random_model(tiny_model_dir: Path) -> None:
    """The grammar's guarantee, measured: a random 2-layer model still returns only spec-valid calls."""
    caller = FunctionCaller.load(str(tiny_model_dir), backend="hf", max_new_tokens=96)
    assert caller.prompt_format == "tools-chat"
    requests = ["wake me at 7", "play Yellow on repeat", "what is the capital of Peru?"]
    outcomes = caller.call_batch([(text, TOOLS) for text in requests] + [("", TOOLS), ("x", [])])
    specs = load_functions(TOOLS)
    for outcome in outcomes[:3]:
        if isinstance(outcome, FunctionCallError):  # only a budget cut may fail, never an invalid call
            assert "max_new_tokens" in str(outcome)
        else:
            assert spec_valid(outcome, specs)
            assert all(call["name"] in {"set_alarm", "play_song"} for call in outcome)
    assert isinstance(outcomes[3], FunctionCallError) and "empty request text" in str(outcomes[3])
    assert isinstance(outcomes[4], FunctionCallError) and "no functions offered" in str(outcomes[4])
