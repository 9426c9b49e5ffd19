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
from maaza.decoding.backends import load_backend
from maaza.decoding.backends.llamacpp import LlamaCppBackend
from maaza.errors import MaazaError
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
    # Drafting off: these tests check exact parity with transformers, and batched draft verification uses
    # other float kernels (see test_prompt_lookup_drafting_keeps_the_greedy_output).
    llama = load_backend("llamacpp", str(path), threads=1, draft_tokens=0)
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
    slow = LlamaCppBackend(sharp_model[1], threads=1, fast_mask=False, prefix_cache=False, draft_tokens=0)
    try:
        full = slow.generate(prompts, [order, order], max_new_tokens=160)
        assert [g.text for g in full.generations] == want
        # Without stopping at the closing brace the grammar forces EOS right after it.
        tail = slow.generate(prompts[:1], [order], max_new_tokens=160, stop_on_json_close=False)
        assert tail.generations[0].finish_reason == "eos" and tail.generations[0].text == want[0]
    finally:
        slow.close()


def test_grounded_output_equals_hf(backends: Any, edgejson_fixture: Any) -> None:
    """A grounded schema (a Lark grammar) constrains llama.cpp exactly as it does transformers."""
    from maaza.decoding.grounded import with_grounding

    hf, llama = backends
    order = edgejson_fixture.schema_data["order"]
    prompts = [_chat(hf.tokenizer, text, order) for text in PROMPTS]
    schemas = [with_grounding(order, text) for text in PROMPTS]
    batch = llama.generate(prompts, schemas, max_new_tokens=160)
    want = [hf.generate([p], [s], max_new_tokens=160).generations[0].text for p, s in zip(prompts, schemas, strict=True)]
    assert [g.text for g in batch.generations] == want
    for gen, text in zip(batch.generations, PROMPTS, strict=True):
        value = json.loads(gen.text)
        jsonschema.Draft7Validator(order).validate(value)
        assert value["order_id"] in text and value["customer"]["name"] in text


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
    with pytest.raises(MaazaError, match=r"takes a LoRA GGUF .* or a PEFT adapter folder"):
        load_backend("llamacpp", str(path), adapter=str(tmp_path))  # a folder without adapter_config.json
    (tmp_path / "other").mkdir()
    not_lora = tmp_path / "other" / "not-lora.gguf"
    shutil.copy(path, not_lora)  # a model GGUF, not an adapter
    with pytest.raises(MaazaError, match="is not a LoRA adapter GGUF"):
        load_backend("llamacpp", str(path), adapter=str(not_lora), threads=1)
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
    from maaza.decoding.backends.llamacpp import THREADS_ENV, default_threads, physical_cores

    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert default_threads() == physical_cores() >= 1
    monkeypatch.setenv(THREADS_ENV, "3")
    assert default_threads() == 3
    monkeypatch.setenv(THREADS_ENV, "0")
    with pytest.raises(MaazaError, match="at least 1"):
        default_threads()


