"""Write a PEFT LoRA adapter as a llama.cpp LoRA GGUF, to run on top of a quantized base GGUF.

Why: merging the adapter and re-quantizing to 4 bits rounds the fine-tune away. The LoRA deltas are far
smaller than a 4-bit grid step, and the bundled SmolLM2 base is itself a Q4_1 grid, so a Q4_1 export of
the merged model snaps most weights back onto the base's values (measured: q4_0 of the merged model lost
18 JSONExact points against F16). llama.cpp instead applies an adapter at run time, `W x + s * B (A x)`:
the base stays the shipped Q4_1 file (the very weights the adapter was trained on) and A, B stay F16, so
the 4-bit deployment computes the trained model.

Layout as llama.cpp's `convert_lora_to_gguf.py` writes it: `general.type = adapter`, `adapter.type = lora`,
`adapter.lora.alpha`, and per target matrix `<llama.cpp name>.lora_a` (PEFT's lora_A, [r, in]) and
`.lora_b` (lora_B, [out, r]); lora_b of q_proj/k_proj gets the same row permutation as the base weights.
llama.cpp scales by alpha / r, so an rsLoRA adapter (scale alpha / sqrt(r)) is written with alpha * sqrt(r).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from maaza.errors import MaazaError
from maaza.export.gguf_export import atomic_gguf_writer, permute_qk

ADAPTER_WEIGHTS = "adapter_model.safetensors"
_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<part>[AB])(?:\.default)?\.weight$")


@dataclass
class GGUFLoraExport:
    path: str
    file_size_bytes: int
    seconds: float
    rank: int
    alpha: float
    tensors: int  # lora_a + lora_b tensors written

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _adapter_config(folder: Path) -> dict[str, Any]:
    from maaza.models.loading import read_adapter_config

    path = folder / "adapter_config.json"
    config = read_adapter_config(folder)
    if str(config.get("peft_type", "LORA")).upper() != "LORA":
        raise MaazaError(f"{path}: peft_type '{config.get('peft_type')}' is not LORA")
    for key in ("use_dora", "modules_to_save"):
        if config.get(key):
            raise MaazaError(f"{path}: '{key}' is set; llama.cpp LoRA adapters cannot carry it (merge instead)")
    if config.get("bias", "none") != "none":
        raise MaazaError(f"{path}: bias '{config['bias']}' is not supported by llama.cpp LoRA adapters")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise MaazaError(f"{path}: per-module rank/alpha patterns are not supported; merge instead")
    return config


def export_gguf_lora(
    adapter_dir: str | Path,
    out_path: str | Path,
    *,
    n_head: int,
    n_head_kv: int,
    n_layers: int,
    name: str | None = None,
) -> GGUFLoraExport:
    """Write the PEFT adapter in `adapter_dir` to `out_path` (F16 LoRA GGUF, atomic)."""
    import gguf
    from safetensors import safe_open

    started = time.perf_counter()
    folder = Path(adapter_dir)
    config = _adapter_config(folder)
    rank = int(config["r"])
    alpha = float(config.get("lora_alpha", rank))
    if config.get("use_rslora"):
        alpha *= math.sqrt(rank)  # llama.cpp scales by alpha / r; rsLoRA means alpha / sqrt(r)
    weights_path = folder / ADAPTER_WEIGHTS
    if not weights_path.is_file():
        raise MaazaError(f"{folder}: no {ADAPTER_WEIGHTS}")
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    pairs: dict[str, dict[str, np.ndarray]] = {}
    with safe_open(str(weights_path), framework="pt") as handle:
        for key in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
            match = _KEY.match(key)
            if match is None:
                raise MaazaError(f"{weights_path}: tensor '{key}' is not a LoRA A/B matrix; merge instead")
            module = match.group("module")
            pairs.setdefault(module, {})[match.group("part")] = handle.get_tensor(key).float().numpy()
    if not pairs:
        raise MaazaError(f"{weights_path}: no LoRA tensors")

    out = Path(out_path)
    with atomic_gguf_writer(out) as writer:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_name(name or folder.name)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        written = 0
        for module, parts in sorted(pairs.items(), key=lambda item: _layer_order(item[0])):
            if set(parts) != {"A", "B"}:
                raise MaazaError(f"{weights_path}: '{module}' has lora_{''.join(parts)} but not both A and B")
            gguf_name = name_map.get_name(f"{module}.weight", try_suffixes=(".weight",))
            if gguf_name is None:
                raise MaazaError(f"{weights_path}: cannot map '{module}' to a llama.cpp tensor name")
            lora_a, lora_b = parts["A"], parts["B"]
            if lora_a.shape[0] != rank or lora_b.shape[1] != rank:
                raise MaazaError(
                    f"{weights_path}: '{module}' has A {list(lora_a.shape)} / B {list(lora_b.shape)}, not rank {rank}"
                )
            if module.endswith("q_proj"):
                lora_b = permute_qk(lora_b, n_head, n_head)
            elif module.endswith("k_proj"):
                lora_b = permute_qk(lora_b, n_head, n_head_kv)
            for suffix, data in ((".lora_a", lora_a), (".lora_b", lora_b)):
                writer.add_tensor(gguf_name + suffix, np.ascontiguousarray(data, dtype=np.float16))
                written += 1
    return GGUFLoraExport(str(out), out.stat().st_size, round(time.perf_counter() - started, 2), rank, alpha, written)


def _layer_order(module: str) -> tuple[int, str]:
    match = re.search(r"layers\.(\d+)\.", module)
    return (int(match.group(1)) if match else 1 << 30), module
