"""Grounded decoding: values copied from the text, on the real SmolLM2 tokenizer and a tiny random model."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from llguidance import LLMatcher

from conftest import ORDER_SCHEMA
from maaza.decoding.constrained import ConstraintError, TokenizerInfo, compile_grammar
from maaza.decoding.grounded import (
    GROUNDING_KEY,
    grounded_lark,
    number_literals,
    text_chunks,
    with_grounding,
    without_grounding,
)
from maaza.errors import MaazaError
from maaza.eval.runner import EvalConfig, EvalRun
from maaza.schemas import flatten_leaves

REVIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        "review_text": {"type": "string", "minLength": 1},
        "reviewer": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "email": {"type": "string", "format": "email"},
        "phone": {"type": "string", "pattern": "^[+]?[0-9\\-\\s()]+$"},
        "verified": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "kind": {"type": "string", "enum": ["product", "service"]},
    },
    "required": ["rating", "review_text"],
    "additionalProperties": False,
}
TEXT = (
    'Rating: 5 of 10\nReview: Real lead, "few" yourself.\nBy: Ian Phillips (ian@example.net)\n'
    "Phone: +1 (555) 010-2030\nTags: red, blue"
)


def accepts(info: TokenizerInfo, tokenizer: Any, grammar: str, answer: str) -> bool:
    """Whether the grammar takes `answer` token by token and may stop after it."""
    matcher = LLMatcher(info.llg, grammar, log_level=0)
    ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    return matcher.try_consume_tokens(ids) == len(ids) and matcher.is_accepting()


@pytest.fixture(scope="module")
def info(smollm2_tokenizer: Any) -> TokenizerInfo:
    return TokenizerInfo.for_tokenizer(smollm2_tokenizer, 49152)


def test_text_chunks_and_number_literals() -> None:
    assert text_chunks('blood.\nBy: "Al" 8a-9\\') == [
        "blood", ".", "\\n", "By", ":", " ", '\\"', "Al", '\\"', " ", "8a", "-", "9", "\\\\",
    ]
    assert number_literals("Rating 5, total 1,299.99, range 10-20, code 007, 2.5e3") == [
        "5", "1299.99", "1", "299.99", "10", "-20", "20", "7", "2.5e3",
    ]
    assert number_literals("range 10-20, 3.5, code 007", integer=True) == ["10", "-20", "20", "7"]


def test_grounding_key_round_trip() -> None:
    schema = with_grounding(REVIEW_SCHEMA, TEXT)
    assert GROUNDING_KEY not in REVIEW_SCHEMA and schema[GROUNDING_KEY] == TEXT
    assert without_grounding(schema) == (REVIEW_SCHEMA, TEXT)
    assert without_grounding(REVIEW_SCHEMA) == (REVIEW_SCHEMA, None)
    with pytest.raises(ConstraintError, match="must be the input text"):
        compile_grammar({**REVIEW_SCHEMA, GROUNDING_KEY: 3})


def test_grounded_values_only(info: TokenizerInfo, smollm2_tokenizer: Any) -> None:
    grammar = compile_grammar(with_grounding(REVIEW_SCHEMA, TEXT))
    ok = [
        '{"rating":5,"review_text":"Real lead, \\"few\\" yourself."}',
        '{"rating":5,"review_text":"Real lead","reviewer":"Ian Phillips","email":"ian@example.net",'
        '"phone":"+1 (555) 010-2030","verified":true,"tags":["red","blue"]}',
        '{"rating":5,"review_text":"yourself.\\nBy"}',  # spans may cross lines, as JSON writes them
    ]
    bad = [
        '{"rating":5,"review_text":"Real leads"}',  # altered word
        '{"rating":5,"review_text":"eal lead"}',  # starts inside a word
        '{"rating":4,"review_text":"Real lead"}',  # 4 is not in the text
        '{"rating":10,"review_text":"Real lead"}',  # in the text, above the maximum
        '{"rating":5,"review_text":""}',  # minLength
        '{"rating":5,"review_text":"Real lead","reviewer":""}',  # a copied value is never empty
        '{"rating":5,"review_text":" Real lead"}',  # ... and never starts with white space
        '{"rating":5,"review_text":"Real lead, "}',  # ... nor ends with it
        '{"rating":5,"review_text":"yourself.\\n"}',  # ... a line break included
        '{"rating":5,"review_text":"Real lead","kind":"service"}',  # optional enum the text does not mention
        '{"rating":5,"review_text":"Real lead","date":"2024-01-01"}',  # no date in the text: no date key
        '{"rating":5,"review_text":"Real lead","email":"ian@example.com"}',
        '{"rating":5,"review_text":"Real lead","phone":" +1 (555) 010-2030"}',  # offered stripped
        '{"rating":5,"review_text":"Real lead","tags":["red","blue","red","blue"]}',  # maxItems
        '{"rating":5,"review_text":"Real lead","extra":"red"}',  # undeclared key
        '{"rating":5, "review_text":"Real lead"}',  # compact JSON only
        '{"review_text":"Real lead"}',  # required key missing
    ]
    assert [accepts(info, smollm2_tokenizer, grammar, answer) for answer in ok] == [True] * len(ok)
    assert [accepts(info, smollm2_tokenizer, grammar, answer) for answer in bad] == [False] * len(bad)
    with_date = compile_grammar(with_grounding(REVIEW_SCHEMA, TEXT + "\nOn 2024-01-01"))
    assert accepts(info, smollm2_tokenizer, with_date, '{"rating":5,"review_text":"Real lead","date":"2024-01-01"}')


def test_optional_enum_offers_what_the_text_mentions(info: TokenizerInfo, smollm2_tokenizer: Any) -> None:
    """An optional enum takes only values the text mentions (any case, `_`/`-` read as spaces); a required
    one keeps every value, since the answer must have it."""
    schema = {
        "type": "object",
        "properties": {
            "state": {"type": "string", "enum": ["open", "in_progress", "closed"]},
            "kind": {"type": "string", "enum": ["product", "service"]},
        },
        "required": ["state"],
    }
    grammar = compile_grammar(with_grounding(schema, "Ticket is IN-PROGRESS; Kind: Service"))
    answers = {
        '{"state":"in_progress","kind":"service"}': True,
        '{"state":"closed"}': True,  # required: any value of the enum
        '{"state":"open","kind":"product"}': False,  # "product" is not in the text
    }
    assert {a: accepts(info, smollm2_tokenizer, grammar, a) for a in answers} == answers
    mentioned = compile_grammar(with_grounding(schema, "state: open, the serviceman came"))
    assert not accepts(info, smollm2_tokenizer, mentioned, '{"state":"open","kind":"service"}')  # whole words
    assert accepts(info, smollm2_tokenizer, mentioned, '{"state":"open"}')


def test_required_value_missing_from_the_text_falls_back(info: TokenizerInfo, smollm2_tokenizer: Any) -> None:
    """A required number the text lacks cannot be grounded: the plain schema decides that value."""
    grammar = compile_grammar(with_grounding(REVIEW_SCHEMA, "Review: fine"))
    assert accepts(info, smollm2_tokenizer, grammar, '{"rating":3,"review_text":"fine"}')
    assert not accepts(info, smollm2_tokenizer, grammar, '{"rating":7,"review_text":"fine"}')  # maximum
    assert grounded_lark({"$defs": {}, "type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}}, "t") is None


def test_no_dead_end_on_random_walks(info: TokenizerInfo) -> None:
    """Every token the mask allows leads on: no state where the grammar allows nothing (an empty-language
    terminal, e.g. a date in a dateless text, would error in llguidance's mask computation)."""
    rng = random.Random(0)
    bitmask = np.zeros((49152 + 31) // 32, dtype=np.int32)
    for schema in (REVIEW_SCHEMA, ORDER_SCHEMA):
        grammar = compile_grammar(with_grounding(schema, TEXT))
        for _ in range(8):
            matcher = LLMatcher(info.llg, grammar, log_level=0)
            for _ in range(80):
                matcher.unsafe_compute_mask_ptr(bitmask.ctypes.data, bitmask.nbytes)
                assert not matcher.is_error(), matcher.get_error()
                allowed = np.nonzero(np.unpackbits(bitmask.view(np.uint8), bitorder="little")[:49152])[0]
                if matcher.is_stopped() or len(allowed) == 0:
                    break
                assert matcher.consume_token(int(rng.choice(allowed)))


def test_tiny_model_output_is_copied_from_the_text(tiny_model_dir: Path) -> None:
    """A random model decodes grounded JSON: schema-valid, every string and number taken from the text."""
    from maaza.decoding.backends import load_backend

    backend = load_backend("hf", str(tiny_model_dir))
    texts = ["Order A17 for Bob (age 41) is shipped: 2 x K9.", "Order B2 (pending) from Cy: 1 x P1 and 3 x Q2."]
    prompts = [
        backend.tokenizer.apply_chat_template([{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True)
        for t in texts
    ]
    batch = backend.generate(prompts, [with_grounding(ORDER_SCHEMA, t) for t in texts], max_new_tokens=96)
    for text, gen in zip(texts, batch.generations, strict=True):
        value = json.loads(gen.text)
        jsonschema.validate(value, ORDER_SCHEMA)
        for leaf in flatten_leaves(value).values():
            if isinstance(leaf, str) and leaf not in ("pending", "shipped"):
                assert leaf in text, (leaf, gen.text)
            elif isinstance(leaf, int):
                assert str(leaf) in text, (leaf, gen.text)


def test_eval_needs_constrained_for_grounded(edgejson_fixture: Any, tmp_path: Path) -> None:
    config = EvalConfig(
        data=str(edgejson_fixture.rows), schemas=str(edgejson_fixture.schemas), grounded=True, constrained=False
    )
    with pytest.raises(MaazaError, match="--constrained"):
        EvalRun(config, tmp_path / "r.json")
