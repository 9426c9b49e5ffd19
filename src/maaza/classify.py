"""Text classification as a product: the `Classifier` API and the `maaza classify` command.

    from maaza.classify import Classifier
    clf = Classifier.load()                          # the shipped intent model (INT8 ONNX), or a folder
    clf.classify("I lost my card")                   # -> Classification(label, score, top_k)
    clf.classify_batch(["...", "..."], top_k=3)      # same order as given

A folder with `model.int8.onnx` / `model.onnx` (`maaza.export.onnx_classifier.export_classifier_onnx`) runs
on onnxruntime's CPU execution provider; a transformers sequence-classifier folder (`maaza train` with
`model.kind: sequence_classifier`, its `merged/`) runs on torch. Both compute the same function: the
decoder, the hidden state of the last non-pad token (right padding, by the attention mask), the `score`
head, then a softmax over the labels. Texts are tokenized as in training (`add_special_tokens=False`, the
model's `text` prompt format: the utterance itself); a text longer than `max_length` tokens keeps its first
`max_length` tokens and is counted in `Classifier.truncated` (one warning per call says how many).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError, check_encodable
from maaza.io import add_text_io_arguments

__all__ = ["RUNTIMES", "Classification", "Classifier", "TruncationWarning", "add_classify_parser"]

RUNTIMES = ("auto", "onnx", "torch")
SHIPPED_TASK = "intent"
SHIPPING_BENCHMARK = "benchmarks/intent_distill.py"
PROMPT_FORMATS = (None, "text")  # the input is the text itself


class TruncationWarning(UserWarning):
    """Some texts were longer than the classifier's max_length and were cut to their first tokens."""


@dataclass
class Classification:
    """The top label of one text, its probability, and the `top_k` (label, probability) pairs, best first."""

    label: str
    score: float
    top_k: list[tuple[str, float]]


class _OnnxRunner:
    """logits = session(input_ids, attention_mask) on onnxruntime's CPU execution provider."""

    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        from maaza.models.loading import first_line

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise MaazaError(
                f"onnxruntime cannot load {path}: {type(exc).__name__}: {first_line(exc)}"
            ) from None
        names = {value.name for value in self.session.get_inputs()}
        if names != {"input_ids", "attention_mask"}:
            raise MaazaError(f"{path} takes inputs {sorted(names)}, not input_ids and attention_mask")

    def __call__(self, ids: Any, mask: Any) -> Any:
        return self.session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]


