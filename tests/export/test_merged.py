"""`export_merged`: a tiny LoRA adapter merged into the tiny Llama gives the same logits as base + adapter."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from maaza.errors import MaazaError
from maaza.export.command import add_parser
from maaza.export.merged import export_merged
from maaza.models.loading import saved_model_metadata

# peft's get_peft_model calls a transformers API that transformers 5 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random (non-zero) LoRA adapter on the tiny model, saved like `maaza train` saves one."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                        init_lora_weights=False, task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    folder = tmp_path_factory.mktemp("run") / "adapter"
    model.save_pretrained(str(folder))
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(str(folder))
    metadata = {"name": "tiny-json", "kind": "adapter", "base_model": str(tiny_model_dir), "method": "lora",
                "task": "edgejson", "prompt_format": "schema-chat"}
    (folder / "maaza.json").write_text(json.dumps(metadata))
    return folder


def _logits(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(input_ids=ids).logits


def test_merged_logits_equal_base_plus_adapter(adapter_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = export_merged(adapter_dir, tmp_path / "merged")
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert (out / "generation_config.json").is_file() and not (out / "adapter_config.json").exists()
    metadata = json.loads((out / "maaza.json").read_text())
    assert metadata["kind"] == "merged" and metadata["base_model"] == str(tiny_model_dir)
    assert metadata["prompt_format"] == "schema-chat" and metadata["merged_from"] == str(adapter_dir)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # staging folder swapped in

    ids = torch.tensor([[1, 520, 33, 44, 1000, 2345, 9, 77]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    plain = _logits(base, ids)
    with_adapter = _logits(PeftModel.from_pretrained(base, str(adapter_dir)).eval(), ids)
    merged = _logits(AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval(), ids)
    assert not torch.allclose(plain, with_adapter, atol=1e-3)  # the adapter does something
    torch.testing.assert_close(merged, with_adapter, atol=1e-5, rtol=1e-5)


def test_export_command_merged_and_gguf_from_adapter(adapter_dir: Path, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="maaza")
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "exports"
    args = parser.parse_args(["export", "--adapter", str(adapter_dir), "--out", str(out),
                              "--formats", "merged", "gguf-q8_0", "--no-check"])
    assert args.handler(args) == 0
    sizes = json.loads((out / "sizes.json").read_text())
    assert set(sizes["formats"]) == {"merged", "gguf-q8_0"}
    assert sizes["formats"]["merged"]["bytes"] > 0 and (out / "merged" / "maaza.json").is_file()
    assert sizes["formats"]["gguf-q8_0"]["path"] == "tiny-json-q8_0.gguf"  # named after maaza.json "name"
    assert (out / "tiny-json-q8_0.gguf").stat().st_size == sizes["formats"]["gguf-q8_0"]["bytes"]
    assert sizes["source"]["adapter"] == str(adapter_dir)

    # a GGUF exported alone (no merged/ beside it) still finds the prompt format the adapter was trained with
    alone = tmp_path / "alone"
    args = parser.parse_args(["export", "--adapter", str(adapter_dir), "--out", str(alone), "--formats",
                              "gguf-q8_0", "--no-check"])
    assert args.handler(args) == 0
    assert not (alone / "merged").exists()
    metadata = saved_model_metadata(str(alone / "tiny-json-q8_0.gguf"), None)
    assert metadata["prompt_format"] == "schema-chat" and metadata["kind"] == "merged"
    assert metadata["merged_from"] == str(adapter_dir)

    # the merged check (fp32 merge vs unmerged adapter) on its own
    args = parser.parse_args(["export", "--adapter", str(adapter_dir), "--out", str(out), "--formats", "merged"])
    assert args.handler(args) == 0
    sizes = json.loads((out / "sizes.json").read_text())
    check = sizes["formats"]["merged"]["check"]
    assert check["passed"] and check["max_abs_logit_diff"] < 1e-4 and check["top1_agreement"] == 1.0
    assert "gguf-q8_0" in sizes["formats"]  # earlier formats stay listed


def test_export_merged_errors(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(MaazaError, match="not a peft adapter"):
        export_merged(tiny_model_dir, tmp_path / "m")


def test_export_command_gguf_lora(adapter_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    """`--formats gguf-lora`: the adapter alone as a llama.cpp LoRA GGUF (A/B per target, alpha, q/k permuted)."""
    import gguf
    import numpy as np
    from safetensors.torch import load_file

    from maaza.export.gguf_export import permute_qk
    from maaza.export.gguf_lora import export_gguf_lora

    parser = argparse.ArgumentParser(prog="maaza")
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "exports"
    args = parser.parse_args(["export", "--adapter", str(adapter_dir), "--out", str(out), "--formats", "gguf-lora"])
    assert args.handler(args) == 0
    entry = json.loads((out / "sizes.json").read_text())["formats"]["gguf-lora"]
    assert entry["path"] == "tiny-json-lora-f16.gguf" and entry["base"] == str(tiny_model_dir)
    assert entry["rank"] == 4 and entry["alpha"] == 8.0 and entry["tensors"] == 2 * 4 * 2  # 2 layers x 4 modules
    reader = gguf.GGUFReader(str(out / entry["path"]))
    assert reader.get_field("general.type").contents() == "adapter"
    assert reader.get_field("adapter.lora.alpha").contents() == pytest.approx(8.0)
    tensors = {t.name: np.asarray(t.data) for t in reader.tensors}
    weights = {k: v.float().numpy() for k, v in load_file(str(adapter_dir / "adapter_model.safetensors")).items()}
    prefix = "base_model.model.model.layers.1.self_attn."
    config = json.loads((tiny_model_dir / "config.json").read_text())
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    np.testing.assert_allclose(tensors["blk.1.attn_v.weight.lora_a"], weights[prefix + "v_proj.lora_A.weight"],
                               atol=1e-3)
    np.testing.assert_allclose(tensors["blk.1.attn_k.weight.lora_b"],
                               permute_qk(weights[prefix + "k_proj.lora_B.weight"], heads, kv), atol=1e-3)

    with pytest.raises(MaazaError, match="needs --adapter"):
        args = parser.parse_args(["export", "--model", str(tiny_model_dir), "--out", str(out),
                                  "--formats", "gguf-lora"])
        args.handler(args)
    with pytest.raises(MaazaError, match=r"no adapter_config\.json"):
        export_gguf_lora(tiny_model_dir, tmp_path / "x.gguf", n_head=heads, n_head_kv=kv, n_layers=2)
    broken = tmp_path / "dora"
    broken.mkdir()
    (broken / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4, "use_dora": True}))
    with pytest.raises(MaazaError, match="'use_dora' is set"):
        export_gguf_lora(broken, tmp_path / "y.gguf", n_head=heads, n_head_kv=kv, n_layers=2)
