"""Export a saved sequence classifier (`model.kind: sequence_classifier`) as plain ONNX: fp32 + INT8.

The graph is a wrapper `(input_ids, attention_mask) -> logits` over the labels: the decoder without KV cache
(`use_cache=False`), the hidden state of each row's last non-pad token gathered inside the graph (position
`attention_mask.sum(-1) - 1`, right padding), then the linear head `score`. Batch and sequence axes are
dynamic. `maaza.classify.Classifier` runs the folder with onnxruntime (CPU EP).

Exporter: the TorchScript-based one (`torch.onnx.export(..., dynamo=False)`). With transformers 5.x and
torch 2.13 both exporters give logits matching torch (max abs diff ~1e-7 on a tiny Llama, padded batches of
other shapes than the traced one), but the dynamo exporter needs `onnxscript`, which is not among maaza's
dependencies (not installed here), and takes ~8x longer on the tiny model (10 s vs 1.3 s) while printing
its progress. The model is traced with a padded batch so the padding path of the attention mask is in the
graph; attention is exported with the `eager` implementation (an explicit additive mask: no SDPA NaN guards,
the same speed under onnxruntime).

INT8 (`model.int8.onnx`): `onnxruntime.quantization.quantize_dynamic` with weight type QInt8 (symmetric,
per output channel, 7-bit range) on op types MatMul and Gather. `reduce_range`: on CPUs without VNNI (AVX2)
onnxruntime's u8 x s8 kernels add pairs of products in 16 bits, which saturate with full 8-bit weights; 7-bit
weights cannot. Measured on the BANKING77 student (8 layers, 2-core AVX2 EPYC, 3080 test rows, fp32 88.8%
top-1): per tensor 88.1%, per channel 77.2% (saturated), per channel + reduce_range 88.7%.

- MatMul: every MatMul whose B is a weight (q/k/v/o, gate/up/down, the `score` head) becomes a
  `MatMulInteger` fed by a `DynamicQuantizeLinear` of its activations (uint8, scale computed per call);
  the two activation x activation MatMuls of each attention layer stay fp32 (`MatMulConstBOnly`). The export
  checks that no weight MatMul is left in fp32.
- Gather: the token-embedding table (an initializer) is stored in 8 bits (onnxruntime quantizes Gather data
  as an activation: uint8, one scale and zero point for the whole table) and a `DequantizeLinear` follows
  the Gather, so only the looked-up rows are dequantized. Without it the fp32 embedding table would dominate
  the INT8 file (SmolLM2's 49152 x 576 table is 113 MB in fp32). Shape Gathers are left alone.

Activations and the rest (norms, rotary, softmax) stay fp32. After the export both files run on a padded
batch of 3 rows of different lengths; fp32 must match torch (|onnx - torch| <= atol + rtol * |torch|,
1e-4 each) or the export fails; the INT8 difference and argmax agreement are recorded in `maaza.json`.
Everything is written into a hidden folder beside `out_dir` and renamed into place at the end.
"""

from __future__ import annotations

import datetime as _dt
import logging
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.export.merged import write_folder_atomically
from maaza.export.onnx_export import TOKENIZER_FILES
from maaza.io import atomic_write_json, file_sha256
from maaza.models.loading import METADATA_FILE, first_line, read_model_metadata

__all__ = [
    "FP32_FILE",
    "INT8_FILE",
    "INT8_OP_TYPES",
    "classifier_labels",
    "classifier_wrapper",
    "export_classifier_onnx",
    "load_classifier",
]

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logits"
DEFAULT_OPSET = 17
INT8_OP_TYPES = ("MatMul", "Gather")  # see the module docstring: weight MatMuls and the embedding Gather
ATOL = 1e-4
RTOL = 1e-4


