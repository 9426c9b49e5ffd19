"""Quantization-aware fine-tuning: the Q4_0 round trip is gguf's, the gradient passes straight through,
and a trained model exports to a Q4_0 GGUF that holds exactly the weights training saw."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from train_helpers import TrainData, make_config

from maaza.errors import MaazaError
from maaza.export.command import export_model
from maaza.train import checkpoint as ckpt
from maaza.train.fake_quant import apply_fake_quant, bake_fake_quant, q4_0_round_trip
from maaza.train.recipe import Recipe, build_model


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_round_trip_is_gguf_q4_0_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((24, 96)) * rng.uniform(0.001, 0.2, (24, 1))).astype(np.float32)
    weight[3, 32:64] = 0.0  # an all-zero block: scale 0, every code 8
    weight[5, :32] = 0.25  # a block whose values all equal its extreme
    kind = gguf.GGMLQuantizationType.Q4_0
    expected = gguf.quants.dequantize(gguf.quants.quantize(weight, kind), kind).reshape(weight.shape)
    got = q4_0_round_trip(torch.from_numpy(weight)).numpy()
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(q4_0_round_trip(torch.from_numpy(got)).numpy(), got)  # idempotent


def test_wrapped_model_computes_with_rounded_weights_and_trains_the_originals(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[5, 17, 300, 4000, 12, 9]])
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    rounded = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    with torch.no_grad():
        for module in rounded.modules():
            if isinstance(module, torch.nn.Linear | torch.nn.Embedding):
                module.weight.copy_(q4_0_round_trip(module.weight))
    assert apply_fake_quant(model, "q4_0") == 16  # 14 projections, the embedding and the head (one tied weight)
    out = model(input_ids=ids, labels=ids)
    expected = rounded(input_ids=ids, labels=ids)
    torch.testing.assert_close(out.logits, expected.logits, rtol=0, atol=1e-5)
    out.loss.backward()
    expected.loss.backward()
    original = model.model.layers[0].mlp.down_proj.parametrizations.weight.original
    torch.testing.assert_close(original.grad, rounded.model.layers[0].mlp.down_proj.weight.grad)  # straight through
    shared = model.model.embed_tokens.parametrizations.weight.original
    assert shared is model.lm_head.parametrizations.weight.original  # one tied parameter, rounded on both paths
    bake_fake_quant(model)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    torch.testing.assert_close(model(input_ids=ids).logits, expected.logits, rtol=0, atol=1e-5)
    with pytest.raises(MaazaError, match=r"model\.fake_quant: unknown type 'q3_k'"):
        apply_fake_quant(rounded, "q3_k")


def test_quantization_aware_run_exports_to_q4_0_without_loss(
    tiny_model_dir: Path, train_data: TrainData, tmp_path: Path
) -> None:
    """The merged output holds Q4_0-exact weights, so `gguf-q4_0-pure` of it stores them unchanged."""
    out = tmp_path / "qat"
    config = make_config(tiny_model_dir, train_data, out, model={"method": "full", "fake_quant": "q4_0"},
                         data={"val_fraction": 0.0}, train={"max_steps": 3, "lr": 1e-3},
                         checkpoint={"every_steps": 10})
    summary = Recipe(config).run()
    assert summary["params"]["trainable"] == summary["params"]["total"]
    merged = out / "merged"
    assert json.loads((merged / "maaza.json").read_text())["fake_quant"] == "q4_0"
    weights = load_file(str(merged / "model.safetensors"))
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    assert not torch.equal(weights["model.layers.1.mlp.up_proj.weight"], before["model.layers.1.mlp.up_proj.weight"])
    for name, tensor in weights.items():
        if tensor.ndim == 2:
            torch.testing.assert_close(q4_0_round_trip(tensor), tensor, rtol=0, atol=0, msg=name)
    export_model(tmp_path / "exports", ["gguf-q4_0-pure"], model=str(merged), name="qat", check=False)
    stored = {t.name: t for t in gguf.GGUFReader(tmp_path / "exports" / "qat-q4_0-pure.gguf").tensors}
    down = stored["blk.0.ffn_down.weight"]
    values = gguf.quants.dequantize(down.data, down.tensor_type).reshape(down.data.shape[0], -1)
    np.testing.assert_array_equal(values, weights["model.layers.0.mlp.down_proj.weight"].numpy())

    # a checkpoint of the run fits a fresh quantization-aware model (what --resume loads) and bakes to the output
    fresh, _, _ = build_model(config, torch.device("cpu"))
    ckpt.load_checkpoint(out / "checkpoints" / "step-00000003", model=fresh, optimizer=None, scheduler=None)
    bake_fake_quant(fresh)
    for name, tensor in fresh.state_dict().items():
        if name in weights:
            assert torch.equal(tensor, weights[name]), name

    lora = dataclasses.replace(config, model=dataclasses.replace(config.model, method="lora"))
    with pytest.raises(MaazaError, match=r"model\.fake_quant: quantization-aware training needs model\.method 'full'"):
        build_model(lora, torch.device("cpu"))
