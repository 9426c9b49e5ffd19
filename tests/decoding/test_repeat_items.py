"""Repeated array items (maaza.decoding.repeat_items): the watcher's rule, and the llama.cpp rewind end to end."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from maaza.decoding.repeat_items import Repeat, RepeatedItemWatcher, has_free_string
from maaza.errors import MaazaError
from maaza.eval.runner import EvalConfig, EvalRun

CART = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "kind": {"type": "string", "enum": ["a", "b"]},
                               "tags": {"type": "array", "items": {"type": "string"}}},
            },
        },
        "note": {"type": "string"},
    },
    "required": ["items", "note"],
}


# For the flat model below: one key per item, so after an item only `,` or `]` can follow.
NAMES = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "minItems": 1,
                  "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
        "note": {"type": "string"},
    },
    "required": ["items", "note"],
}


def watch(text: str, schema: dict[str, Any] = CART, **options: Any) -> RepeatedItemWatcher:
    watcher = RepeatedItemWatcher(schema, **options)
    for piece in text:  # one character per "token"
        watcher.feed(piece)
    return watcher


def test_has_free_string_follows_the_schema() -> None:
    item_schema = CART["properties"]["items"]["items"]
    assert has_free_string({"name": "Bob"}, item_schema)
    assert not has_free_string({"kind": "a"}, item_schema)  # an enum value is not copied text
    assert not has_free_string({}, item_schema) and not has_free_string({"n": 3}, item_schema)
    assert has_free_string({"tags": ["x"]}, item_schema)  # nested, through `items`
    assert has_free_string({"other": "x"}, item_schema)  # a key the schema does not know counts


def test_watcher_reports_the_first_repeated_item_with_free_text() -> None:
    text = '{"items":[{"name":"A"},{"name":"B"}, {"name":"A"}'
    watcher = watch(text)
    comma = text.index(', {"name":"A"}')
    assert watcher.found == Repeat(comma_offset=comma, depth=2)
    assert watcher.tokens_before(comma) == comma  # one token per character here
    assert watch('{"items":[{"name":"A"},{"name":"B"}]').found is None
    # Items without free strings may repeat (gold answers do: `{}`, `{"kind": "a"}`).
    assert watch('{"items":[{"kind":"a"},{"kind":"a"},{},{}]').found is None
    # Braces, brackets and commas inside strings are text, not structure.
    assert watch('{"items":[{"name":"x},{"},{"name":"x},{"}').found is not None
    assert watch('{"items":[{"name":"a,b"},{"name":"a\\",b"}]').found is None
    # Nested arrays: the item's own array is walked through the schema.
    nested = '{"items":[{"tags":["p"]},{"tags":["q"]},{"tags":["p"]}'
    assert watch(nested).found == Repeat(nested.rindex(","), 2)
    assert watch(text, detect=False).found is None


def test_sealed_watcher_vetoes_commas_until_its_array_closes() -> None:
    kept = '{"items":[{"name":"A"}'  # rewound to before the comma of a repeated item
    watcher = watch(kept, sealed_depth=2)
    assert not watcher.allows(",") and not watcher.allows(',{"')
    assert not watch('{"items":[{"name":"A"', sealed_depth=2).allows("},")  # closes the item, not the array
    assert watcher.allows("]") and watcher.allows('],"') and watcher.allows("]}")
    inside = watch('{"items":[{"name":"A', sealed_depth=2)
    assert inside.allows('",') is False and inside.allows("a, b") and inside.allows('"}]')
    watcher.feed("]")
    assert watcher.sealed_depth is None and watcher.allows(",")
    assert RepeatedItemWatcher(CART).allows(",")  # unsealed


def test_eval_config_refuses_rewinds_without_llamacpp(edgejson_fixture: Any, tmp_path: Path) -> None:
    for backend, constrained in (("hf", True), ("llamacpp", False)):
        config = EvalConfig(data=str(edgejson_fixture.rows), schemas=str(edgejson_fixture.schemas),
                            backend=backend, constrained=constrained, rewind_repeats=True)
        with pytest.raises(MaazaError, match=r"--rewind-repeats, rewind_repeats=True\) needs constrained decoding on the llamacpp backend"):
            EvalRun(config, tmp_path / "out.json")


needs_llamacpp = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                    reason="llama-cpp-python is not installed (optional, built from source)")


@pytest.fixture(scope="module")
def flat_gguf(smollm2_tokenizer: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama whose final norm is zero: every logit is exactly 0, so greedy decoding under a grammar
    takes the lowest allowed token id. After an item of NAMES' list that is `,` (id below `]`): the model
    lists the same item again and again, the way a trained model's loop does, deterministically."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from maaza.export.gguf_export import export_gguf

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.model.norm.weight.zero_()
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=2)
    folder = tmp_path_factory.mktemp("flat") / "model"
    model.save_pretrained(folder, safe_serialization=True)
    smollm2_tokenizer.save_pretrained(folder)
    path = folder.parent / "flat-f16.gguf"
    export_gguf(folder, path, "f16", name="flat")
    return path


@needs_llamacpp
@pytest.mark.parametrize("draft_tokens", [0, 8])
def test_llamacpp_rewinds_a_repeated_item_and_goes_on_after_the_array(flat_gguf: Path, draft_tokens: int) -> None:
    from maaza.decoding.backends.llamacpp import LlamaCppBackend
    from maaza.decoding.grounded import with_grounding

    text = "Cart of Alpha: one Alpha item. Note: keep"
    schema = with_grounding(NAMES, text)
    backend = LlamaCppBackend(flat_gguf, threads=1, draft_tokens=draft_tokens)
    try:
        prompt = "<|im_start|>user\n" + text + "<|im_end|>\n<|im_start|>assistant\n"
        plain = backend.generate([prompt], [schema], max_new_tokens=200).generations[0]
        rewound = backend.generate([prompt], [schema], max_new_tokens=200, rewind_repeats=True).generations[0]
        # The KV cache holds the prompt and the kept output, all but its last token (never fed back): the
        # dropped items' entries are gone.
        cached, prompt_ids = backend._cached_tokens, backend.tokenize(prompt)
        assert cached[: len(prompt_ids)] == prompt_ids and len(cached) == len(prompt_ids) + rewound.new_tokens - 1
        assert rewound.text.startswith(backend.tokenizer.decode(cached[len(prompt_ids) :]))
    finally:
        backend.close()
    looped = json.loads(plain.text)
    assert len(looped["items"]) > 2 and len({json.dumps(i) for i in looped["items"]}) == 1  # the loop
    value = json.loads(rewound.text)
    jsonschema.Draft7Validator(NAMES).validate(value)
    assert value["items"] == looped["items"][:1]  # the repeats are gone ...
    assert value["note"] and value["note"] in text  # ... and the row went on with the key after the list
    assert rewound.finish_reason == "json_closed_after_rewind" and rewound.new_tokens < plain.new_tokens


@needs_llamacpp
def test_llamacpp_keeps_a_repeat_the_grammar_requires(flat_gguf: Path) -> None:
    """minItems 3 and a single value the text offers: the seal is lifted instead of failing the row."""
    from maaza.decoding.backends.llamacpp import LlamaCppBackend
    from maaza.decoding.grounded import with_grounding

    schema = json.loads(json.dumps(NAMES))
    schema["properties"]["items"]["minItems"] = 3
    text = "Alpha"
    backend = LlamaCppBackend(flat_gguf, threads=1, draft_tokens=0)
    try:
        prompt = "<|im_start|>user\n" + text + "<|im_end|>\n<|im_start|>assistant\n"
        gen = backend.generate([prompt], [with_grounding(schema, text)], max_new_tokens=200,
                               rewind_repeats=True).generations[0]
        unconstrained_error = None
        try:
            backend.generate([prompt], None, rewind_repeats=True)
        except MaazaError as exc:
            unconstrained_error = exc
    finally:
        backend.close()
    value = json.loads(gen.text)
    jsonschema.Draft7Validator(schema).validate(value)
    assert len(value["items"]) >= 3 and gen.finish_reason.endswith("_after_rewind")
    assert unconstrained_error is None  # unconstrained rows are simply not watched