def classifier_wrapper(model: Any) -> Any:
    """`(input_ids, attention_mask) -> logits`: the classifier's decoder, last non-pad token, `score` head.

    The same function `maaza.classify` runs under torch, so both runtimes pool identically (by the attention
    mask, not by searching `pad_token_id` in the ids as transformers does; the same for right-padded rows
    whose text holds no pad token).
    """
    import torch

    base = getattr(model, getattr(model, "base_model_prefix", "model"), None)
    head = getattr(model, "score", None)
    if base is None or head is None:
        raise MaazaError(
            f"{type(model).__name__} is not a decoder sequence classifier with a `score` head "
            "(a transformers *ForSequenceClassification of a causal LM, e.g. LlamaForSequenceClassification)"
        )

    class ClassifierWrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base
            self.score = head

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            out = self.base(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
            hidden = out.last_hidden_state
            last = attention_mask.sum(-1) - 1  # right padding: the last real token of each row
            pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
            return self.score(pooled)

    return ClassifierWrapper().eval()


def classifier_labels(config: Any, metadata: dict[str, Any] | None = None, where: str = "") -> list[str]:
    """The labels in output order (config.id2label); a maaza.json listing other labels is an error."""
    id2label = getattr(config, "id2label", None) or {}
    count = int(getattr(config, "num_labels", 0) or len(id2label))
    try:
        labels = [str(id2label[i]) for i in range(count)]
    except KeyError:
        raise MaazaError(f"{where}: config.id2label does not name every one of the {count} labels") from None
    saved = (metadata or {}).get("labels")
    if saved is not None and list(map(str, saved)) != labels:
        raise MaazaError(f"{where}: the labels in {METADATA_FILE} differ from config.json's id2label")
    return labels


def load_classifier(folder: Path, *, attn_implementation: str | None = None) -> Any:
    """The transformers sequence classifier saved in `folder` (fp32, eval mode); a MaazaError otherwise."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from maaza.models.registry import check_weight_files

    if not (folder / "config.json").is_file():
        raise MaazaError(f"{folder} is not a transformers model folder (no config.json)")
    check_weight_files(folder)
    config = AutoConfig.from_pretrained(str(folder))
    architectures = list(getattr(config, "architectures", None) or [])
    if architectures and not any(name.endswith("ForSequenceClassification") for name in architectures):
        raise MaazaError(
            f"{folder} holds a {architectures[0]}, not a sequence classifier (train one with "
            "model.kind: sequence_classifier)"
        )
    extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
    try:
        model = AutoModelForSequenceClassification.from_pretrained(str(folder), dtype=torch.float32, **extra)
    except (OSError, ValueError) as exc:
        raise MaazaError(f"cannot load the sequence classifier in {folder}: {first_line(exc)}") from None
    model.config.use_cache = False
    return model.eval()


def _sample_batch(lengths: list[int], vocab_size: int, pad_id: int, seed: int = 0) -> tuple[Any, Any]:
    """A right-padded batch with rows of `lengths` tokens; real tokens never equal `pad_id`."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab_size, (len(lengths), max(lengths)), generator=generator)
    if 0 <= pad_id < vocab_size and vocab_size > 1:
        ids[ids == pad_id] = (pad_id + 1) % vocab_size
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        mask[row, :length] = 1
    ids[mask == 0] = max(pad_id, 0)
    return ids, mask


def _sample_lengths(max_length: int) -> tuple[list[int], list[int]]:
    """(traced batch, checked batch): padded rows, the checked one of other shape than the traced one."""
    longest = max(2, min(12, max_length))
    trace = [min(8, longest), max(1, min(8, longest) // 2)]
    check = [longest, max(1, longest - 5), max(1, longest // 4)]
    return trace, check


@contextmanager
def _quiet_export() -> Iterator[None]:
    """Hide the tracer's and the deprecated exporter's warnings (the export is checked numerically instead)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class _DropPreprocessHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """quantize_dynamic logs a 'consider pre-processing' hint on the root logger; drop that one line."""
    root = logging.getLogger()
    hint = _DropPreprocessHint()
    root.addFilter(hint)
    try:
        yield
    finally:
        root.removeFilter(hint)


def _export_fp32(wrapper: Any, sample: tuple[Any, Any], path: Path, opset: int) -> None:
    import torch

    axes = {"batch": 0, "sequence": 1}
    dynamic = {name: {index: axis for axis, index in axes.items()} for name in INPUT_NAMES}
    dynamic[OUTPUT_NAME] = {0: "batch"}
    try:
        with _quiet_export(), torch.no_grad():
            torch.onnx.export(
                wrapper,
                sample,
                str(path),
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_axes=dynamic,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as exc:  # the exporter raises many types; say which model and why
        raise MaazaError(
            f"torch.onnx.export failed (opset {opset}): {type(exc).__name__}: {first_line(exc)}"
        ) from None


def _weight_matmuls(model: Any) -> tuple[int, int]:
    """(MatMul/Gemm nodes whose B is an initializer, MatMulInteger nodes whose B is an initializer)."""
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    fp32 = sum(
        1
        for n in graph.node
        if n.op_type in ("MatMul", "Gemm") and len(n.input) > 1 and n.input[1] in weights
    )
    int8 = sum(1 for n in graph.node if n.op_type == "MatMulInteger" and n.input[1] in weights)
    return fp32, int8


def _initializer_bytes(model: Any) -> int:
    """Bytes of the graph's stored tensors (weights, quantization scales and zero points)."""
    from onnx import numpy_helper

    return sum(len(init.raw_data) or numpy_helper.to_array(init).nbytes for init in model.graph.initializer)


PER_CHANNEL = True  # one scale per output channel of each weight matrix
REDUCE_RANGE = True  # 7-bit weights: no 16-bit saturation in AVX2's u8 x s8 kernels (module docstring)


def _quantize_int8(fp32_path: Path, int8_path: Path) -> dict[str, Any]:
    """Dynamic INT8 quantization (see the module docstring); returns what `maaza.json` records about it."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    try:
        with _quiet_quantizer():
            quantize_dynamic(
                str(fp32_path),
                str(int8_path),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=list(INT8_OP_TYPES),
                per_channel=PER_CHANNEL,
                reduce_range=REDUCE_RANGE,
                extra_options={"MatMulConstBOnly": True},
            )
    except Exception as exc:
        raise MaazaError(
            f"INT8 quantization of {fp32_path.name} failed: {type(exc).__name__}: {first_line(exc)}"
        ) from None
    original = onnx.load(str(fp32_path))
    before, _ = _weight_matmuls(original)
    quantized = onnx.load(str(int8_path))
    left, done = _weight_matmuls(quantized)
    if left or done < before:
        raise MaazaError(
            f"INT8 quantization left {left} of {before} weight MatMuls in fp32 ({done} quantized); "
            "the INT8 file would be neither small nor fast"
        )
    ops = Counter(n.op_type for n in quantized.graph.node)
    return {
        "method": "onnxruntime.quantization.quantize_dynamic",
        "weight_type": "QInt8",
        "op_types": list(INT8_OP_TYPES),
        "per_channel": PER_CHANNEL,
        "reduce_range": REDUCE_RANGE,
        "weight_matmuls_quantized": done,
        "embedding_gathers_quantized": ops.get("DequantizeLinear", 0),
        "weight_bytes": {"fp32": _initializer_bytes(original), "int8": _initializer_bytes(quantized)},
        "ops": {
            op: ops[op]
            for op in ("MatMulInteger", "DynamicQuantizeLinear", "DequantizeLinear", "MatMul")
            if ops.get(op)
        },
    }


def _run_onnx(path: Path, ids: Any, mask: Any) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return session.run([OUTPUT_NAME], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    except Exception as exc:
        raise MaazaError(
            f"onnxruntime cannot run the exported {path.name}: {type(exc).__name__}: {first_line(exc)}"
        ) from None


def _copy_tokenizer(source: Path, target: Path) -> list[str]:
    copied = [name for name in TOKENIZER_FILES if (source / name).is_file()]
    if "tokenizer.json" not in copied and "tokenizer_config.json" not in copied:
        raise MaazaError(f"{source} has no tokenizer files (tokenizer.json / tokenizer_config.json) to copy")
    for name in copied:
        shutil.copy2(source / name, target / name)
    return copied


def _pad_id(source: Path) -> int:
    """The pad id the classifier sees at inference (tokenizer's pad, else eos), or -1 when it has neither."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source))
    except (OSError, ValueError) as exc:
        raise MaazaError(f"cannot load the tokenizer in {source}: {first_line(exc)}") from None
    for value in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if isinstance(value, int):
            return value
    return -1


def export_classifier_onnx(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    int8: bool = True,
    opset: int = DEFAULT_OPSET,
    max_length: int | None = None,
) -> dict[str, Any]:
    """Export the transformers sequence classifier in `model_dir` to `out_dir` and check it; returns maaza.json.

    `out_dir` gets `model.onnx` (fp32), with `int8` also `model.int8.onnx`, the tokenizer files and a
    `maaza.json` (kind sequence_classifier, runtime onnx, labels in output order, max_length: `max_length`
    or the model's context, files and sizes, sha256 of each ONNX file, the verification numbers). An existing
    `out_dir` is replaced only once the new export passed its check.
    """
    import numpy as np
    import onnxruntime
    import torch
    import transformers

    source = Path(model_dir).resolve()
    target = Path(out_dir).resolve()
    if target == source or source in target.parents:
        raise MaazaError(f"the export folder {target} must not be (inside) the model folder {source}")
    if max_length is not None and max_length <= 0:
        raise MaazaError("max_length must be a positive number")
    started = time.perf_counter()
    source_meta = read_model_metadata(source)
    model = load_classifier(source, attn_implementation="eager")
    config = model.config
    labels = classifier_labels(config, source_meta, str(source))
    context = int(getattr(config, "max_position_embeddings", 0) or 0)
    length = int(max_length or context or 512)
    if context and length > context:
        raise MaazaError(f"max_length {length} exceeds the model's context ({context} positions)")
    pad_id = _pad_id(source)
    wrapper = classifier_wrapper(model)
    vocab = int(config.vocab_size)
    trace_lengths, check_lengths = _sample_lengths(length)
    trace = _sample_batch(trace_lengths, vocab, pad_id, seed=1)  # padded: the mask's padding path is traced
    ids, mask = _sample_batch(check_lengths, vocab, pad_id, seed=0)
    with torch.no_grad():
        expected = wrapper(ids, mask).numpy()
        if config.pad_token_id is not None and config.pad_token_id == pad_id:
            own = model(input_ids=ids, attention_mask=mask).logits.numpy()
            if not np.allclose(own, expected, rtol=RTOL, atol=ATOL):  # the pooling the model was trained with
                raise MaazaError(
                    f"the graph's pooling (last token by attention mask) disagrees with {type(model).__name__}'s "
                    f"own (max abs diff {float(np.abs(own - expected).max()):.3g})"
                )
    result: dict[str, Any] = {}

    def write(staging: Path) -> None:
        fp32_path = staging / FP32_FILE
        _export_fp32(wrapper, trace, fp32_path, opset)
        quantization = _quantize_int8(fp32_path, staging / INT8_FILE) if int8 else None
        fp32_logits = _run_onnx(fp32_path, ids, mask)
        fp32_diff = float(np.abs(fp32_logits - expected).max())
        if not np.allclose(fp32_logits, expected, rtol=RTOL, atol=ATOL):
            raise MaazaError(
                f"the fp32 ONNX logits differ from torch's by {fp32_diff:.3g} (allowed: atol {ATOL} + rtol {RTOL}); "
                "the export is not kept"
            )
        check: dict[str, Any] = {
            "rows": int(ids.shape[0]),
            "lengths": [int(n) for n in mask.sum(-1)],
            "atol": ATOL,
            "rtol": RTOL,
            "fp32_max_abs_diff": fp32_diff,
            "passed": True,
        }
        if int8:
            int8_logits = _run_onnx(staging / INT8_FILE, ids, mask)
            check["int8_max_abs_diff"] = float(np.abs(int8_logits - expected).max())
            check["int8_argmax_agreement"] = float((int8_logits.argmax(-1) == expected.argmax(-1)).mean())
        tokenizer_files = _copy_tokenizer(source, staging)
        onnx_files = [FP32_FILE] + ([INT8_FILE] if int8 else [])
        files = {name: (staging / name).stat().st_size for name in [*onnx_files, *tokenizer_files]}
        metadata = {
            "name": source_meta.get("name") or source.name,
            "kind": "sequence_classifier",
            "model_kind": "sequence_classifier",
            "runtime": "onnx",
            "labels": labels,
            "num_labels": len(labels),
            "max_length": length,
            **{
                key: source_meta[key] for key in ("task", "prompt_format", "base_model") if key in source_meta
            },
            "source_model": str(source),
            "files": files,
            "sha256": {name: file_sha256(staging / name) for name in onnx_files},
            "onnx": {
                "inputs": list(INPUT_NAMES),
                "output": OUTPUT_NAME,
                "pooling": "last non-pad token: attention_mask.sum(-1) - 1 (right padding)",
                "exporter": "torch.onnx.export (TorchScript, dynamo=False)",
                "opset": opset,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "onnxruntime": onnxruntime.__version__,
            },
            **({"int8": quantization} if quantization else {}),
            "check": check,
            "seconds": round(time.perf_counter() - started, 2),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 - py3.10
        }
        atomic_write_json(staging / METADATA_FILE, metadata)
        result.update(metadata)

    write_folder_atomically(target, write)
    return {**result, "path": str(target)}
