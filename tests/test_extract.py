"""`maaza.extract`: the Extractor API and the `maaza extract` command, on the tiny random Llama."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from maaza.errors import IntegrityWarning, MaazaError
from maaza.extract import ExtractionError, Extractor, add_extract_parser, check_schema, load_schema
from maaza.schemas import SchemaError

# Bounded everywhere (maxLength, maxItems, enums, no extra keys) so a random model closes its JSON fast.
EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 6},
        "level": {"type": "string", "enum": ["low", "high"]},
        "where": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 5}, "floor": {"type": "integer",
                                                                               "minimum": 0, "maximum": 9}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "maxItems": 2},
        "done": {"type": "boolean"},
    },
    "required": ["title", "level", "where", "tags"],
    "additionalProperties": False,
}

TEXT = "Fire drill (high priority) in Paris, floor 3. Tags: safety, ops. Not done yet."


def _assert_valid(value: Any, schema: dict[str, Any]) -> None:
    assert isinstance(value, dict)
    jsonschema.Draft7Validator(schema).validate(value)


@pytest.fixture(scope="module")
def extractor(tiny_model_dir: Path) -> Extractor:
    return Extractor.load(str(tiny_model_dir), max_new_tokens=96)


# ------------------------------------------------------------------------------------------- API


def test_extract_returns_schema_valid_dict(extractor: Extractor, edgejson_fixture: Any) -> None:
    assert extractor.prompt_format == "schema-chat"  # a base model without maaza.json
    _assert_valid(extractor.extract(TEXT, EVENT_SCHEMA), EVENT_SCHEMA)
    order = edgejson_fixture.schema_data["order"]
    _assert_valid(extractor.extract(edgejson_fixture.row_data[1]["prompt"], order), order)


def test_schema_given_as_path(extractor: Extractor, tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(EVENT_SCHEMA), encoding="utf-8")
    by_path = extractor.extract(TEXT, path)
    _assert_valid(by_path, EVENT_SCHEMA)
    assert extractor.extract(TEXT, str(path)) == by_path == extractor.extract(TEXT, EVENT_SCHEMA)  # greedy


def test_extract_batch_keeps_order_and_isolates_errors(extractor: Extractor, edgejson_fixture: Any) -> None:
    contact = edgejson_fixture.schema_data["contact"]
    results = extractor.extract_batch(
        [(TEXT, EVENT_SCHEMA), ("   ", contact), ("Reach Raj at raj@y.org.", contact),
         ("x", {"type": "nonsense"})],
        batch_size=2,
    )
    assert len(results) == 4
    _assert_valid(results[0], EVENT_SCHEMA)
    assert isinstance(results[1], ExtractionError) and "empty text" in str(results[1])
    _assert_valid(results[2], contact)
    assert isinstance(results[3], ExtractionError) and "invalid JSON Schema" in str(results[3])
    # batching does not change a greedy answer
    assert results[0] == extractor.extract(TEXT, EVENT_SCHEMA)


def test_input_errors(extractor: Extractor, tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="empty text"):
        extractor.extract(" \n ", EVENT_SCHEMA)
    with pytest.raises(ExtractionError, match="invalid JSON Schema"):
        extractor.extract(TEXT, {"type": "nonsense"})
    missing = tmp_path / "nope.json"
    with pytest.raises(ExtractionError, match=r"schema file not found: .*nope\.json"):
        extractor.extract(TEXT, missing)
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "object",', encoding="utf-8")
    with pytest.raises(ExtractionError, match=r"bad\.json:1: invalid JSON"):
        extractor.extract(TEXT, bad)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ExtractionError, match=r"list\.json: a JSON Schema must be an object"):
        extractor.extract(TEXT, listed)
    with pytest.raises(ExtractionError, match="must describe a JSON object"):
        extractor.extract(TEXT, {"type": "string"})


def test_model_failures_are_extraction_errors(extractor: Extractor) -> None:
    short = dataclasses.replace(extractor, max_new_tokens=3)
    with pytest.raises(ExtractionError, match="cut off at max_new_tokens=3") as info:
        short.extract(TEXT, EVENT_SCHEMA)
    assert info.value.raw_output is not None and info.value.raw_output.startswith("{")
    free = dataclasses.replace(extractor, constrained=False, max_new_tokens=24)
    with pytest.raises(ExtractionError) as info:  # a random model does not write JSON on its own
        free.extract(TEXT, EVENT_SCHEMA)
    assert isinstance(info.value.raw_output, str)


def test_schema_helpers(tmp_path: Path) -> None:
    assert load_schema('{"type": "object"}') == {"type": "object"}
    nested_bad = {"type": "object", "properties": {"a": {"type": "nonsense"}}}
    with pytest.raises(SchemaError, match=r"s\.json: invalid JSON Schema at properties/a/type"):
        check_schema(nested_bad, "s.json")
    assert issubclass(ExtractionError, MaazaError) and issubclass(SchemaError, MaazaError)


def test_unknown_backend_lists_supported(tiny_model_dir: Path) -> None:
    with pytest.raises(MaazaError, match="supported: hf, llamacpp, onnx"):
        Extractor.load(str(tiny_model_dir), backend="tensorrt")


def test_extractor_on_the_llamacpp_backend(tiny_model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is optional: MAAZA_WITH_LLAMACPP=1 scripts/setup.sh")
    from maaza.export.gguf_export import export_gguf

    gguf = tmp_path / "tiny-f16.gguf"
    export_gguf(tiny_model_dir, gguf, "f16", name="tiny")
    ex = Extractor.load(str(gguf), backend="llamacpp", max_new_tokens=96)
    try:
        assert ex.backend == "llamacpp" and ex.prompt_format == "schema-chat"
        assert ex.describe()["precision"] == "f16" and ex.describe()["backend"] == "llamacpp"
        _assert_valid(ex.extract(TEXT, EVENT_SCHEMA), EVENT_SCHEMA)
    finally:
        ex.runtime.close()
    rewinding = Extractor.load(str(gguf), backend="llamacpp", max_new_tokens=96, grounded=True, rewind_repeats=True)
    try:
        assert rewinding.describe()["rewind_repeats"] is True
        _assert_valid(rewinding.extract(TEXT, EVENT_SCHEMA), EVENT_SCHEMA)
    finally:
        rewinding.runtime.close()


def test_rewind_repeats_needs_constrained_llamacpp(tiny_model_dir: Path) -> None:
    for backend, constrained in (("hf", True), ("llamacpp", False)):
        with pytest.raises(MaazaError, match=r"rewind_repeats=True\) needs constrained decoding on the llamacpp backend"):
            Extractor.load(str(tiny_model_dir), backend=backend, constrained=constrained, rewind_repeats=True)


def test_prompt_format_comes_from_maaza_json(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "merged"
    shutil.copytree(tiny_model_dir, folder)
    metadata = {"kind": "merged", "prompt_format": "schema"}
    (folder / "maaza.json").write_text(json.dumps(metadata), encoding="utf-8")
    ex = Extractor.load(str(folder), max_new_tokens=96)
    assert ex.prompt_format == "schema"
    _assert_valid(ex.extract(TEXT, EVENT_SCHEMA), EVENT_SCHEMA)


# ------------------------------------------------------------------------------------------- CLI


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Parse with `add_extract_parser` and run the handler the way `maaza.cli.main` does."""
    parser = argparse.ArgumentParser(prog="maaza")
    add_extract_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["extract", *argv])
    try:
        code = args.handler(args)
    except MaazaError as exc:
        print(f"maaza: error: {exc}", file=sys.stderr)
        code = 2
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def event_schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(EVENT_SCHEMA), encoding="utf-8")
    return path


