"""Quantization-aware fine-tuning: train full weights through llama.cpp's Q4_0 rounding.

Why: a fine-tune merged and then rounded to 4 bits loses answers at the decisions where its F16 margin is
small (measured on EdgeJSON v3: GPTQ Q4_0 of adapter (f) 63.9% JSONExact against F16's 69.0%). Training with
the rounding in the forward pass lets the weights settle where the rounding keeps the answers.

How: every matrix llama.cpp would store as Q4_0 (each Linear with a multiple of 32 inputs, and the token
embedding, which SmolLM2's output head shares) is wrapped in a `torch.nn.utils.parametrize`
parametrization that returns its Q4_0 round trip, with a straight-through gradient (Bengio et al., 2013):
the forward pass sees exactly the weights a `gguf-q4_0-pure` export of these weights holds, and the
gradient reaches the full-precision weights as if the rounding were not there.

Why by hand: torchao's QAT fake-quantizers use their own int4 grid (symmetric, scale = max|w| / 7.5), not
ggml's Q4_0 (scale = the signed extreme / -8, codes trunc(w/d + 8.5) clipped to 0..15, d stored fp16),
and a model trained through one grid loses part of its gain when rounded to another. The rounding below
is gguf's own `Q4_0.quantize_blocks` in torch (tested bit-equal).
"""

from __future__ import annotations

from typing import Any

import torch

from maaza.errors import MaazaError

FAKE_QUANT_KINDS = ("q4_0",)
BLOCK = 32


def q4_0_round_trip(weight: torch.Tensor) -> torch.Tensor:
    """The Q4_0 round trip of `weight` (rows, cols): gguf's quantizer, then its dequantizer."""
    rows, cols = weight.shape
    blocks = weight.reshape(rows, cols // BLOCK, BLOCK)
    index = blocks.abs().argmax(dim=-1, keepdim=True)
    scale = torch.gather(blocks, -1, index) / -8.0
    inverse = torch.where(scale == 0, torch.zeros_like(scale), 1.0 / torch.where(scale == 0, 1.0, scale))
    codes = torch.clamp(torch.trunc(blocks.double() * inverse.double() + 8.5), 0, 15).to(blocks.dtype)
    stored_scale = scale.to(torch.float16).to(blocks.dtype)
    return ((codes - 8.0) * stored_scale).reshape(rows, cols)


class Q4_0FakeQuant(torch.nn.Module):
    """A parametrization: weight -> its Q4_0 round trip, gradient passed straight through."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            rounded = q4_0_round_trip(weight)
        return weight + (rounded - weight).detach()


def _targets(model: Any) -> list[tuple[Any, str]]:
    """(module, name) of every weight llama.cpp would round: Linear layers with a multiple of 32 inputs and
    the token embedding (and the output head, tied or not)."""
    found = []
    for _name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear | torch.nn.Embedding) and module.weight.shape[1] % BLOCK == 0:
            found.append((module, "weight"))
    return found


def apply_fake_quant(model: Any, kind: str) -> int:
    """Wrap every such weight of `model` in the `kind` round trip; returns how many weights were wrapped.
    A tied head and embedding share one parameter, so both read the rounded weight and train it together."""
    from torch.nn.utils import parametrize

    if kind not in FAKE_QUANT_KINDS:
        raise MaazaError(f"model.fake_quant: unknown type '{kind}'; choose one of {', '.join(FAKE_QUANT_KINDS)}")
    targets = _targets(model)
    for module, name in targets:
        parametrize.register_parametrization(module, name, Q4_0FakeQuant())
    if not targets:
        raise MaazaError("model.fake_quant: the model has no weights with a multiple of 32 inputs to round")
    return len(targets)


def bake_fake_quant(model: Any) -> None:
    """Replace each wrapped weight by its rounded value (what the 4-bit export will hold) and drop the
    wrappers, so the model saves as a plain transformers model; ties the head to the embedding again."""
    from torch.nn.utils import parametrize

    for module in list(model.modules()):
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    if getattr(model.config, "tie_word_embeddings", False):
        model.tie_weights()
