"""Export a trained NLM filter (`maaza train` with `recipe: filter`) as ONNX fp32 + INT8 with its tokenizer.

One graph, three outputs: `(input_ids, attention_mask) -> (spam_logits [b, 2], toxicity_logits [b, 3],
pii_logits [b, s, tags])`, batch and sequence dynamic (TorchScript exporter, eager attention; the reasons
are those of `maaza.export.onnx_classifier`, whose INT8 recipe this reuses: dynamic quantization of every
weight MatMul and of the embedding Gathers, per channel, 7-bit weights). The fp32 file must match torch on a
padded batch of other shapes than the traced one, or the export fails; the INT8 file's largest difference
and its agreement on the argmax of every head are recorded in `maaza.json`, which also carries the label
lists, the BIO tags, `max_length` (tokens per window, specials included) and `stride` (the overlap of
windows of a long text, `maaza.filter`). Written into a hidden folder, renamed into place at the end.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import time
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.export.merged import write_folder_atomically
from maaza.export.onnx_classifier import ATOL, RTOL, _quantize_int8, _quiet_export
from maaza.io import atomic_write_json, file_sha256
from maaza.models.loading import METADATA_FILE, first_line

__all__ = ["FP32_FILE", "INT8_FILE", "OUTPUT_NAMES", "export_filter_onnx"]

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAMES = ("spam_logits", "toxicity_logits", "pii_logits")
DEFAULT_OPSET = 17
DEFAULT_MAX_LENGTH = 256
DEFAULT_STRIDE = 64


def _sample(vocab_size: int, pad_id: int, lengths: list[int], seed: int) -> tuple[Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.full((len(lengths), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(lengths), width), dtype=torch.long)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(5, vocab_size, (length,), generator=generator)
        mask[row, :length] = 1
    return ids, mask


def _run(path: Path, ids: Any, mask: Any) -> list[Any]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return session.run(list(OUTPUT_NAMES), {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    except Exception as exc:
        raise MaazaError(f"onnxruntime cannot run the exported {path.name}: {type(exc).__name__}: {first_line(exc)}") from None


def _mask_of(mask: Any, head: str, values: Any) -> Any:
    """The entries of a head's output that matter: every row for the [CLS] heads, real tokens for PII."""
    return values if head != "pii_logits" else values[mask.numpy().astype(bool)]