def test_cli_single_text(
    tiny_model_dir: Path, event_schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--model", str(tiny_model_dir), "--schema", str(event_schema_file), "--max-new-tokens", "96"]
    code, out, _ = run_cli([*base, TEXT], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 1
    _assert_valid(json.loads(out), EVENT_SCHEMA)
    code, pretty, _ = run_cli([*base, "--indent", "2", TEXT], capsys)
    assert code == 0 and json.loads(pretty) == json.loads(out) and "\n  " in pretty
    code, out, err = run_cli([*base, "--max-new-tokens", "3", TEXT], capsys)  # the model fails: exit 1
    assert code == 1 and out == "" and "extraction failed: output cut off" in err


def test_cli_stdin(tiny_model_dir: Path, event_schema_file: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["--model", str(tiny_model_dir), "--schema", str(event_schema_file), "--max-new-tokens", "96"]
    monkeypatch.setattr("sys.stdin", io.StringIO(TEXT + "\n"))
    code, out, _ = run_cli([*base, "-"], capsys)
    assert code == 0
    _assert_valid(json.loads(out), EVENT_SCHEMA)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    code, out, err = run_cli([*base, "-"], capsys)
    assert code == 2 and out == "" and "empty text" in err and len(err.strip().splitlines()) == 1


def test_cli_errors_before_loading(
    event_schema_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_load(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the model must not be loaded for a user error")

    monkeypatch.setattr(Extractor, "load", no_load)
    bad = tmp_path / "bad_schema.json"
    bad.write_text(json.dumps({"type": "nonsense"}), encoding="utf-8")
    code, _, err = run_cli(["--schema", str(bad), TEXT], capsys)
    assert code == 2 and "bad_schema.json" in err and "invalid JSON Schema" in err
    code, _, err = run_cli(["--schema", str(tmp_path / "missing.json"), TEXT], capsys)
    assert code == 2 and "schema file not found" in err and "missing.json" in err
    code, _, err = run_cli(["--schema", str(event_schema_file), "  "], capsys)
    assert code == 2 and "empty text" in err
    with pytest.raises(SystemExit) as exited:  # argparse rejects it before anything is loaded
        run_cli(["--schema", str(event_schema_file), "--backend", "tensorrt", TEXT], capsys)
    assert exited.value.code == 2 and "invalid choice: 'tensorrt'" in capsys.readouterr().err
    code, _, err = run_cli([TEXT], capsys)
    assert code == 2 and "--schema" in err


def test_cli_batch_with_schema_folder_and_resume(
    tiny_model_dir: Path,
    edgejson_fixture: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [*edgejson_fixture.row_data, {"id": "e1", "schema_id": "contact", "prompt": "  "}]
    data = edgejson_fixture.write_rows(rows, "batch.jsonl")
    out_path = edgejson_fixture.root / "out" / "extracted.jsonl"
    argv = ["--model", str(tiny_model_dir), "--input", str(data), "--output", str(out_path),
            "--schemas", str(edgejson_fixture.schemas), "--batch-size", "3", "--max-new-tokens", "96",
            "--no-progress"]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    written = [json.loads(line) for line in out_path.read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in written] == [row["id"] for row in rows]
    for row, result in zip(rows[:4], written[:4], strict=True):
        _assert_valid(result["output"], edgejson_fixture.schema_data[row["schema_id"]])
    assert written[4] == {"id": "e1", "error": "empty text"}
    assert "4 extracted, 1 errors" in err
    assert not out_path.with_name("extracted.jsonl.partial").exists()

    # resume: every row is already there, so nothing is loaded or decoded again
    monkeypatch.setattr(Extractor, "load", lambda *a, **k: pytest.fail("resume must not reload the model"))
    code, _, err = run_cli(argv, capsys)
    assert code == 0 and "(5 already done)" in err
    assert [json.loads(line) for line in out_path.read_text(encoding="utf-8").splitlines()] == written


def test_cli_batch_single_schema_and_partial_resume(
    tiny_model_dir: Path, event_schema_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"id": i, "prompt": f"{TEXT} #{i}"}) + "\n" for i in range(3)))
    out_path = tmp_path / "out.jsonl"
    # an interrupted earlier run left row 1 in the progress file (and a torn line)
    earlier = {"id": 1, "output": {"title": "kept", "level": "low", "where": {"city": "Oslo"}, "tags": []}}
    (tmp_path / "out.jsonl.partial").write_text(json.dumps(earlier) + "\n" + '{"id": 2, "outp')
    argv = ["--model", str(tiny_model_dir), "--input", str(data), "--output", str(out_path),
            "--schema", str(event_schema_file), "--max-new-tokens", "96", "--no-progress"]
    with pytest.warns(IntegrityWarning, match=r"out\.jsonl\.partial: 1 damaged line\(s\) not used \(line 2"):
        code, _, err = run_cli(argv, capsys)  # the torn line is named, and cut off
    assert code == 0, err
    written = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert [row["id"] for row in written] == [0, 1, 2]
    assert written[1] == earlier and "(1 already done)" in err
    for row in (written[0], written[2]):
        _assert_valid(row["output"], EVENT_SCHEMA)


def test_cli_batch_input_errors(
    event_schema_file: Path,
    edgejson_fixture: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Extractor, "load", lambda *a, **k: pytest.fail("must fail before loading"))
    out = str(edgejson_fixture.root / "o.jsonl")
    bad = edgejson_fixture.write_rows(['{"id": "a", "prompt": "x"}', '{"id": "b", "prompt": '], "bad.jsonl")
    code, _, err = run_cli(["--input", str(bad), "--output", out, "--schema", str(event_schema_file)], capsys)
    assert code == 2 and "bad.jsonl:2" in err and "malformed JSON" in err
    unknown = edgejson_fixture.write_rows([{"id": "a", "schema_id": "zzz", "prompt": "x"}], "unknown.jsonl")
    argv = ["--input", str(unknown), "--output", out, "--schemas", str(edgejson_fixture.schemas)]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "unknown.jsonl:1" in err and "zzz" in err
    no_prompt = edgejson_fixture.write_rows([{"id": "a"}], "noprompt.jsonl")
    argv = ["--input", str(no_prompt), "--output", out, "--schema", str(event_schema_file)]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "noprompt.jsonl:1: field 'prompt' is missing" in err
    code, _, err = run_cli(["--input", str(no_prompt), "--schema", str(event_schema_file)], capsys)
    assert code == 2 and "--output" in err
