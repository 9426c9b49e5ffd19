"""Write a Hugging Face causal LM folder as an ONNX Runtime GenAI model folder, and check the result.

Built with the model builder shipped in `onnxruntime-genai` (`onnxruntime_genai.models.builder`, called
through its Python API: `parse_extra_options` + `create_model`, CPU execution provider). The output
folder holds what ORT GenAI loads (`model.onnx`, `model.onnx.data`, `genai_config.json`) plus the source's
Hugging Face tokenizer files (chat template included) and a `maaza.json` (prompt format, name, and an
`onnx` block: precision, block size, accuracy level, builder version, params), so the `onnx` backend of
`maaza eval` builds the same prompts as the transformers backend.

Precisions (weights; activations and the KV cache stay fp32):

- `fp32`: every weight fp32; tied embeddings share one matrix (the builder's Transpose + Gather).
- `int4`: every MatMul (attention, MLP, LM head) is a `MatMulNBits` with symmetric 4-bit weights in blocks
  of 32 along K, `accuracy_level` 4 (activations quantized to int8 inside the kernel: the fast CPU path,
  and the builder's default on CPU). Tied embeddings read the LM head's 4-bit weights through
  `GatherBlockQuantized`, so the vocabulary matrix is stored once, in 4 bits.
- `int8`: the same with 8-bit weights (`--precision int8` of the builder): weight-only block quantization
  with dynamically int8-quantized activations. The builder can share a quantized tied embedding only for
  4 bits and would keep an extra fp32 copy of the embedding matrix (for SmolLM2 a 113 MB Gather table,
  making "int8" larger than needed); after the build that Gather is rewired to a `GatherBlockQuantized`
  (bits 8) over the LM head's 8-bit weights and the fp32 table dropped (`tied_embedding_rewired`).

`verify_onnx` loads the folder in ORT GenAI and compares it with the source under transformers.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import logging
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError

ONNX_PRECISIONS = ("fp32", "int8", "int4")
BLOCK_SIZE = 32
ACCURACY_LEVEL = 4  # MatMulNBits computes with int8-quantized activations (CPU's fastest path)
GENAI_CONFIG = "genai_config.json"
# The Hugging Face tokenizer files copied from the source (whichever exist): transformers (the `onnx`
# backend's prompts) and ORT GenAI's own tokenizer read them.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
)
GENAI_MISSING = (
    "ONNX export and the onnx backend need onnxruntime-genai (pip install 'onnxruntime-genai==0.18.0' "
    "onnx onnx-ir; they are in maaza's dependencies)"
)


@dataclass
class OnnxExport:
    """What `export_onnx` wrote."""

    path: str
    precision: str
    bytes: int  # the model itself: model.onnx + model.onnx.data (what ORT loads)
    folder_bytes: int  # everything in the folder (tokenizer, configs) as well
    seconds: float
    ops: dict[str, int]  # ONNX op type -> count, for the ops that carry weights
    block_size: int | None
    accuracy_level: int | None
    tied_embedding_rewired: bool
    builder: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_genai() -> Any:
    """`onnxruntime_genai`, or a MaazaError saying how to install it."""
    try:
        import onnxruntime_genai
    except ImportError:
        raise MaazaError(GENAI_MISSING) from None
    return onnxruntime_genai


def _import_builder() -> Any:
    """The model builder module, imported without letting it reconfigure logging for the whole process.

    `onnxruntime.quantization.matmul_nbits_quantizer` calls `logging.basicConfig(level=INFO)` at import,
    which would make every library's INFO logs print; a root handler present during the import makes that
    call a no-op (the quantizer then logs at the root's WARNING level).
    """
    import_genai()
    root = logging.getLogger()
    guard = logging.NullHandler()
    added = not root.handlers
    if added:
        root.addHandler(guard)
    try:
        from onnxruntime_genai.models import builder
    except ImportError as exc:  # onnx / onnx-ir missing
        raise MaazaError(f"{GENAI_MISSING}: {exc}") from None
    finally:
        if added:
            root.removeHandler(guard)
    return builder


def model_files_bytes(folder: str | Path) -> int:
    """Bytes of the ONNX graph and its external weights (`*.onnx`, `*.onnx.data`) in `folder`."""
    return sum(
        path.stat().st_size
        for path in Path(folder).iterdir()
        if path.is_file() and (path.name.endswith(".onnx") or path.name.endswith(".onnx.data"))
    )


def _source_params(folder: Path) -> int | None:
    """Parameters stored in the source's safetensors (tied weights are saved, and counted, once)."""
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for path in files:
        with safe_open(str(path), framework="np") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open handles are not iterable
                count = 1
                for dim in handle.get_slice(key).get_shape():
                    count *= int(dim)
                total += count
    return total


def _builder_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"onnxruntime-genai {version('onnxruntime-genai')}"
    except PackageNotFoundError:  # pragma: no cover - imported but not installed as a distribution
        return "onnxruntime-genai"


def _run_builder(source: Path, staging: Path, precision: str, scratch: Path) -> None:
    """Run the ORT GenAI model builder for the CPU EP; its console output is kept and shown on failure."""
    builder = _import_builder()
    options = ["hf_token=false"]
    if precision in ("int4", "int8"):
        options += [f"block_size={BLOCK_SIZE}", f"accuracy_level={ACCURACY_LEVEL}", "is_symmetric=true"]
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            extra = builder.parse_extra_options(
                str(source), str(source), str(staging), precision, "cpu", str(scratch), options
            )
            builder.create_model(
                str(source), str(source), str(staging), precision, "cpu", str(scratch), **extra
            )
    except Exception as exc:
        tail = "\n".join(log.getvalue().strip().splitlines()[-5:])
        detail = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        raise MaazaError(
            f"the ONNX Runtime GenAI model builder failed on {source} ({precision}): {detail}"
            + (f"\nbuilder output (last lines):\n{tail}" if tail else "")
        ) from None
    if not (staging / GENAI_CONFIG).is_file():
        raise MaazaError(f"the ONNX Runtime GenAI model builder wrote no {GENAI_CONFIG} for {source}")


def _tie_quantized_embedding(model_path: Path) -> bool:
    """Replace the fp32 embedding Gather by a GatherBlockQuantized over the quantized LM head's weights.

    Only when the embedding table is a plain initializer of the LM head's shape (tied weights), the LM
    head is a MatMulNBits over K = hidden size with K a multiple of the block size (no row padding) and no
    zero points (symmetric: both ops then default to the same zero point, 2^(bits-1)). Returns whether the
    graph was changed; the model is rewritten in place (graph and external data file).
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(model_path), load_external_data=True)
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    heads = [
        node
        for node in graph.node
        if node.op_type == "MatMulNBits" and node.domain == "com.microsoft" and "logits" in node.output
    ]
    gathers = [
        node
        for node in graph.node
        if node.op_type == "Gather" and node.input[0] in initializers and node.input[1] == "input_ids"
    ]
    if len(heads) != 1 or len(gathers) != 1:
        return False
    head, gather = heads[0], gathers[0]
    attrs = {attr.name: helper.get_attribute_value(attr) for attr in head.attribute}
    k, n, bits, block = int(attrs["K"]), int(attrs["N"]), int(attrs["bits"]), int(attrs["block_size"])
    table = initializers[gather.input[0]]
    if list(table.dims) != [n, k] or k % block or (len(head.input) > 3 and head.input[3]):
        return False
    shape_name = "/model/embed_tokens/tied_quantized_shape"
    reshaped = "/model/embed_tokens/Reshape/output_0"
    graph.initializer.append(
        numpy_helper.from_array(np.array([n, k * bits // 8], dtype=np.int64), shape_name)
    )
    reshape = helper.make_node(
        "Reshape", [head.input[1], shape_name], [reshaped], name="/model/embed_tokens/Reshape"
    )
    lookup = helper.make_node(
        "GatherBlockQuantized",
        [reshaped, gather.input[1], head.input[2]],
        list(gather.output),
        name="/model/embed_tokens/GatherBlockQuantized",
        domain="com.microsoft",
        bits=bits,
        block_size=block,
        gather_axis=0,
        quantize_axis=1,
    )
    position = list(graph.node).index(gather)
    graph.node.remove(gather)
    graph.node.insert(position, lookup)
    graph.node.insert(position, reshape)
    graph.initializer.remove(table)
    # Every tensor is in memory now; onnx appends to an existing data file, so remove it first.
    data_path = model_path.with_name(f"{model_path.name}.data")
    data_path.unlink(missing_ok=True)
    onnx.save_model(
        model,
        str(model_path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data_path.name,
    )
    return True


def _op_counts(model_path: Path) -> dict[str, int]:
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    wanted = {"MatMul", "MatMulNBits", "Gather", "GatherBlockQuantized", "GroupQueryAttention"}
    return dict(sorted(Counter(node.op_type for node in graph.node if node.op_type in wanted).items()))


def export_onnx(
    source_folder: str | Path,
    out_folder: str | Path,
    precision: str = "int4",
    *,
    name: str | None = None,
    hub_id: str | None = None,
) -> OnnxExport:
    """Build `source_folder` (a transformers model folder) into the ORT GenAI folder `out_folder`.

    Written atomically: built in a hidden sibling folder that replaces `out_folder` when complete.
    `name` and `hub_id` (the original model's hub id, when known) go to the folder's `maaza.json`, from
    which the `onnx` backend describes the model in results JSONs.
    """
    from maaza.export.merged import folder_bytes, write_folder_atomically
    from maaza.io import remove_stale_temps, temp_prefix
    from maaza.models.loading import METADATA_FILE, read_model_metadata

    if precision not in ONNX_PRECISIONS:
        raise MaazaError(f"unknown ONNX precision '{precision}'; choose one of {', '.join(ONNX_PRECISIONS)}")
    source = Path(source_folder)
    if not (source / "config.json").is_file():
        raise MaazaError(f"{source} is not a model folder (no config.json)")
    if not (source / "tokenizer_config.json").is_file() and not (source / "tokenizer.json").is_file():
        raise MaazaError(f"{source}: no tokenizer files (the ONNX folder needs the model's tokenizer)")
    _import_builder()  # fail before any work when the package is missing
    started = time.perf_counter()
    out = Path(out_folder)
    metadata = read_model_metadata(source)
    rewired = False

    def write(staging: Path) -> None:
        nonlocal rewired
        remove_stale_temps(staging.parent, "onnx-build")
        with tempfile.TemporaryDirectory(prefix=temp_prefix("onnx-build"), dir=staging.parent) as scratch:
            _run_builder(source, staging, precision, Path(scratch))
        if precision == "int8":
            rewired = _tie_quantized_embedding(staging / "model.onnx")
        for file_name in TOKENIZER_FILES:
            if (source / file_name).is_file():
                shutil.copy2(source / file_name, staging / file_name)
        info = {
            **metadata,
            "name": name or metadata.get("name") or source.resolve().name,
            **({"hub_id": hub_id} if hub_id else {}),
            "onnx": {
                "precision": precision,
                "block_size": BLOCK_SIZE if precision != "fp32" else None,
                "accuracy_level": ACCURACY_LEVEL if precision != "fp32" else None,
                "tied_embedding_rewired": rewired,
                "builder": _builder_version(),
                "execution_provider": "cpu",
                "params": _source_params(source),
                "exported_from": str(source),
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
            },
        }
        (staging / METADATA_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
        for path in staging.iterdir():
            if path.is_file():
                path.chmod(0o644)

    write_folder_atomically(out, write)
    return OnnxExport(
        str(out),
        precision,
        model_files_bytes(out),
        folder_bytes(out),
        round(time.perf_counter() - started, 2),
        _op_counts(out / "model.onnx"),
        BLOCK_SIZE if precision != "fp32" else None,
        ACCURACY_LEVEL if precision != "fp32" else None,
        rewired,
        _builder_version(),
    )


# ------------------------------------------------------------------------------------------ check


def load_genai_model(folder: str | Path, *, threads: int | None = None) -> Any:
    """An `onnxruntime_genai.Model` for `folder` on the CPU EP (`threads`: intra-op threads, None: ORT's)."""
    og = import_genai()
    path = Path(folder)
    if not (path / GENAI_CONFIG).is_file():
        raise MaazaError(
            f"{path} is not an ONNX Runtime GenAI folder (no {GENAI_CONFIG}); make one with "
            "`maaza export --formats onnx-int4`"
        )
    try:
        config = og.Config(str(path))
        config.clear_providers()  # CPU
        if threads:
            options = {"intra_op_num_threads": int(threads), "inter_op_num_threads": 1}
            config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
        return og.Model(config)
    except Exception as exc:  # RuntimeError from the native library
        raise MaazaError(
            f"ONNX Runtime GenAI cannot load {path}: {str(exc).strip().splitlines()[0]}"
        ) from None


def _genai_greedy(model: Any, ids: list[int], new_tokens: int) -> list[int]:
    """Argmax continuation without EOS stopping (like `gguf_export._greedy`): prefill, then one token a step."""
    import numpy as np

    og = import_genai()
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=len(ids) + new_tokens + 1, batch_size=1)
    generator = og.Generator(model, params)
    generator.append_tokens(np.array([ids], dtype=np.int32))
    out: list[int] = []
    for step in range(new_tokens):
        token = int(np.asarray(generator.get_logits()).reshape(-1).argmax())
        out.append(token)
        if step + 1 < new_tokens:
            generator.append_tokens(np.array([[token]], dtype=np.int32))
    return out


def _genai_logits(model: Any, ids: list[int]) -> Any:
    """Logits at every position of `ids`, feeding one token per step (ORT GenAI returns the last row only)."""
    import numpy as np

    og = import_genai()
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=len(ids) + 1, batch_size=1)
    generator = og.Generator(model, params)
    rows = []
    for token in ids:
        generator.append_tokens(np.array([[token]], dtype=np.int32))
        rows.append(np.asarray(generator.get_logits(), dtype=np.float32).reshape(-1).copy())
    return np.stack(rows)


def verify_onnx(
    folder: str | Path,
    source_folder: str | Path,
    *,
    prompt: str | None = None,
    new_tokens: int = 16,
) -> dict[str, Any]:
    """Load an exported folder in ORT GenAI and compare it with the source folder under transformers (fp32).

    - tokenizer: ORT GenAI's own tokenizer (what apps using the folder directly get) must encode
      `TOKENIZER_SAMPLE` to the source tokenizer's ids;
    - greedy: `new_tokens` argmax tokens after `prompt` (`DEFAULT_CHECK_PROMPT`, the GGUF check's), whole
      prompt prefilled then one token a step, against transformers' greedy tokens;
    - teacher-forced over prompt + the source's continuation: top-1 agreement and max |logit diff|.

    `passed`: the folder loads and generates, the tokenizer agrees, and for fp32 the greedy tokens are
    identical and max |logit diff| < 1e-2. Quantized exports only report their agreement.
    """
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from maaza.export.gguf_export import DEFAULT_CHECK_PROMPT, TOKENIZER_SAMPLE, _greedy
    from maaza.models.loading import read_model_metadata

    og = import_genai()
    started = time.perf_counter()
    path, source = Path(folder), Path(source_folder)
    precision = (read_model_metadata(path).get("onnx") or {}).get("precision")
    model = load_genai_model(path)
    source_tokenizer = AutoTokenizer.from_pretrained(str(source))
    source_model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.float32).eval()

    sample_ids = source_tokenizer(TOKENIZER_SAMPLE)["input_ids"]
    try:
        genai_ids = [int(i) for i in og.Tokenizer(model).encode(TOKENIZER_SAMPLE)]
        tokenizer_equal: bool | None = genai_ids == sample_ids
    except Exception:  # the native tokenizer cannot read the files
        tokenizer_equal = False
    ids = source_tokenizer(prompt or DEFAULT_CHECK_PROMPT, add_special_tokens=False)["input_ids"]
    source_tokens = _greedy(source_model, torch.tensor([ids]), new_tokens)
    onnx_tokens = _genai_greedy(model, ids, new_tokens)
    full = ids + source_tokens
    with torch.inference_mode():
        ref_logits = source_model(input_ids=torch.tensor([full])).logits[0].float().numpy()
    new_logits = _genai_logits(model, full)
    width = min(ref_logits.shape[-1], new_logits.shape[-1])
    ref_logits, new_logits = ref_logits[:, :width], new_logits[:, :width]
    top1 = float((ref_logits.argmax(-1) == new_logits.argmax(-1)).mean())
    max_diff = float(np.abs(ref_logits - new_logits).max())
    greedy_equal = source_tokens == onnx_tokens
    prefix = next(
        (i for i, (a, b) in enumerate(zip(source_tokens, onnx_tokens, strict=True)) if a != b), new_tokens
    )
    exact = precision == "fp32"
    passed = tokenizer_equal is True and (not exact or (greedy_equal and max_diff < 1e-2))
    return {
        "passed": passed,
        "reference": "source fp32 (transformers)",
        "runtime": f"onnxruntime-genai {og.__version__}",
        "exact_required": exact,
        "tokenizer_ids_equal": tokenizer_equal,
        "tokenizer_sample_tokens": len(sample_ids),
        "greedy_tokens_equal": greedy_equal,
        "greedy_prefix_tokens": prefix,  # greedy tokens identical before the first divergence
        "top1_agreement": round(top1, 4),
        "positions": len(full),
        "max_abs_logit_diff": round(max_diff, 6),
        "new_tokens": new_tokens,
        "seconds": round(time.perf_counter() - started, 2),
    }
