"""The loop guard: repetition detection, the closing bonus, and rows that would loop ending as valid JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from maaza.decoding.loop_guard import (
    CLOSE_BONUS,
    COMMA_BONUS,
    JsonPosition,
    LoopGuard,
    RepetitionDetector,
    closing_vocab,
    vocab_for_tokenizer,
)

# A free string, an unbounded array and a required integer after them: a looping model never reaches `count`.
NOTE_SCHEMA = {
    "type": "object",
    "properties": {
        "note": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "count": {"type": "integer"},
    },
    "required": ["note", "tags", "count"],
    "additionalProperties": False,
}


def _feed(detector: RepetitionDetector, tokens: list[int]) -> list[int]:
    """Positions (1-based counts) at which the detector fired."""
    return [i + 1 for i, token in enumerate(tokens) if detector.feed(token)]


def test_detector_fires_on_exact_repetition_only() -> None:
    rng = np.random.default_rng(0)
    varied = rng.integers(0, 50_000, size=400).tolist()
    assert _feed(RepetitionDetector(), varied) == []
    # A 20-token sentence said again and again: fires at the first check after 3 repeats (60 tokens < 64 span).
    sentence = rng.integers(0, 50_000, size=20).tolist()
    fired = _feed(RepetitionDetector(), varied[:10] + sentence * 6)
    assert fired and fired[0] == 80  # 10 + 64 tokens of repetition, rounded up to the next 8-token check
    detector = RepetitionDetector()
    _feed(detector, varied[:10] + sentence * 6)
    assert detector.period() == 20
    # One token repeated: period 1, after min_span tokens.
    assert _feed(RepetitionDetector(min_span=16, check_every=4), [7] * 20) == [16, 20]
    # Two repeats of a long block are not enough (min_repeats=3).
    block = rng.integers(0, 50_000, size=100).tolist()
    assert _feed(RepetitionDetector(), block * 2) == []


def test_closing_bonus_by_leading_character() -> None:
    pieces = ['"', ' "', "]", "}", ",", " ,x", "a", "1", " ", "", '\n}', '",', "<|im_end|>", '"}]', '"},{"', ',"',
              "},{", "@ex", ".com"]
    vocab = closing_vocab(pieces, eos_token_ids=[12])
    C, K = CLOSE_BONUS, COMMA_BONUS
    # outside strings: only closers, or a comma towards the next key; a value is the model's choice
    assert vocab.structural.tolist() == [0, 0, C, C, K, 0, 0, 0, 0, 0, C, 0, C, 0, 0, K, 0, 0, 0]
    # inside a value string: a quote that closes and opens nothing ('"},{"' would start another item)
    # ... and where a format holds the string open, on towards "@host.tld"
    assert vocab.in_string.tolist() == [C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, C, 0, 0, 0, K, K / 2]
    assert vocab.spelling('a"').tolist() == [0] * 6 + [C] + [0] * 12  # "a" spells it; '"' alone does not


def test_json_position_tracks_keys_strings_and_required() -> None:
    schema = {"type": "object", "required": ["id", "items"], "properties": {
        "id": {"type": "string"},
        "items": {"type": "array", "items": {"type": "object", "required": ["sku", "qty"],
                                             "properties": {"sku": {"type": "string"}, "qty": {}}}}}}
    position = JsonPosition()
    position.feed('Sure: {"id":"a\\"b,}')
    assert position.in_string and not position.string_is_key  # the escaped quote and the brace are text
    position.feed('","items":[{"sku":"K9",')
    assert not position.in_string and position.missing_required(schema) == ["qty"]
    position.feed('"q')
    assert position.in_string and position.string_is_key and position.text == "q"
    position.feed('ty":2}]')
    assert position.missing_required(schema) == [] and not position.closed  # the top level has id and items
    position.feed("}")
    assert position.closed
    unknown = JsonPosition()
    unknown.feed('{"x":{"')
    assert unknown.missing_required(schema) == []  # no schema node for "x": no opinion


def test_vocab_for_the_real_tokenizer_is_padded_and_cached(smollm2_tokenizer: Any) -> None:
    vocab = vocab_for_tokenizer(smollm2_tokenizer, 49_160, [2])
    assert vocab.structural.shape == vocab.in_string.shape == (49_160,) and len(vocab.pieces) == 49_160
    assert vocab.structural[2] == CLOSE_BONUS and not vocab.structural[49_152:].any()
    quote = smollm2_tokenizer.convert_tokens_to_ids('"')
    letter = smollm2_tokenizer.convert_tokens_to_ids("a")
    assert vocab.in_string[quote] == CLOSE_BONUS and vocab.structural[letter] == 0
    assert vocab_for_tokenizer(smollm2_tokenizer, 49_160, [2]) is vocab


def test_guard_spells_a_missing_required_key() -> None:
    pieces = ["{", '"', "}", ",", ":", "1", "a", "b", "ab", 'id"', "zz", '"a"']
    schema = {"type": "object", "required": ["a", "id"], "properties": {"a": {}, "id": {}}}
    guard = LoopGuard(closing_vocab(pieces, eos_token_ids=[]), budget=20, reserve=19, schema=schema)
    for token in (0, 1, 6, 1, 4, 5, 3, 1):  # {"a":1,"  -> inside a key string; "id" is still missing
        guard.feed(token)
    assert guard.closing and guard.json.string_is_key
    bonus = guard.bonus()
    assert bonus[9] == CLOSE_BONUS and bonus[[6, 7, 8, 10, 1]].tolist() == [0, 0, 0, 0, 0]
    guard.feed(9)  # id"
    assert not guard.json.in_string and guard.json.missing_required(schema) == []
    for token in (4, 5, 3, 1, 10):  # :1,"zz  -> a made-up key: no required key left to spell, so close it
        guard.feed(token)
    assert guard.json.string_is_key and guard.bonus()[1] == CLOSE_BONUS


def test_guard_closes_near_the_budget_and_follows_strings() -> None:
    pieces = ["{", '"', "}", ":", *[f"w{i}" for i in range(200)]]  # 4.. are words
    guard = LoopGuard(closing_vocab(pieces, eos_token_ids=[]), budget=100, reserve=10)
    logits = np.zeros(len(pieces), dtype=np.float32)
    logits[50] = 9.0  # the model wants a word
    for token in [0, 1, 4, 1, 3, 1, *range(5, 88)]:  # {"w0":" then 83 different words: 89 tokens, no loop
        guard.feed(token)
    assert guard.generated == 89 and not guard.closing and guard.steer(logits) is logits
    guard.feed(90)  # 90 generated, 10 left = the reserve
    assert guard.reason == "budget" and guard.json.in_string and not guard.json.string_is_key
    assert guard.steer(logits).argmax() == 1 and logits.argmax() == 50  # close the string; logits untouched
    guard.feed(1)
    assert not guard.json.in_string and guard.steer(logits).argmax() == 2  # then the object
    assert guard.finish_reason("json_closed") == "closed_on_budget"
    assert guard.finish_reason("length") == "length"
    vocab = guard.vocab
    assert LoopGuard(vocab, budget=2048).reserve == 128 and LoopGuard(vocab, budget=40).reserve == 8
    looping = LoopGuard(vocab, budget=10_000)
    for token in [0, 1, *[5] * 70]:  # checked every 8 tokens: fires at 72
        looping.feed(token)
    assert looping.reason == "loop" and looping.finish_reason("eos") == "closed_on_loop"


@pytest.fixture(scope="module")
def hf_backend(tiny_model_dir: Path) -> Any:
    from maaza.decoding.backends import load_backend

    return load_backend("hf", str(tiny_model_dir))


def test_looping_row_ends_valid_with_the_guard(hf_backend: Any) -> None:
    """conftest's tiny model repeats itself: without the guard the budget cuts it, with it the JSON closes."""
    prompt = hf_backend.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Note: ship it. Tags: a, b. Count 3."}], tokenize=False,
        add_generation_prompt=True,
    )
    cut = hf_backend.generate([prompt], [NOTE_SCHEMA], max_new_tokens=96, loop_guard=False).generations[0]
    assert cut.finish_reason == "length" and cut.new_tokens == 96
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.text)
    batch = hf_backend.generate([prompt, prompt], [NOTE_SCHEMA, NOTE_SCHEMA], max_new_tokens=96)
    for gen in batch.generations:
        assert gen.finish_reason in ("closed_on_loop", "closed_on_budget"), gen
        assert gen.new_tokens <= 96
        jsonschema.validate(json.loads(gen.text), NOTE_SCHEMA)
    assert batch.generations[0].text == batch.generations[1].text
    # The guard only steers after it fires: the tokens before that are the unguarded ones.
    assert batch.generations[0].text[:20] == cut.text[:20]
