"""The llama.cpp backend on a tiny random Llama exported to GGUF f16: parity with hf, constraints, eval CLI."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

if importlib.util.find_spec("llama_cpp") is None:
    pytest.skip(
        "llama-cpp-python is not installed (optional, built from source): MAAZA_WITH_LLAMACPP=1 scripts/setup.sh",
        allow_module_level=True,
    )

from maaza.cli import main
from maaza.errors import MaazaError
from maaza.eval.backends import load_backend
from maaza.eval.backends.llamacpp import LlamaCppBackend
from maaza.tasks.edgejson import build_prompt

PROMPTS = [
    "Order A17 for Bob (age 41) is shipped: 2 x K9 at 3.50 EUR, 2024-07-03T17:42.",
    "Héllo wörld! Ticket #88: 日本語 😀 <|im_start|> stays text\n\ttabs  and   spaces",
]


@pytest.fixture(scope="module")
def sharp_model(smollm2_tokenizer: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny random Llama whose greedy output depends on the prompt, and its f16 GGUF.

    conftest's tiny model (init std 0.02, tied head) just repeats one token; here a 10x larger init and an
    untied head give varied, context-dependent tokens with top-1 margins far above float rounding, and
    weights already representable in f16 make the GGUF hold exactly the transformers weights.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from maaza.export.gguf_export import export_gguf

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         initializer_range=0.2, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                         pad_token_id=2)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(param.half().float())
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=2)
    folder = tmp_path_factory.mktemp("sharp") / "model"
    model.save_pretrained(folder, safe_serialization=True)
    smollm2_tokenizer.save_pretrained(folder)
    gguf_dir = folder.parent / "export"
    gguf_dir.mkdir()
    path = gguf_dir / "sharp-f16.gguf"
    export_gguf(folder, path, "f16", name="sharp")
    return folder, path


@pytest.fixture(scope="module")
def backends(sharp_model: tuple[Path, Path]) -> Any:
    folder, path = sharp_model
    hf = load_backend("hf", str(folder))
    llama = load_backend("llamacpp", str(path), threads=1)
    yield hf, llama
    llama.close()


def _chat(tokenizer: Any, text: str, schema: dict[str, Any] | None = None) -> str:
    return build_prompt(text, schema, "schema-chat" if schema else "seed-chat", tokenizer)


def test_tokenizer_and_describe(backends: Any, sharp_model: tuple[Path, Path], edgejson_fixture: Any) -> None:
    hf, llama = backends
    order = edgejson_fixture.schema_data["order"]
    assert isinstance(llama, LlamaCppBackend) and llama.name == "llamacpp" and not llama.batched
    assert llama.vocab_size == 49152 == len(llama.tokenizer)
    for text in PROMPTS:
        prompt = _chat(hf.tokenizer, text, order)
        assert prompt.startswith("<|im_start|>")
        expected = hf.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        assert llama.tokenize(prompt) == expected  # special tokens parsed, no BOS added
    info = llama.describe()
    assert info.keys() == hf.describe().keys()
    assert info["backend"] == "llamacpp" and info["precision"] == "f16" and info["adapter"] is None
    assert info["file_size_bytes"] == sharp_model[1].stat().st_size and info["source"] == "local"
    assert info["params"] == hf.describe()["params"]
    assert 2 in llama.eos_token_ids  # <|im_end|>


def test_greedy_output_equals_hf(backends: Any) -> None:
    hf, llama = backends
    for text in PROMPTS:
        prompt = _chat(hf.tokenizer, text)
        want = hf.generate([prompt], max_new_tokens=24).generations[0]
        got = llama.generate([prompt], max_new_tokens=24).generations[0]
        assert (got.text, got.new_tokens, got.finish_reason, got.prompt_tokens) == (
            want.text, want.new_tokens, want.finish_reason, want.prompt_tokens)
        assert 0 < got.ttft_seconds <= got.seconds
    # A second call reuses the KV cache of the shared prompt prefix; the answer must not change.
    prompts = [_chat(hf.tokenizer, text) for text in PROMPTS]
    batch = llama.generate(prompts, max_new_tokens=24)
    again = llama.generate(prompts[::-1], max_new_tokens=24)
    assert [g.text for g in batch.generations] == [g.text for g in again.generations][::-1]
    assert batch.timing.size == 2 and batch.timing.new_tokens == sum(g.new_tokens for g in batch.generations)
    assert batch.timing.prompt_tokens == sum(g.prompt_tokens for g in batch.generations)


def test_constrained_output_is_schema_valid_and_equals_hf(
    backends: Any, sharp_model: tuple[Path, Path], edgejson_fixture: Any
) -> None:
    """Nesting (customer, items[]), an enum (status) and an optional field (customer.age)."""
    hf, llama = backends
    order = edgejson_fixture.schema_data["order"]
    prompts = [_chat(hf.tokenizer, text, order) for text in PROMPTS]
    batch = llama.generate(prompts, [order, order], max_new_tokens=160)
    assert batch.constraint.mask_calls >= sum(g.new_tokens for g in batch.generations)
    assert batch.constraint.compile_seconds > 0 and batch.constraint.mask_seconds > 0
    for gen in batch.generations:
        assert gen.finish_reason == "json_closed"
        jsonschema.Draft7Validator(order).validate(json.loads(gen.text))
    want = [hf.generate([p], [order], max_new_tokens=160).generations[0].text for p in prompts]
    assert [g.text for g in batch.generations] == want
    # Without the argmax fast path (full mask every step) the tokens are the same.
    slow = LlamaCppBackend(sharp_model[1], threads=1, fast_mask=False, prefix_cache=False)
    try:
        full = slow.generate(prompts, [order, order], max_new_tokens=160)
        assert [g.text for g in full.generations] == want
        # Without stopping at the closing brace the grammar forces EOS right after it.
        tail = slow.generate(prompts[:1], [order], max_new_tokens=160, stop_on_json_close=False)
        assert tail.generations[0].finish_reason == "eos" and tail.generations[0].text == want[0]
    finally:
        slow.close()


def test_eval_cli_on_a_gguf(sharp_model: tuple[Path, Path], edgejson_fixture: Any, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    argv = ["eval", "--backend", "llamacpp", "--model", str(sharp_model[1]), "--data", str(edgejson_fixture.rows),
            "--schemas", str(edgejson_fixture.schemas), "--limit", "3", "--max-new-tokens", "16",
            "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["status"] == "complete" and len(results["examples"]) == 3
    assert results["config"]["backend"] == "llamacpp"
    assert results["model"]["backend"] == "llamacpp" and results["model"]["precision"] == "f16"
    assert results["model"]["path"] == str(sharp_model[1])


def test_clear_errors(sharp_model: tuple[Path, Path], tmp_path: Path) -> None:
    _, path = sharp_model
    with pytest.raises(MaazaError, match="cannot apply a LoRA adapter"):
        load_backend("llamacpp", str(path), adapter=str(tmp_path))
    with pytest.raises(MaazaError, match="exactly one"):
        load_backend("llamacpp", str(tmp_path))
    with pytest.raises(MaazaError, match="not found"):
        load_backend("llamacpp", str(tmp_path / "missing.gguf"))
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(MaazaError, match=r"not a \.gguf"):
        load_backend("llamacpp", str(tmp_path / "model.bin"))


def test_tokenizer_from_merged_folder_and_metadata(sharp_model: tuple[Path, Path], tmp_path: Path) -> None:
    folder, path = sharp_model
    out = tmp_path / "export"
    shutil.copytree(folder, out / "merged")
    (out / "merged" / "maaza.json").write_text(json.dumps({"name": "sharp-ft", "prompt_format": "schema"}))
    shutil.copy(path, out / "sharp-f16.gguf")
    llama = LlamaCppBackend.load(str(out), threads=1)  # the folder's single .gguf
    try:
        assert llama.tokenizer_source == str(out / "merged")
        assert llama.metadata["prompt_format"] == "schema" and llama.describe()["name"] == "sharp-ft"
    finally:
        llama.close()


def test_threads_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from maaza.eval.backends.llamacpp import THREADS_ENV, default_threads, physical_cores

    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert default_threads() == physical_cores() >= 1
    monkeypatch.setenv(THREADS_ENV, "3")
    assert default_threads() == 3
    monkeypatch.setenv(THREADS_ENV, "0")
    with pytest.raises(MaazaError, match="at least 1"):
        default_threads()
