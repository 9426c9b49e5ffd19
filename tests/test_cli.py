"""The `maaza` command line on bad input: one clear `maaza: error:` line, exit 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maaza import __version__
from maaza.cli import main

Capsys = pytest.CaptureFixture[str]


def _error_line(capsys: Capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("maaza: error: ")
    return lines[0]


def _eval_args(fixture: Any, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "eval",
        "--data",
        str(fixture.rows),
        "--schemas",
        str(fixture.schemas),
        "--out",
        str(tmp_path / "results.json"),
        "--no-progress",
        *extra,
    ]


def test_unknown_model_name(edgejson_fixture: Any, tmp_path: Path, capsys: Capsys) -> None:
    code = main(_eval_args(edgejson_fixture, tmp_path, "--model", "smollm9-1b"))
    assert code == 2
    line = _error_line(capsys)
    assert "smollm9-1b" in line
    assert "smollm2-135m" in line  # lists the built-in names
    assert not (tmp_path / "results.json").exists()


def test_models_prepare_unknown_name(capsys: Capsys) -> None:
    assert main(["models", "prepare", "nope-model"]) == 2
    assert "nope-model" in _error_line(capsys)


def test_missing_data_file(edgejson_fixture: Any, tmp_path: Path, capsys: Capsys) -> None:
    missing = tmp_path / "absent" / "test.jsonl"
    args = _eval_args(edgejson_fixture, tmp_path)
    args[args.index("--data") + 1] = str(missing)
    assert main(args) == 2
    assert str(missing) in _error_line(capsys)


def test_missing_schema_folder(edgejson_fixture: Any, tmp_path: Path, capsys: Capsys) -> None:
    args = _eval_args(edgejson_fixture, tmp_path)
    args[args.index("--schemas") + 1] = str(tmp_path / "no-schemas")
    assert main(args) == 2
    assert "no-schemas" in _error_line(capsys)


def test_malformed_jsonl_names_file_and_line(edgejson_fixture: Any, tmp_path: Path, capsys: Capsys) -> None:
    lines = [json.dumps(row) for row in edgejson_fixture.row_data]
    lines.insert(2, '{"id": "broken", "prompt": ')
    edgejson_fixture.write_rows(lines)
    assert main(_eval_args(edgejson_fixture, tmp_path)) == 2
    assert f"{edgejson_fixture.rows}:3" in _error_line(capsys)


@pytest.mark.parametrize(("flag", "value"), [("--limit", "0"), ("--batch-size", "-1")])
def test_non_positive_numbers(
    edgejson_fixture: Any, tmp_path: Path, capsys: Capsys, flag: str, value: str
) -> None:
    assert main(_eval_args(edgejson_fixture, tmp_path, flag, value)) == 2
    assert flag in _error_line(capsys)


def test_help_lists_subcommands(capsys: Capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: maaza" in out
    for name in ("eval", "models"):
        assert name in out


def test_eval_help_lists_flags(capsys: Capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["eval", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--model",
        "--adapter",
        "--data",
        "--schemas",
        "--prompt-format",
        "--limit",
        "--batch-size",
        "--max-new-tokens",
        "--constrained",
        "--strict-datetime",
        "--out",
        "schema-chat",
    ):
        assert flag in out


def test_version(capsys: Capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"maaza {__version__}"


def test_no_subcommand_prints_help(capsys: Capsys) -> None:
    assert main([]) == 2
    assert "usage: maaza" in capsys.readouterr().out


def test_bad_flag_value_is_a_usage_error(capsys: Capsys) -> None:
    assert main(["eval", "--out", "x.json", "--prompt-format", "fancy"]) == 2
    err = capsys.readouterr().err
    assert "unknown prompt format 'fancy' for task edgejson; choose one of seed, schema, seed-chat, schema-chat" in err
    assert main(["eval", "--out", "x.json", "--task", "sentiment"]) == 2
    err = capsys.readouterr().err
    assert "--task: unknown task 'sentiment'; registered tasks: edgejson" in err
    assert "Traceback" not in err


def test_tasks_list(capsys: Capsys) -> None:
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("edgejson ") and "headline json_exact" in out and "groups: complexity, schema_id" in out


def test_models_list(capsys: Capsys) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m" in out and "gemma3-270m" in out