class _TorchRunner:
    """The same wrapper the ONNX export traces, run under torch (inference mode, fp32)."""

    def __init__(self, folder: Path, threads: int | None):
        import torch

        from maaza.export.onnx_classifier import classifier_wrapper, load_classifier

        if threads is not None:
            torch.set_num_threads(threads)
        self.model = load_classifier(folder)
        self.wrapper = classifier_wrapper(self.model)

    def __call__(self, ids: Any, mask: Any) -> Any:
        import torch

        with torch.inference_mode():
            return self.wrapper(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()


def _shipped_folder() -> Path:
    """The folder of the shipped intent classifier; a MaazaError saying how to make one otherwise."""
    from maaza.models.shipped import shipped_for_task, shipped_models

    if not any(model.task == SHIPPED_TASK for model in shipped_models().values()):
        raise MaazaError(
            f"no shipped {SHIPPED_TASK} classifier yet (benchmarks/artifacts/shipped.json lists none): "
            f"python {SHIPPING_BENCHMARK} trains and exports one (its INT8 ONNX folder, e.g. "
            "runs/intent/banking77/student_kd_onnx); pass that folder as the path (--model)"
        )
    return shipped_for_task(SHIPPED_TASK).path


def _onnx_file(folder: Path, int8: bool) -> Path:
    from maaza.export.onnx_classifier import FP32_FILE, INT8_FILE

    wanted = folder / (INT8_FILE if int8 else FP32_FILE)
    if not wanted.is_file():
        other = FP32_FILE if int8 else INT8_FILE
        hint = f"; it has {other}: pass int8={not int8}" if (folder / other).is_file() else ""
        raise MaazaError(f"{folder} has no {wanted.name}{hint}")
    return wanted


def _has_onnx(folder: Path) -> bool:
    from maaza.export.onnx_classifier import FP32_FILE, INT8_FILE

    return (folder / INT8_FILE).is_file() or (folder / FP32_FILE).is_file()


class Classifier:
    """A loaded sequence classifier: text -> probabilities over `labels`. Build it with `Classifier.load`."""

    def __init__(
        self,
        runner: Any,
        tokenizer: Any,
        labels: Sequence[str],
        max_length: int,
        *,
        runtime: str,
        path: Path,
        model_file: Path | None = None,
        threads: int | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        self._runner = runner
        self.tokenizer = tokenizer
        self._labels = tuple(labels)
        self.max_length = int(max_length)
        self.runtime = runtime
        self.path = path
        self.model_file = model_file
        self.threads = threads
        self.metadata = dict(metadata or {})
        self.pad_id = tokenizer.pad_token_id if isinstance(tokenizer.pad_token_id, int) else 0
        self.truncated = 0  # texts cut to max_length tokens since the classifier was loaded

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        runtime: str = "auto",
        int8: bool = True,
        threads: int | None = None,
    ) -> Classifier:
        """Load a classifier folder (None: the shipped intent model, `maaza models list`).

        `runtime`: `onnx` (a folder from `export_classifier_onnx`, or a `.onnx` file in one: `model.int8.onnx`
        with `int8`, else `model.onnx`), `torch` (a transformers sequence-classifier folder), or `auto` (onnx
        when the folder holds an ONNX file, else torch). `threads`: onnxruntime's intra-op threads (default:
        the physical cores this process may use); for torch, `torch.set_num_threads` when given.
        """
        from maaza.models.loading import load_tokenizer, read_model_metadata

        if runtime not in RUNTIMES:
            raise MaazaError(f"unknown runtime '{runtime}'; choose one of {', '.join(RUNTIMES)}")
        if threads is not None and threads < 1:
            raise MaazaError("threads must be at least 1")
        given = _shipped_folder() if path is None else Path(path)
        model_file: Path | None = None
        if given.is_file() and given.suffix == ".onnx":
            if runtime == "torch":
                raise MaazaError(f"{given} is an ONNX file; runtime torch needs a transformers model folder")
            folder, model_file, runtime = given.parent, given, "onnx"
        elif given.is_dir():
            folder = given
        else:
            raise MaazaError(f"classifier not found: {given} (expected a model folder)")
        if runtime == "auto":
            runtime = "onnx" if _has_onnx(folder) else "torch"
        metadata = read_model_metadata(folder)
        prompt_format = metadata.get("prompt_format")
        if prompt_format not in PROMPT_FORMATS:
            raise MaazaError(
                f"{folder}: the model was trained with prompt format '{prompt_format}'; the Classifier feeds the "
                "text itself (prompt format 'text')"
            )
        if runtime == "onnx":
            from maaza.decoding.backends.llamacpp.runtime import physical_cores

            model_file = model_file or _onnx_file(folder, int8)
            labels = metadata.get("labels")
            if not isinstance(labels, list) or not labels or metadata.get("runtime") != "onnx":
                raise MaazaError(
                    f"{folder / 'maaza.json'} does not describe an ONNX classifier export (runtime onnx and its "
                    "labels); export the model with maaza.export.onnx_classifier.export_classifier_onnx"
                )
            max_length = metadata.get("max_length")
            if not isinstance(max_length, int) or max_length <= 0:
                raise MaazaError(f"{folder / 'maaza.json'}: max_length must be a positive number")
            threads = threads or physical_cores()
            runner: Any = _OnnxRunner(model_file, threads)
            width = runner.session.get_outputs()[0].shape[-1]
            if isinstance(width, int) and width != len(labels):
                raise MaazaError(f"{model_file} outputs {width} logits but maaza.json lists {len(labels)} labels")
        else:
            if not (folder / "config.json").is_file():
                source = metadata.get("source_model")
                hint = f" (this ONNX export came from {source})" if source else ""
                raise MaazaError(
                    f"runtime torch needs a transformers model folder; {folder} has no config.json{hint}"
                )
            from maaza.export.onnx_classifier import classifier_labels

            torch_runner = _TorchRunner(folder, threads)
            config = torch_runner.model.config
            labels = classifier_labels(config, metadata, str(folder))
            max_length = int(getattr(config, "max_position_embeddings", 0) or 512)
            runner = torch_runner
        tokenizer = load_tokenizer(str(folder), padding_side="right")
        return cls(
            runner,
            tokenizer,
            [str(label) for label in labels],
            max_length,
            runtime=runtime,
            path=folder,
            model_file=model_file,
            threads=threads,
            metadata=metadata,
        )

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels in the model's output order."""
        return self._labels

    def classify(self, text: str, top_k: int = 5) -> Classification:
        """The label of one text (softmax probabilities; `top_k` best labels)."""
        return self._classify([text], top_k, 1)[0]

    def classify_batch(
        self, texts: Sequence[str], top_k: int = 5, batch_size: int = 32
    ) -> list[Classification]:
        """Classify many texts, `batch_size` at a time (sorted by length for less padding); results in input order."""
        return self._classify(texts, top_k, batch_size)

    # ----------------------------------------------------------------------------------------- inside

    def _classify(self, texts: Sequence[str], top_k: int, batch_size: int) -> list[Classification]:
        import numpy as np

        if isinstance(texts, str):
            raise MaazaError("classify_batch takes a list of texts, not one string (use classify)")
        if top_k < 1:
            raise MaazaError("top_k must be at least 1")
        if batch_size < 1:
            raise MaazaError("batch_size must be at least 1")
        texts = list(texts)
        ids = self._tokenize(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        results: list[Classification | None] = [None] * len(ids)
        k = min(top_k, len(self._labels))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(ids[i]) for i in chunk)
            batch = np.full((len(chunk), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, index in enumerate(chunk):
                batch[row, : len(ids[index])] = ids[index]
                mask[row, : len(ids[index])] = 1
            logits = np.asarray(self._runner(batch, mask), dtype=np.float64)
            logits -= logits.max(axis=-1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=-1, keepdims=True)
            for row, index in enumerate(chunk):
                best = np.argsort(-probs[row], kind="stable")[:k]
                top = [(self._labels[j], float(probs[row, j])) for j in best]
                results[index] = Classification(top[0][0], top[0][1], top)
        return [result for result in results if result is not None]

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text (as in training: no special tokens), cut to max_length; checks the texts."""
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise MaazaError(f"text at index {index} is not a string ({type(text).__name__})")
            if not text.strip():
                raise MaazaError(f"text at index {index} is empty (or only whitespace)")
            check_encodable(text, f"text at index {index}")
        if not texts:
            return []
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        cut = 0
        ids: list[list[int]] = []
        for index, row in enumerate(encoded):
            if not row:
                raise MaazaError(f"text at index {index} has no tokens")
            if len(row) > self.max_length:
                cut += 1
                row = row[: self.max_length]
            ids.append(list(row))
        if cut:
            self.truncated += cut
            warnings.warn(
                f"{cut} of {len(texts)} text(s) longer than {self.max_length} tokens: each kept its first "
                f"{self.max_length} tokens",
                TruncationWarning,
                stacklevel=4,
            )
        return ids


# ---------------------------------------------------------------------------------------------- CLI


def add_classify_parser(sub: Any) -> None:
    """Register `maaza classify` on an argparse subparsers object."""
    p = sub.add_parser(
        "classify",
        help="classify texts (intent) with a sequence classifier",
        description="Print one JSON line {text, label, score, top_k} per TEXT, or per row of --file (a JSONL with "
        "a `text` field per row, or a .txt with one text per line); --out writes them to a JSONL file instead.",
    )
    add_text_io_arguments(p, "classify")
    p.add_argument(
        "--model",
        default=None,
        help="an ONNX classifier folder (export_classifier_onnx) or a transformers classifier folder "
        "(default: the shipped intent model, see `maaza models list`)",
    )
    p.add_argument(
        "--runtime",
        default="auto",
        choices=RUNTIMES,
        help="onnx (onnxruntime), torch (transformers), auto (onnx when the folder has an ONNX file)",
    )
    p.add_argument("--fp32", action="store_true", help="onnx: run model.onnx instead of model.int8.onnx")
    p.add_argument("--top-k", type=int, default=5, help="labels listed per text (default 5)")
    p.add_argument("--batch-size", type=int, default=32, help="texts run together (default 32)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: the physical cores)")
    p.set_defaults(handler=run_classify)


def run_classify(args: argparse.Namespace) -> int:
    """Handler for `maaza classify`: input errors are MaazaErrors (one line, exit 2) raised before loading."""
    if args.top_k < 1:
        raise MaazaError("--top-k must be at least 1")
    if args.batch_size < 1:
        raise MaazaError("--batch-size must be at least 1")
    from maaza.io import emit_lines, text_rows_from_args

    rows = text_rows_from_args(args, "classify")
    classifier = Classifier.load(args.model, runtime=args.runtime, int8=not args.fp32, threads=args.threads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TruncationWarning)
        results = classifier.classify_batch(
            [text for _, text, _ in rows], top_k=args.top_k, batch_size=args.batch_size
        )
    for warning in caught:
        if issubclass(warning.category, TruncationWarning):
            print(f"maaza: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    lines = [
        json.dumps(
            {
                **extra,
                "text": text,
                "label": result.label,
                "score": round(result.score, 6),
                "top_k": [[label, round(p, 6)] for label, p in result.top_k],
            },
            ensure_ascii=False,
        )
        for (_, text, extra), result in zip(rows, results, strict=True)
    ]
    emit_lines(lines, args.out, "classified")
    return 0