def export_filter_onnx(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    int8: bool = True,
    opset: int = DEFAULT_OPSET,
    max_length: int = DEFAULT_MAX_LENGTH,
    stride: int = DEFAULT_STRIDE,
) -> dict[str, Any]:
    """Export the filter of a training run (`run_dir/model/` + `run_dir/tokenizer.json`) to `out_dir`.

    Returns the `maaza.json` written there (kind `filter`, runtime `onnx`, labels, tags, files and sizes,
    sha256 per ONNX file, parameters, the check numbers)."""
    import numpy as np
    import onnxruntime
    import torch

    from maaza.train.filter_model import count_parameters, load_filter_model, read_filter_config
    from maaza.train.filter_tokenizer import PAD, TOKENIZER_FILE, load_filter_tokenizer

    source = Path(run_dir).resolve()
    target = Path(out_dir).resolve()
    if target == source or source in target.parents:
        raise MaazaError(f"the export folder {target} must not be (inside) the run folder {source}")
    model_dir = source / "model"
    config = read_filter_config(model_dir)
    model = load_filter_model(model_dir)
    tokenizer = load_filter_tokenizer(source)
    context = model.arch.context
    if not 8 <= max_length <= context:
        raise MaazaError(f"max_length {max_length} must be between 8 and the model's context ({context})")
    if not 0 <= stride < max_length - 2:
        raise MaazaError(f"stride {stride} must be below max_length - 2 ({max_length - 2})")
    started = time.perf_counter()
    pad_id = tokenizer.token_to_id(PAD)
    trace = _sample(model.arch.vocab_size, pad_id, [9, 4], seed=1)
    ids, mask = _sample(model.arch.vocab_size, pad_id, [17, 11, 3], seed=0)
    with torch.no_grad():
        expected = [value.numpy() for value in model(ids, mask)]
    training = config.get("training", {})
    result: dict[str, Any] = {}

    def write(staging: Path) -> None:
        fp32_path = staging / FP32_FILE
        axes = {0: "batch", 1: "sequence"}
        dynamic: dict[str, Any] = {name: axes for name in INPUT_NAMES}
        dynamic.update(spam_logits={0: "batch"}, toxicity_logits={0: "batch"}, pii_logits=axes)
        try:
            with _quiet_export(), torch.no_grad():
                torch.onnx.export(
                    model, trace, str(fp32_path), input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                    dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True, dynamo=False,
                )
        except Exception as exc:
            raise MaazaError(f"torch.onnx.export failed (opset {opset}): {type(exc).__name__}: {first_line(exc)}") from None
        quantization = _quantize_int8(fp32_path, staging / INT8_FILE) if int8 else None
        check: dict[str, Any] = {"rows": 3, "lengths": [17, 11, 3], "atol": ATOL, "rtol": RTOL}
        for head, got, want in zip(OUTPUT_NAMES, _run(fp32_path, ids, mask), expected, strict=True):
            got, want = _mask_of(mask, head, got), _mask_of(mask, head, want)
            diff = float(np.abs(got - want).max())
            if not np.allclose(got, want, rtol=RTOL, atol=ATOL):
                raise MaazaError(f"the fp32 ONNX {head} differ from torch's by {diff:.3g}; the export is not kept")
            check[f"fp32_max_abs_diff_{head}"] = diff
        if int8:
            for head, got, want in zip(OUTPUT_NAMES, _run(staging / INT8_FILE, ids, mask), expected, strict=True):
                got, want = _mask_of(mask, head, got), _mask_of(mask, head, want)
                check[f"int8_max_abs_diff_{head}"] = float(np.abs(got - want).max())
                check[f"int8_argmax_agreement_{head}"] = float((got.argmax(-1) == want.argmax(-1)).mean())
        check["passed"] = True
        shutil.copy2(source / TOKENIZER_FILE, staging / TOKENIZER_FILE)
        onnx_files = [FP32_FILE] + ([INT8_FILE] if int8 else [])
        files = {name: (staging / name).stat().st_size for name in [*onnx_files, TOKENIZER_FILE]}
        metadata = {
            "name": training.get("name", "nlm-5m-filter"),
            "kind": "filter",
            "task": "filter",  # what shipped.json lists: the filter's three tasks together
            "runtime": "onnx",
            "spam_labels": training.get("spam_labels"),
            "toxicity_labels": training.get("toxicity_labels"),
            "pii_tags": training.get("pii_tags"),
            "tasks": training.get("tasks"),
            "max_length": max_length,
            "stride": stride,
            "parameters": count_parameters(model),
            "architecture": config["architecture"],
            "source_run": str(source),
            "files": files,
            "sha256": {name: file_sha256(staging / name) for name in [*onnx_files, TOKENIZER_FILE]},
            "onnx": {
                "inputs": list(INPUT_NAMES),
                "outputs": list(OUTPUT_NAMES),
                "exporter": "torch.onnx.export (TorchScript, dynamo=False)",
                "opset": opset,
                "torch": torch.__version__,
                "onnxruntime": onnxruntime.__version__,
            },
            **({"int8": quantization} if quantization else {}),
            "check": check,
            "seconds": round(time.perf_counter() - started, 2),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        }
        if any(metadata[key] is None for key in ("spam_labels", "toxicity_labels", "pii_tags")):
            raise MaazaError(f"{model_dir}: its filter_config.json lacks the label lists (not a filter training run?)")
        atomic_write_json(staging / METADATA_FILE, metadata)
        result.update(metadata)

    write_folder_atomically(target, write)
    return {**result, "path": str(target)}