@pytest.fixture(scope="module")
def sharp_adapter(sharp_model: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A PEFT LoRA on every projection of the sharp model (B non-zero, fp16-exact) and its merged folder."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    folder, _ = sharp_model
    base = LlamaForCausalLM.from_pretrained(folder).eval()
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(base, config)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.copy_((torch.randn_like(param) * 0.3).half().float())
    root = tmp_path_factory.mktemp("sharp-lora")
    model.save_pretrained(root / "adapter")
    merged = model.merge_and_unload()
    with torch.no_grad():
        for param in merged.parameters():
            param.copy_(param.half().float())  # what an F16 GGUF of the merged model holds
    merged.save_pretrained(root / "merged", safe_serialization=True)
    return root / "adapter", root / "merged"


def test_lora_gguf_on_a_base_gguf_equals_the_merged_model(
    sharp_model: tuple[Path, Path], sharp_adapter: tuple[Path, Path], smollm2_tokenizer: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Base F16 GGUF + LoRA GGUF (applied by llama.cpp at run time) decodes like the merged model, and like
    transformers base + adapter; q/k LoRA rows get the base's rotary permutation (GQA: 4 heads, 2 KV)."""
    import gguf

    from maaza.export.gguf_export import export_gguf
    from maaza.export.gguf_lora import export_gguf_lora

    folder, base_gguf = sharp_model
    adapter, merged = sharp_adapter
    monkeypatch.setenv("MAAZA_CACHE_DIR", str(tmp_path / "cache"))
    smollm2_tokenizer.save_pretrained(merged)
    merged_gguf = export_gguf(merged, tmp_path / "merged-f16.gguf", "f16", name="merged").path
    lora = export_gguf_lora(adapter, tmp_path / "lora-f16.gguf", n_head=4, n_head_kv=2, n_layers=2)
    assert lora.rank == 4 and lora.alpha == 8.0 and lora.tensors == 2 * 7 * 2
    reader = gguf.GGUFReader(lora.path)
    assert reader.get_field("general.type").contents() == "adapter"
    assert reader.get_field("adapter.type").contents() == "lora"
    shapes = {t.name: list(t.shape) for t in reader.tensors}  # GGUF order: [in, out]
    assert shapes["blk.0.attn_q.weight.lora_a"] == [64, 4] and shapes["blk.0.attn_k.weight.lora_b"] == [4, 32]

    hf_lora = load_backend("hf", str(folder), adapter=str(adapter))
    with_file = load_backend("llamacpp", str(base_gguf), adapter=lora.path, threads=1)
    with_folder = load_backend("llamacpp", str(base_gguf), adapter=str(adapter), threads=1)  # converted, cached
    assert with_folder.lora_path.parent == tmp_path / "cache" / "lora_gguf"
    merged_backend = load_backend("llamacpp", merged_gguf, threads=1)
    plain = load_backend("llamacpp", str(base_gguf), threads=1)
    try:
        assert with_file.describe()["precision"] == "f16+lora-f16"
        assert with_file.describe()["adapter_size_bytes"] == Path(lora.path).stat().st_size
        for text in PROMPTS:
            prompt = _chat(hf_lora.tokenizer, text)
            want = merged_backend.generate([prompt], max_new_tokens=24).generations[0].text
            assert with_file.generate([prompt], max_new_tokens=24).generations[0].text == want
            assert with_folder.generate([prompt], max_new_tokens=24).generations[0].text == want
            assert hf_lora.generate([prompt], max_new_tokens=24).generations[0].text == want
            assert plain.generate([prompt], max_new_tokens=24).generations[0].text != want  # the adapter acts
    finally:
        for backend in (with_file, with_folder, merged_backend, plain):
            backend.close()
    with pytest.raises(MaazaError, match="adapter 'nowhere' not found"):
        load_backend("llamacpp", str(base_gguf), adapter="nowhere", threads=1)


def test_lookup_draft() -> None:
    draft = LlamaCppBackend.lookup_draft
    history = [5, 6, 7, 8, 9, 1, 2, 6, 7]  # tail (6, 7) first seen at index 1, followed by 8, 9, 1 ...
    assert draft(history, 3) == [8, 9, 1]
    assert draft([1, 2, 3, 9, 1, 2, 3], 2) == [9, 1]  # the 3-gram match wins
    assert draft([1, 2, 3, 4], 5) == [] and draft(history, 0) == []
    assert draft([4, 4, 4, 4], 8) == [4]  # the earliest match: what follows it runs up to the tail


def test_prompt_lookup_drafting_keeps_the_greedy_output(
    sharp_model: tuple[Path, Path], tiny_model_dir: Path, edgejson_fixture: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Drafting changes the number of model calls, not the tokens.

    The verify logic is checked exactly with each draft evaluated one token at a time (the same kernels as
    the plain loop): the repeating tiny model accepts drafts, the sharp one mostly rejects them, with and
    without a schema. Batched verification (the real path) uses llama.cpp's multi-token kernels, whose
    float rounding differs; it must still agree where the model's choices are not near ties (the tiny
    model, and the sharp one unconstrained)."""
    from maaza.export.gguf_export import export_gguf

    tiny_gguf = Path(export_gguf(tiny_model_dir, tmp_path / "tiny-f16.gguf", "f16", name="tiny").path)
    order = edgejson_fixture.schema_data["order"]

    def one_at_a_time(self: LlamaCppBackend, tokens: list[int]) -> list[Any]:
        rows = []
        for token in tokens:
            self._step(token)
            self._cached_tokens.append(token)
            rows.append(self._logits().copy())
        return rows

    def outputs(backend: LlamaCppBackend, prompts: list[str], schemas: Any) -> list[tuple[str, int, str]]:
        gens = backend.generate(prompts, schemas, max_new_tokens=120).generations
        return [(g.text, g.new_tokens, g.finish_reason) for g in gens]

    stats = {}
    for name, path in (("sharp", sharp_model[1]), ("tiny", tiny_gguf)):
        plain = LlamaCppBackend(path, threads=1, draft_tokens=0)
        drafting = LlamaCppBackend(path, threads=1, draft_tokens=8)
        try:
            prompts = [_chat(plain.tokenizer, text, order) for text in PROMPTS]
            for schemas in (None, [order, order]):
                want = outputs(plain, prompts, schemas)
                with monkeypatch.context() as patch:
                    patch.setattr(LlamaCppBackend, "_decode_all", one_at_a_time)
                    assert outputs(drafting, prompts, schemas) == want
                if name == "tiny" or schemas is None:
                    assert outputs(drafting, prompts, schemas) == want  # batched verification
            stats[name] = dict(drafting.draft_stats)
            assert plain.draft_stats["verify_calls"] == 0
        finally:
            plain.close()
            drafting.close()
    assert stats["tiny"]["accepted"] > 40
    assert stats["sharp"]["drafted"] > stats["sharp"]["accepted"] > 0


def test_speed_worker_runs_llama_cpp_with_active_openmp_wait(
    sharp_model: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`maaza bench speed` workers: OMP_WAIT_POLICY=ACTIVE for llama.cpp unless asked for the default."""
    from maaza.eval.speed import Target, run_targets
    from maaza.openmp import POLICY_ENV

    monkeypatch.delenv(POLICY_ENV, raising=False)
    path = str(sharp_model[1])
    chosen, default = run_targets([Target("llamacpp", path, draft=0), Target("llamacpp", path, draft=0,
                                                                            openmp="default")],
                                  prompts=1, max_new_tokens=8, threads=2)
    assert chosen["openmp_wait_policy"] == "ACTIVE" and chosen["threads"] == 2
    assert default["openmp_wait_policy"].startswith("default") and default["label"].endswith(" omp=default")
    assert chosen["new_tokens_total"] == default["new_tokens_total"] > 0
