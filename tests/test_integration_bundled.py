"""The real bundled SmolLM2-135M-Instruct: convert once (cached), load, greedy-generate.

The only test that loads real weights. The first run on a machine converts the GGUF into
$MAAZA_CACHE_DIR (about 30 s); later runs read the cached safetensors folder.
"""

from __future__ import annotations

import json
import time

import pytest

from maaza.decoding.generate import generate_batch
from maaza.models.loading import load_model
from maaza.models.registry import converted_dir

pytestmark = pytest.mark.integration


def test_bundled_smollm2_loads_and_generates() -> None:
    loaded = load_model("smollm2-135m")
    params = sum(p.numel() for p in loaded.model.parameters())
    assert abs(params - 134.5e6) <= 0.1e6, params
    assert loaded.vocab_size == 49152
    assert loaded.resolved.source == "bundled"
    assert loaded.resolved.hub_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    folder = converted_dir("smollm2-135m")
    assert loaded.resolved.path == str(folder)
    source = json.loads((folder / "maaza_source.json").read_text())
    assert source["gguf"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    described = loaded.describe()
    assert described["params"] == params
    assert described["file_size_bytes"] > 400e6  # fp32 safetensors

    tokenizer = loaded.tokenizer
    request = 'Return only JSON with keys "name" and "age" for: Ann Lee is 31.'
    messages = [{"role": "user", "content": request}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    generations, timing = generate_batch(loaded.model, tokenizer, [prompt], max_new_tokens=24)
    (gen,) = generations
    assert gen.text.strip()
    assert 0 < gen.new_tokens <= 24
    assert gen.prompt_tokens > 10
    assert gen.finish_reason in {"eos", "json_closed", "length"}
    assert timing.new_tokens == gen.new_tokens
    assert timing.seconds > 0 and gen.ttft_seconds > 0

    started = time.perf_counter()
    again = load_model("smollm2-135m")
    assert time.perf_counter() - started < 10
    assert sum(p.numel() for p in again.model.parameters()) == params


WEATHER = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city.",
            "parameters": {"type": "object", "properties": {
                "city": {"type": "string", "description": "City name."},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit."}},
                "required": ["city"]}}}]


def test_shipped_function_caller_answers_with_valid_calls() -> None:
    """The committed MLM-135M-FuncCall adapter on the real base: a fitting request gets its call, and an
    unrelated one gets [] (the behaviour BFCL's simple and irrelevance categories score)."""
    from maaza.call import FunctionCaller

    caller = FunctionCaller.load(max_new_tokens=96)
    assert caller.backend == "hf" and caller.prompt_format == "tools-chat"
    calls = caller.call("What's the weather in Oslo in celsius?", WEATHER)
    assert calls == [{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}]
    assert caller.call("Write me a short poem about autumn leaves.", WEATHER) == []
