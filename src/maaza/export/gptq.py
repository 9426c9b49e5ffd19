"""GPTQ for llama.cpp's Q4_0 and IQ4_NL blocks: 4-bit weights chosen to keep each layer's output, not each weight.

Why: a LoRA merged into the base and re-quantized by round-to-nearest (RTN) is lost; its deltas are smaller
than half a Q4_0 step (measured on EdgeJSON v3: q4_0-pure 27.8% JSONExact against F16's 51.3%). GPTQ
(Frantar et al., 2022, arXiv:2210.17323) quantizes a matrix one input column at a time and pushes each
column's rounding error onto the columns not yet quantized, through the inverse of the Hessian H = X^T X of
that layer's inputs X on calibration text, so the layer's output on such text stays close to the merged
model's.

Why by hand: the GPTQ libraries (gptqmodel, auto-gptq, optimum) pack their own formats for CUDA kernels,
not ggml's blocks; llama.cpp's imatrix only weights the rounding of each weight, without moving the error.
The algorithm below is the paper's Algorithm 1 (lazy batch updates, Cholesky form of H⁻¹) with groups of 32
along the input dimension, which are exactly ggml's blocks; the result is written with the `gguf` writer
like every other export.

Two 4-bit grids, both one fp16 scale d and 32 four-bit codes q per block, packed alike (4.5 bits/weight):
- `q4_0`: w = d·(q − 8), a uniform grid; d = the block's signed largest weight / −8, as llama.cpp sets it.
- `iq4_nl`: w = d·K[q] with llama.cpp's non-linear table K (`gguf.quants.IQ4_NL.kvalues`, −127..113,
  denser near 0 where most weights are); d by llama.cpp's search (`quantize_row_iq4_nl_impl`: 16 candidate
  scales, each refitted by weighted least squares, the best kept), weighted as llama.cpp weights an
  imatrix: the input's mean square (H's diagonal) × sqrt(σ² + w²). Same size as Q4_0 and about the same
  llama.cpp speed here (206 vs 209 decode tok/s in one paired run); weights about 25% closer (mean squared
  error on adapter (f)'s matrices), but the same EdgeJSON v3 JSONExact after GPTQ (63.9% for (f), both).

Calibration rows are EdgeJSON rows, each its prompt as the model will see it plus its target completion.
By default the Hessians all come from one pass of the unquantized model (`collect_hessians`);
`sequential=True` gathers them layer by layer through the already-quantized layers before
(`sequential_gptq`, as the reference code does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from maaza.errors import MaazaError

Q4_0_BLOCK = 32  # inputs per block, Q4_0 and IQ4_NL alike
GPTQ_KINDS = ("q4_0", "iq4_nl")
# Llama projections and the linear whose input each reads (q/k/v share the attention norm's output,
# gate/up the MLP norm's): one Hessian per distinct input.
SHARED_INPUT = {"k_proj": "q_proj", "v_proj": "q_proj", "up_proj": "gate_proj"}
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def grid(kind: str) -> np.ndarray:
    """The 16 values a 4-bit code stands for (times the block scale), ascending."""
    if kind == "q4_0":
        return np.arange(-8, 8, dtype=np.float32)
    if kind == "iq4_nl":
        import gguf

        return np.array(gguf.quants.IQ4_NL.kvalues, dtype=np.float32)
    raise MaazaError(f"unknown 4-bit block type '{kind}'; choose one of {', '.join(GPTQ_KINDS)}")


@dataclass
class Q4Blocks:
    """A matrix in 4-bit blocks (`kind` q4_0 or iq4_nl): codes (rows, cols) in 0..15 and one fp16 scale per
    block of 32 inputs; weight = scale · grid(kind)[code]."""

    codes: np.ndarray  # uint8, (rows, cols)
    scales: np.ndarray  # float16, (rows, cols // 32)
    kind: str = "q4_0"

    def dequantize(self) -> np.ndarray:
        rows, cols = self.codes.shape
        values = grid(self.kind)[self.codes].reshape(rows, cols // Q4_0_BLOCK, Q4_0_BLOCK)
        return (values * self.scales.astype(np.float32)[..., None]).reshape(rows, cols)

    def permute_rows(self, permute: Callable[[np.ndarray], np.ndarray]) -> Q4Blocks:
        """The same row permutation on codes and scales (llama.cpp's rotary layout for q/k)."""
        return Q4Blocks(permute(self.codes), permute(self.scales), self.kind)

    def pack(self) -> np.ndarray:
        """ggml's bytes, (rows, cols // 32 * 18), the same layout for Q4_0 and IQ4_NL: per block the fp16
        scale, then 16 bytes whose low nibbles are codes 0..15 and high nibbles codes 16..31 (the layout
        `gguf.quants` reads)."""
        rows, cols = self.codes.shape
        codes = self.codes.reshape(rows, cols // Q4_0_BLOCK, 2, Q4_0_BLOCK // 2)
        nibbles = codes[:, :, 0, :] | (codes[:, :, 1, :] << np.uint8(4))
        scale_bytes = np.ascontiguousarray(self.scales).view(np.uint8).reshape(rows, cols // Q4_0_BLOCK, 2)
        return np.concatenate([scale_bytes, nibbles], axis=-1).reshape(rows, -1)


def _block_scales(blocks: Any, kind: str = "q4_0", importance: Any = None) -> Any:
    """Block scales (as fp16 values) for blocks (rows, groups, 32).

    Q4_0: the signed largest-magnitude weight / -8, as llama.cpp computes them. (A search over shrunken
    scales, as llama.cpp's imatrix quantizers do, gave GPTQ no gain on test layers and was dropped.)
    IQ4_NL: llama.cpp's search; `importance` (one weight per input, e.g. H's diagonal) plays its imatrix."""
    import torch

    index = blocks.abs().argmax(dim=-1, keepdim=True)
    extreme = torch.gather(blocks, -1, index)
    if kind == "q4_0":
        return (extreme.squeeze(-1) / -8.0).to(torch.float16).to(torch.float32)
    values = torch.from_numpy(grid(kind))
    if importance is None:
        weights = blocks * blocks
    else:
        sigma2 = 2.0 * (blocks * blocks).mean(dim=-1, keepdim=True)
        weights = importance.reshape(1, blocks.shape[1], blocks.shape[2]) * torch.sqrt(sigma2 + blocks * blocks)
    safe = torch.where(extreme == 0, torch.ones_like(extreme), extreme)
    # llama.cpp's candidates: the extreme mapped onto -K[0], then onto K[0] + t for t in -7..7
    inverses = [-values[0] / safe] + [(t + values[0]) / safe for t in range(-7, 8)]
    best_scale = (extreme / -values[0]).squeeze(-1)
    best_score = torch.full_like(best_scale, -torch.inf)
    for inverse in inverses:
        q = values[_nearest(inverse * blocks, values)]
        sum_qx = (weights * q * blocks).sum(dim=-1)
        sum_q2 = (weights * q * q).sum(dim=-1)
        divisor = torch.where(sum_q2 > 0, sum_q2, 1.0)
        score = torch.where(sum_q2 > 0, sum_qx * sum_qx / divisor, -torch.inf)
        better = score > best_score
        best_scale = torch.where(better, sum_qx / divisor, best_scale)  # the least-squares scale for these codes
        best_score = torch.where(better, score, best_score)
    best_scale = torch.where(extreme.squeeze(-1) == 0, torch.zeros_like(best_scale), best_scale)
    return best_scale.to(torch.float16).to(torch.float32)


def _nearest(x: Any, values: Any) -> Any:
    """Index of the grid value (ascending `values`) nearest to each element of x."""
    import torch

    return torch.bucketize(x, (values[1:] + values[:-1]) / 2)


def _quantize_column(column: Any, scale: Any, kind: str = "q4_0") -> tuple[Any, Any]:
    """Codes and dequantized values of one input column under its rows' block scales."""
    import torch

    safe = torch.where(scale == 0, torch.ones_like(scale), scale)
    if kind == "q4_0":
        codes = torch.clamp(torch.round(column / safe) + 8.0, 0.0, 15.0)
        codes = torch.where(scale == 0, torch.full_like(codes, 8.0), codes)
        return codes, (codes - 8.0) * scale
    values = torch.from_numpy(grid(kind))
    codes = _nearest(column / safe, values)
    return codes.to(torch.float32), values[codes] * scale


def gptq_quantize(
    weight: Any,
    hessian: Any,
    *,
    kind: str = "q4_0",
    damp: float = 0.01,
    act_order: bool = True,
    batch_columns: int = 128,
) -> Q4Blocks:
    """Quantize `weight` (rows, cols), reading inputs whose Hessian is `hessian` (cols, cols), to `kind`
    blocks (q4_0 or iq4_nl).

    `damp` (a fraction of H's mean diagonal added to its diagonal) keeps H invertible; inputs that were never
    non-zero in calibration get weight 0, as in the paper's reference code. `act_order` quantizes the columns
    with the largest activations first (the reference code's `desc_act`), with every block's scale fixed
    beforehand from the unquantized weights ("static groups"), since the blocks are contiguous inputs;
    without it each block's scale is taken when GPTQ reaches the block (on correlated test inputs act-order
    halves the output error)."""
    import torch

    rows, cols = weight.shape
    grid(kind)  # an unknown kind fails here
    if cols % Q4_0_BLOCK:
        raise MaazaError(f"GPTQ {kind.upper()} needs a multiple of {Q4_0_BLOCK} input columns, got {cols}")
    if tuple(hessian.shape) != (cols, cols):
        raise MaazaError(f"Hessian of shape {tuple(hessian.shape)} does not match a weight with {cols} columns")
    groups = cols // Q4_0_BLOCK
    batch_columns = max(Q4_0_BLOCK, batch_columns - batch_columns % Q4_0_BLOCK)
    W = weight.detach().to(torch.float32).clone()
    H = hessian.detach().to(torch.float64).clone()
    dead = torch.diag(H) == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    scales = torch.zeros((rows, groups), dtype=torch.float32)
    importance = torch.diag(H).to(torch.float32)  # each input's mean square: the imatrix of IQ4_NL's scale search
    if act_order:
        scales = _block_scales(W.reshape(rows, groups, Q4_0_BLOCK), kind, importance)
        order = torch.argsort(torch.diag(H), descending=True)
    else:
        order = torch.arange(cols)
    W, H = W[:, order], H[order][:, order]
    H += torch.eye(cols, dtype=H.dtype) * (damp * torch.mean(torch.diag(H)))
    try:
        inverse = torch.cholesky_inverse(torch.linalg.cholesky(H))
        upper = torch.linalg.cholesky(inverse, upper=True).to(torch.float32)
    except RuntimeError as exc:  # torch.linalg.LinAlgError subclasses RuntimeError
        raise MaazaError(f"GPTQ: the calibration Hessian is not positive definite ({exc}); raise damp") from None

    group_of = (order // Q4_0_BLOCK).tolist()
    codes = torch.zeros((rows, cols), dtype=torch.float32)
    for start in range(0, cols, batch_columns):
        end = min(start + batch_columns, cols)
        block = W[:, start:end].clone()
        errors = torch.zeros_like(block)
        upper_block = upper[start:end, start:end]
        for i in range(end - start):
            column = start + i
            group = group_of[column]
            if not act_order and column % Q4_0_BLOCK == 0:
                # the block's scale from its weights as they are now (earlier errors already pushed in)
                current = block[:, i : i + Q4_0_BLOCK].reshape(rows, 1, Q4_0_BLOCK)
                scales[:, group] = _block_scales(current, kind, importance[column : column + Q4_0_BLOCK])[:, 0]
            column_codes, dequantized = _quantize_column(block[:, i], scales[:, group], kind)
            codes[:, int(order[column])] = column_codes
            error = (block[:, i] - dequantized) / upper_block[i, i]
            block[:, i:] -= error.unsqueeze(1) * upper_block[i, i:].unsqueeze(0)
            errors[:, i] = error
        W[:, end:] -= errors @ upper[start:end, end:]
    return Q4Blocks(codes.to(torch.uint8).numpy(), scales.to(torch.float16).numpy(), kind)


@dataclass
class Calibration:
    """Per-linear input Hessians (mean of x xᵀ over calibration tokens) and how they were gathered."""

    hessians: dict[str, Any]  # module name (e.g. model.layers.0.self_attn.q_proj) -> (cols, cols)
    rows: int
    tokens: int
    seconds: float


@contextmanager
def _recording(modules: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """While open, sums xᵀx of every input row reaching each named module (a forward pre-hook each)."""
    import torch

    sums: dict[str, Any] = {}

    def hook_for(name: str) -> Callable[..., None]:
        def record(_module: Any, inputs: tuple[Any, ...]) -> None:
            x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).to(torch.float32)
            product = x.T @ x
            sums[name] = product if name not in sums else sums[name] + product

        return record

    handles = [module.register_forward_pre_hook(hook_for(name)) for name, module in modules.items()]
    try:
        yield sums
    finally:
        for handle in handles:
            handle.remove()


def _hooked_linears(named: Iterable[tuple[str, Any]], include_head: bool) -> dict[str, Any]:
    """The linears whose input Hessian is needed: one per distinct input (q for q/k/v, gate for gate/up)."""
    import torch

    wanted = {}
    for name, module in named:
        leaf = name.rpartition(".")[2]
        if ((leaf in PROJECTIONS and leaf not in SHARED_INPUT) or (include_head and leaf == "lm_head")) and isinstance(
            module, torch.nn.Linear
        ):
            wanted[name] = module
    return wanted


def _share(hessians: dict[str, Any]) -> dict[str, Any]:
    """Add an entry for each SHARED_INPUT projection (k/v, up) pointing at its source's Hessian (q, gate)."""
    for name in list(hessians):
        prefix, _, leaf = name.rpartition(".")
        for shared, source in SHARED_INPUT.items():
            if leaf == source:
                hessians[f"{prefix}.{shared}"] = hessians[name]
    return hessians


def _weight_key(name: str, tied: bool) -> str:
    """The safetensors name of a linear's weight; a tied LM head is stored as the token embedding."""
    return "model.embed_tokens.weight" if name == "lm_head" and tied else f"{name}.weight"


def _forward_all(model: Any, sequences: Iterable[list[int]]) -> tuple[int, int]:
    """Run the model over each non-empty sequence (the recording hooks do the work); (rows, tokens) seen.
    A hook may end a pass early by raising _StopForward."""
    import torch

    n_rows = n_tokens = 0
    with torch.no_grad():
        for ids in sequences:
            if not ids:
                continue
            with suppress(_StopForward):
                model(input_ids=torch.tensor([ids]), use_cache=False)
            n_rows += 1
            n_tokens += len(ids)
    if n_tokens == 0:
        raise MaazaError("GPTQ calibration got no tokens (empty calibration set)")
    return n_rows, n_tokens


def collect_hessians(model: Any, sequences: Iterable[list[int]], *, include_head: bool = True) -> Calibration:
    """One forward pass per token sequence; sums xᵀx at the input of every projection (and the LM head)."""
    started = time.perf_counter()
    modules = _hooked_linears(model.named_modules(), include_head)
    if not modules:
        raise MaazaError("GPTQ calibration found no Llama projections (q_proj ... down_proj) in the model")
    with _recording(modules) as sums:
        n_rows, n_tokens = _forward_all(model, sequences)
    hessians = _share({name: total / n_tokens for name, total in sums.items()})
    return Calibration(hessians, n_rows, n_tokens, round(time.perf_counter() - started, 2))


class _StopForward(Exception):
    """Raised by the hook that captures the first decoder layer's inputs: the rest of the pass is not needed."""


def sequential_gptq(
    model: Any,
    sequences: Iterable[list[int]],
    *,
    kind: str = "q4_0",
    damp: float = 0.01,
    act_order: bool = True,
    report: Callable[[str], None] | None = None,
) -> tuple[dict[str, Q4Blocks], Calibration]:
    """GPTQ layer by layer, as the paper's reference code runs it: each decoder layer's Hessians come from
    inputs that went through the layers before it *already quantized*, so each layer also corrects the
    error its predecessors left. The first layer's inputs (with their masks and rotary tables) are captured
    once and carried through the layers; the model's weights are replaced in place by the chosen 4-bit
    values (pass a model you do not need afterwards). The tied head is calibrated on the final norm of the
    quantized stack. Returns the blocks (safetensors names) and the Hessians each was chosen with."""
    import torch

    started = time.perf_counter()
    layers = model.model.layers
    captured: list[tuple[Any, dict[str, Any]]] = []

    def capture(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        hidden = args[0] if args else kwargs.pop("hidden_states")
        captured.append((hidden, kwargs))
        raise _StopForward

    handle = layers[0].register_forward_pre_hook(capture, with_kwargs=True)
    try:
        n_rows, n_tokens = _forward_all(model, sequences)
    finally:
        handle.remove()

    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    blocks: dict[str, Q4Blocks] = {}
    hessians: dict[str, Any] = {}

    def quantize(name: str, module: Any, hessian: Any) -> None:
        chosen = gptq_quantize(module.weight, hessian, kind=kind, damp=damp, act_order=act_order)
        blocks[_weight_key(name, tied)] = chosen
        hessians[name] = hessian
        module.weight.copy_(torch.from_numpy(chosen.dequantize()).to(module.weight.dtype))

    with torch.no_grad():
        for index, layer in enumerate(layers):
            prefix = f"model.layers.{index}"
            named = [(f"{prefix}.{name}", module) for name, module in layer.named_modules() if name]
            with _recording(_hooked_linears(named, include_head=False)) as sums:
                for hidden, kwargs in captured:
                    layer(hidden, **kwargs)
            layer_hessians = _share({name: total / n_tokens for name, total in sums.items()})
            for name, module in named:
                if name in layer_hessians and module.weight.shape[1] % Q4_0_BLOCK == 0:
                    quantize(name, module, layer_hessians[name])
            captured = [(layer(hidden, **kwargs), kwargs) for hidden, kwargs in captured]
            if report and (index + 1) % 10 == 0:
                report(f"gptq: {index + 1}/{len(layers)} layers")
        head = model.get_output_embeddings()
        if head is not None and head.weight.shape[1] % Q4_0_BLOCK == 0:
            head_sum = None
            for hidden, _ in captured:
                x = model.model.norm(hidden).reshape(-1, hidden.shape[-1]).to(torch.float32)
                head_sum = x.T @ x if head_sum is None else head_sum + x.T @ x
            quantize("lm_head", head, head_sum / n_tokens)
    return blocks, Calibration(hessians, n_rows, n_tokens, round(time.perf_counter() - started, 2))


def quantize_model(
    model: Any,
    calibration: Calibration,
    *,
    kind: str = "q4_0",
    damp: float = 0.01,
    act_order: bool = True,
    report: Callable[[str], None] | None = None,
) -> dict[str, Q4Blocks]:
    """GPTQ (`kind` blocks) for every calibrated linear; keys are safetensors names (`...q_proj.weight`).

    A tied LM head is stored as the token embedding (`model.embed_tokens.weight`), which it shares."""
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    modules = dict(model.named_modules())
    result: dict[str, Q4Blocks] = {}
    for done, (name, hessian) in enumerate(sorted(calibration.hessians.items()), start=1):
        module = modules[name]
        if module.weight.shape[1] % Q4_0_BLOCK:
            continue  # export_gguf keeps such a matrix F16 (a listed fallback)
        result[_weight_key(name, tied)] = gptq_quantize(module.weight, hessian, kind=kind, damp=damp,
                                                        act_order=act_order)
        if report and (done % 30 == 0 or done == len(calibration.hessians)):
            report(f"gptq: {done}/{len(calibration.hessians)} matrices")
    return result


def output_error(weight: Any, hessian: Any, approximation: np.ndarray) -> float:
    """tr(ΔW H ΔWᵀ) / tr(W H Wᵀ): the layer's relative squared output error on calibration inputs."""
    import torch

    W = weight.detach().to(torch.float64)
    delta = torch.from_numpy(approximation).to(torch.float64) - W
    H = hessian.to(torch.float64)
    return float(((delta @ H) * delta).sum() / ((W @ H) * W).sum())


def rtn_q4_0(weight: Any) -> np.ndarray:
    """Round-to-nearest Q4_0 (what `gguf-q4_0-pure` writes), dequantized: GPTQ's baseline."""
    import gguf

    data = np.ascontiguousarray(weight.detach().float().numpy())
    kind = gguf.GGMLQuantizationType.Q4_0
    return gguf.quants.dequantize(gguf.quants.quantize(data, kind), kind).reshape(data.shape)


def rtn_blocks(weight: Any, kind: str) -> Q4Blocks:
    """Each weight rounded to its nearest grid value under its block's scale, with no error feedback: what
    llama.cpp's quantizer does without an imatrix. Written by hand for IQ4_NL because the `gguf` package
    can only dequantize that type; the GGUF export uses it for an IQ4_NL matrix GPTQ did not choose."""
    import torch

    data = torch.as_tensor(weight).detach().to(torch.float32)
    rows, cols = data.shape
    if cols % Q4_0_BLOCK:
        raise MaazaError(f"{kind.upper()} needs a multiple of {Q4_0_BLOCK} input columns, got {cols}")
    blocks = data.reshape(rows, cols // Q4_0_BLOCK, Q4_0_BLOCK)
    scales = _block_scales(blocks, kind)
    codes, _ = _quantize_column(blocks, scales[..., None], kind)
    return Q4Blocks(codes.reshape(rows, cols).to(torch.uint8).numpy(), scales.to(torch.float16).numpy(), kind)


def rtn_dequantized(weight: Any, kind: str) -> np.ndarray:
    """GPTQ's baseline for `kind`: round-to-nearest, dequantized."""
    return rtn_q4_0(weight) if kind == "q4_0" else rtn_blocks(weight, kind).dequantize()


@dataclass
class GPTQSettings:
    """Calibration for `gguf-q4_0-gptq` / `gguf-iq4_nl-gptq` (the `maaza export --calibration*` / `--gptq-*`
    options)."""

    rows: str | None = None  # EdgeJSON JSONL; None: the data root's edgejson_v3/train.jsonl
    schemas: str | None = None  # None: the `schemas` folder beside the default rows
    n_rows: int = 128
    damp: float = 0.01
    seed: int = 0
    act_order: bool = True
    # Layer by layer measured no better than one pass on EdgeJSON v3 (55.7% vs 57.0% JSONExact, warm-start
    # adapter (d)) and takes 1.5x as long, so one pass is the default.
    sequential: bool = False
    # The N matrices GPTQ still damages most (largest relative output error on the calibration inputs) are
    # written Q8_0 instead. Measured no gain on EdgeJSON v3: adapter (f) with 24 kept (+4.4 MB), 61.4%
    # JSONExact against 63.9% with none; that error does not rank what matters for the answers. Off by default.
    keep_q8_0: int = 0

    def resolve(self) -> tuple[Path, Path]:
        from maaza.paths import data_root, resolve_under_data_root

        if self.n_rows < 1:
            raise MaazaError("--calibration-rows: must be at least 1")
        if not 0 < self.damp < 1:
            raise MaazaError("--gptq-damp: must be in (0, 1)")
        if self.keep_q8_0 < 0:
            raise MaazaError("--gptq-keep-q8_0: must be 0 or more")
        root = data_root()
        default = root / "edgejson_v3" if root is not None else None
        if self.rows is None and (default is None or not (default / "train.jsonl").is_file()):
            raise MaazaError(
                "the GPTQ formats need calibration rows: --calibration ROWS.jsonl (EdgeJSON rows with prompt, "
                "schema_id and expected_output, e.g. what `maaza data generate` writes) and "
                "--calibration-schemas DIR (no EdgeJSON v3 under the data root to default to)"
            )
        rows = resolve_under_data_root(self.rows) if self.rows else default / "train.jsonl"  # type: ignore[operator]
        if not rows.is_file():
            raise MaazaError(f"--calibration: {rows} is not a file")
        if self.schemas:
            schemas = resolve_under_data_root(self.schemas)
        elif self.rows is None:
            schemas = default / "schemas"  # type: ignore[operator]
        else:
            schemas = rows.parent / "schemas"
        if not schemas.is_dir():
            raise MaazaError(f"--calibration-schemas: schema folder {schemas} not found")
        return rows, schemas


def gptq_from_folder(
    model_dir: str | Path, settings: GPTQSettings, report: Callable[[str], None] | None = None, *, kind: str = "q4_0"
) -> tuple[dict[str, Q4Blocks], dict[str, Any]]:
    """Calibrate the model in `model_dir` (fp32, transformers) and GPTQ every matrix into `kind` blocks; the blocks for
    `export_gguf(calibrated=...)` and a summary for sizes.json (calibration, time, output errors vs RTN, and
    `kept_q8_0`: the `settings.keep_q8_0` worst matrices, left out of the blocks, to be written Q8_0)."""
    import hashlib

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from maaza.models.loading import read_model_metadata
    from maaza.tasks import get_task
    from maaza.tasks.base import choose_prompt_format
    from maaza.train.config import DataSettings

    rows_path, schemas_dir = settings.resolve()
    metadata = read_model_metadata(model_dir)
    defaults = DataSettings()  # what training used when maaza.json does not say (minify, max length)
    prompt_format = choose_prompt_format(None, metadata, get_task(metadata.get("task") or "edgejson"))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    sequences = edgejson_calibration(
        rows_path, schemas_dir, tokenizer, prompt_format=prompt_format,
        minify_targets=bool(metadata.get("minify_targets", defaults.minify_targets)), n_rows=settings.n_rows,
        seed=settings.seed, max_length=int(metadata.get("max_length") or defaults.max_length),
    )
    started = time.perf_counter()
    # sequential_gptq overwrites the weights as it goes; the errors below compare with the weights as loaded
    originals = {name: module.weight.detach().clone() if settings.sequential else module.weight.detach()
                 for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    if settings.sequential:
        blocks, calibration = sequential_gptq(model, sequences, kind=kind, damp=settings.damp,
                                              act_order=settings.act_order, report=report)
    else:
        calibration = collect_hessians(model, sequences)
        blocks = quantize_model(model, calibration, kind=kind, damp=settings.damp, act_order=settings.act_order,
                                report=report)
    seconds = round(time.perf_counter() - started, 2)
    if report:
        report(f"gptq: {len(blocks)} matrices, {calibration.rows} rows / {calibration.tokens} tokens, {seconds} s")
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    errors: dict[str, tuple[float, float]] = {}  # safetensors name -> (GPTQ, RTN) relative output error
    for name, hessian in calibration.hessians.items():
        key = _weight_key(name, tied)
        if key in blocks:
            errors[key] = (output_error(originals[name], hessian, blocks[key].dequantize()),
                           output_error(originals[name], hessian, rtn_dequantized(originals[name], kind)))
    worst = sorted(errors, key=lambda key: errors[key][0], reverse=True)
    kept = worst[: settings.keep_q8_0]
    for key in kept:
        del blocks[key]
    if report and kept:
        report(f"gptq: {len(kept)} matrices with the largest output error kept Q8_0")
    summary = {
        "method": f"GPTQ (arXiv:2210.17323), {kind.upper()} blocks of 32",
        "act_order": settings.act_order,
        "sequential": settings.sequential,
        "calibration": {
            "rows_file": str(rows_path),
            "sha256": hashlib.sha256(rows_path.read_bytes()).hexdigest(),
            "schemas": str(schemas_dir),
            "prompt_format": prompt_format,
            "rows": calibration.rows,
            "tokens": calibration.tokens,
            "seed": settings.seed,
        },
        "damp": settings.damp,
        "seconds": seconds,  # calibration passes + GPTQ
        "matrices": len(blocks),
        # mean over all matrices of tr(ΔW H ΔWᵀ)/tr(W H Wᵀ) on the calibration inputs (before any is kept Q8_0)
        "relative_output_error": {"gptq": float(np.mean([e[0] for e in errors.values()])),
                                  "rtn": float(np.mean([e[1] for e in errors.values()]))},
        # every matrix, worst first: what --gptq-keep-q8_0 N picks from
        "matrix_errors": [{"name": key, "gptq": errors[key][0], "rtn": errors[key][1]} for key in worst],
        "kept_q8_0": kept,  # written Q8_0 by export_gguf (`type_overrides`), not as these blocks
    }
    return blocks, summary


def edgejson_calibration(
    rows_path: Any,
    schemas_dir: Any,
    tokenizer: Any,
    *,
    prompt_format: str,
    minify_targets: bool = True,
    n_rows: int = 128,
    seed: int = 0,
    max_length: int = 2048,
) -> list[list[int]]:
    """Token ids of `n_rows` seeded-random EdgeJSON rows, each its prompt (as the model was trained to read
    it) followed by its target JSON: the activations the model sees while it extracts. Longer rows are cut
    at `max_length` tokens (calibration needs inputs, not whole targets)."""
    import random

    from maaza.schemas import load_schema_folder
    from maaza.tasks.edgejson import build_prompt, load_rows, target_text

    schemas = load_schema_folder(schemas_dir)
    rows = load_rows(rows_path, schemas)
    if not rows:
        raise MaazaError(f"{rows_path}: no calibration rows")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    sequences: list[list[int]] = []
    for index in order[:n_rows]:
        row = rows[index]
        prompt = build_prompt(row.prompt, schemas[row.schema_id], prompt_format, tokenizer)
        text = prompt + target_text(row.expected_output, minify=minify_targets)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        sequences.append(ids[:max_length])
    return sequences
