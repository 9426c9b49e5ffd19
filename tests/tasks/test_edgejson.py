"""EdgeJSON rows, schemas, slicing and prompt building (maaza.tasks.edgejson)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from maaza.errors import MaazaError
from maaza.schemas import load_schema_folder
from maaza.tasks.edgejson import (
    EdgeJSONRow,
    build_prompt,
    load_rows,
    prompt_text,
    render_schema,
    schema_complexity,
    stratified_slice,
    target_text,
)


def test_load_schemas_and_rows(edgejson_fixture: Any) -> None:
    schemas = load_schema_folder(edgejson_fixture.schemas)
    assert schemas == edgejson_fixture.schema_data
    assert schema_complexity(edgejson_fixture.schemas) == {"contact": "simple", "order": "medium"}
    rows = load_rows(edgejson_fixture.rows, schemas)
    assert [row.id for row in rows] == ["c1", "o1", "c2", "o2"]
    first = rows[0]
    assert isinstance(first, EdgeJSONRow)
    assert (first.schema_id, first.complexity, first.source_line) == ("contact", "simple", 1)
    assert first.expected_output == edgejson_fixture.row_data[0]["expected_output"]
    assert first.prompt == edgejson_fixture.row_data[0]["prompt"]


def test_blank_lines_are_skipped_and_line_numbers_kept(edgejson_fixture: Any) -> None:
    lines = [json.dumps(edgejson_fixture.row_data[0]), "", json.dumps(edgejson_fixture.row_data[1])]
    rows = load_rows(edgejson_fixture.write_rows(lines))
    assert [row.source_line for row in rows] == [1, 3]


def test_limit_takes_a_stratified_slice(edgejson_fixture: Any) -> None:
    rows = load_rows(edgejson_fixture.rows, limit=2)
    assert [row.id for row in rows] == ["c1", "o1"]


def test_malformed_json_line_names_file_and_line(edgejson_fixture: Any) -> None:
    path = edgejson_fixture.write_rows([json.dumps(edgejson_fixture.row_data[0]), '{"id": "x", '])
    with pytest.raises(MaazaError, match=r"rows\.jsonl:2"):
        load_rows(path)


def test_non_object_line_names_file_and_line(edgejson_fixture: Any) -> None:
    path = edgejson_fixture.write_rows(["[1, 2]"])
    with pytest.raises(MaazaError, match=r"rows\.jsonl:1: expected a JSON object"):
        load_rows(path)


@pytest.mark.parametrize("field", ["id", "schema_id", "prompt", "expected_output"])
def test_missing_field_names_field_and_line(edgejson_fixture: Any, field: str) -> None:
    broken = dict(edgejson_fixture.row_data[1])
    del broken[field]
    path = edgejson_fixture.write_rows([edgejson_fixture.row_data[0], broken])
    with pytest.raises(MaazaError) as info:
        load_rows(path)
    message = str(info.value)
    assert "rows.jsonl:2" in message
    assert f"'{field}'" in message
    assert "missing" in message


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("prompt", "   ", "non-empty string"),
        ("prompt", 7, "non-empty string"),
        ("expected_output", ["a"], "JSON object"),
    ],
)
def test_bad_field_types(edgejson_fixture: Any, field: str, value: Any, needle: str) -> None:
    path = edgejson_fixture.write_rows([{**edgejson_fixture.row_data[0], field: value}])
    with pytest.raises(MaazaError, match=rf"rows\.jsonl:1: field '{field}' must be .*{needle}"):
        load_rows(path)


def test_unknown_schema_id_names_line_and_schema(edgejson_fixture: Any) -> None:
    rows = [
        edgejson_fixture.row_data[0],
        edgejson_fixture.row_data[1],
        {**edgejson_fixture.row_data[2], "schema_id": "invoice_v9"},
    ]
    path = edgejson_fixture.write_rows(rows)
    with pytest.raises(MaazaError) as info:
        load_rows(path, load_schema_folder(edgejson_fixture.schemas))
    message = str(info.value)
    assert "rows.jsonl:3" in message
    assert "invoice_v9" in message


def test_duplicate_ids(edgejson_fixture: Any) -> None:
    rows = [*edgejson_fixture.row_data, {**edgejson_fixture.row_data[2], "id": "o1"}]
    path = edgejson_fixture.write_rows(rows)
    with pytest.raises(MaazaError) as info:
        load_rows(path)
    message = str(info.value)
    assert "rows.jsonl:5" in message
    assert "duplicate id 'o1'" in message
    assert "line 2" in message


def test_missing_data_file(tmp_path: Any) -> None:
    with pytest.raises(MaazaError, match=r"data file not found: .*nope\.jsonl"):
        load_rows(tmp_path / "nope.jsonl")


def test_invalid_schema_file_names_the_file(edgejson_fixture: Any) -> None:
    bad = edgejson_fixture.schemas / "simple" / "broken.json"
    bad.write_text('{"type": "object",\n "properties": }', encoding="utf-8")
    with pytest.raises(MaazaError) as info:
        load_schema_folder(edgejson_fixture.schemas)
    assert f"{bad}:2" in str(info.value)


def test_unreadable_schema_file_names_the_file(edgejson_fixture: Any) -> None:
    # A folder named *.json cannot be read as a file (unlike chmod 000, this holds for root too).
    bad = edgejson_fixture.schemas / "simple" / "folder.json"
    bad.mkdir()
    with pytest.raises(MaazaError, match=r"cannot read schema .*folder\.json"):
        load_schema_folder(edgejson_fixture.schemas)


def test_non_object_schema_and_duplicate_schema_ids(edgejson_fixture: Any) -> None:
    listed = edgejson_fixture.schemas / "simple" / "listed.json"
    listed.write_text("[1]", encoding="utf-8")
    with pytest.raises(MaazaError, match=r"listed\.json: a JSON Schema must be an object"):
        load_schema_folder(edgejson_fixture.schemas)
    listed.unlink()
    (edgejson_fixture.schemas / "medium" / "contact.json").write_text("{}", encoding="utf-8")
    with pytest.raises(MaazaError, match="duplicate schema id 'contact'"):
        load_schema_folder(edgejson_fixture.schemas)


def test_missing_or_empty_schema_folder(tmp_path: Any) -> None:
    with pytest.raises(MaazaError, match="schema folder not found"):
        load_schema_folder(tmp_path / "absent")
    with pytest.raises(MaazaError, match="no schema files"):
        load_schema_folder(tmp_path)


def _rows(complexities: str) -> list[EdgeJSONRow]:
    names = {"s": "simple", "m": "medium", "c": "complex"}
    return [EdgeJSONRow(f"r{i}", "x", names[c], "p", {}) for i, c in enumerate(complexities)]


def test_stratified_slice_covers_all_complexities() -> None:
    rows = _rows("ssssssmmmc")
    picked = stratified_slice(rows, 4)
    assert [row.complexity for row in picked] == ["simple", "medium", "complex", "simple"]
    assert [row.id for row in picked] == ["r0", "r6", "r9", "r1"]
    # Exhausted buckets are skipped; order inside a bucket is kept.
    picked = stratified_slice(rows, 8)
    assert {row.complexity for row in picked} == {"simple", "medium", "complex"}
    assert [row.id for row in picked if row.complexity == "simple"] == ["r0", "r1", "r2", "r3"]
    assert len({row.id for row in picked}) == 8
    assert stratified_slice(rows, 50) == rows


def test_render_schema_nested(edgejson_fixture: Any) -> None:
    expected = (
        '{"order_id":string,"status":"pending"|"shipped","customer":{"name":string,"age"?:integer},'
        '"items":[{"sku":string,"qty":integer}]}'
    )
    assert render_schema(edgejson_fixture.schema_data["order"]) == expected


def test_render_schema_formats_unions_and_optionals() -> None:
    schema = {
        "type": "object",
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "n": {"type": ["integer", "null"]},
            "kind": {"anyOf": [{"type": "string"}, {"type": "boolean"}]},
            "fixed": {"const": 3},
            "any": {},
        },
        "required": ["at"],
    }
    assert (
        render_schema(schema) == '{"at":string<date-time>,"n"?:integer|null,"kind"?:string|boolean,'
        '"fixed"?:3,"any"?:any}'
    )


def test_seed_prompt_is_the_published_template() -> None:
    text = "Name: Ann\nEmail: a@b.c"
    expected = f"Extract the structured JSON data from the following text.\n\nInput: {text}\n\nOutput:"
    assert build_prompt(text, None, "seed", tokenizer=None) == expected


def test_schema_prompt_includes_rendered_schema(edgejson_fixture: Any) -> None:
    schema = edgejson_fixture.schema_data["contact"]
    text = build_prompt("hi", schema, "schema", tokenizer=None)
    assert text == (
        "Extract the structured JSON data from the following text.\n\n"
        f"Schema: {render_schema(schema)}\n\nInput: hi\n\nOutput:"
    )
    with pytest.raises(MaazaError, match="needs the row's schema"):
        prompt_text("hi", None, "schema")
    with pytest.raises(MaazaError, match="unknown prompt format 'fancy'"):
        prompt_text("hi", schema, "fancy")


def test_chat_formats_use_the_chat_template(edgejson_fixture: Any, smollm2_tokenizer: Any) -> None:
    schema = edgejson_fixture.schema_data["contact"]
    text = build_prompt("Reach Raj at raj@y.org.", schema, "schema-chat", smollm2_tokenizer)
    inner = prompt_text("Reach Raj at raj@y.org.", schema, "schema")
    assert "<|im_start|>user\n" + inner + "<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")
    seed = build_prompt("x", None, "seed-chat", smollm2_tokenizer)
    assert "<|im_start|>user\nExtract the structured JSON data" in seed
    assert seed.endswith("<|im_start|>assistant\n")


def test_chat_format_without_chat_template_is_an_error() -> None:
    class Plain:
        chat_template = None

    with pytest.raises(MaazaError, match="needs a tokenizer with a chat template"):
        build_prompt("x", None, "seed-chat", Plain())


def test_target_text_is_minified() -> None:
    gold = {"name": "Zoë", "tags": ["a", "b"], "n": {"x": 1}}
    assert target_text(gold) == '{"name":"Zoë","tags":["a","b"],"n":{"x":1}}'
    assert json.loads(target_text(gold, minify=False)) == gold
    assert "\n" in target_text(gold, minify=False)
