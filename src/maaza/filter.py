"""The filter as a product: `Filter` (spam, toxicity, PII spans, redaction) and the `maaza filter` command.

    from maaza.filter import Filter
    f = Filter.load()                    # the shipped NLM-5M-Filter (INT8 ONNX), or a folder
    result = f.check("Call Anna on +44 7700 900123")
    result.spam_score, result.toxicity_label, result.toxicity_score, result.pii   # pii: [Span]
    f.redact("mail me at jo@example.com")  # -> "mail me at [EMAIL_ADDRESS]"

A folder from `maaza.export.onnx_filter.export_filter_onnx` runs on onnxruntime's CPU execution provider.
Decoding: spam score = p(spam); toxicity label = the most probable of hate / offensive / neither, toxicity
score = 1 - p(neither); PII = the most probable valid BIO tag sequence of each window
(`maaza.tasks.filter.spans.constrained_tags`: `I-X` only after X, no span edge inside a word), decoded to
character spans (`decode_bio`); `pii_decoding="argmax"` takes each token's most probable tag instead, the
decoding the benchmark compares against. `pii_rules=True` adds the checksum-validated regular expressions
(`maaza.tasks.filter.pii_rules.with_rules`: e-mail, IBAN, card, SSN and IP spans from the rules, names,
addresses and the phones the rules miss from the model). A text longer than one window (`max_length`
tokens with [CLS] and [SEP]) is cut into windows of `max_length - 2` tokens overlapping by `stride`; its spam
score is the highest of its windows', its toxicity that of its most toxic window, and the PII candidates of
all windows are merged (`merge_overlapping`), so spans keep the offsets of the whole text. The browser demo
(`web/filter/`) computes the same function in JavaScript, without the rules.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError, check_encodable
from maaza.io import add_text_io_arguments

__all__ = ["Filter", "FilterResult", "add_filter_parser"]

SHIPPED_NAME = "nlm-5m-filter"
SHIPPING_BENCHMARK = "benchmarks/filter.py"


@dataclass
class FilterResult:
    """What the filter says about one text. `pii` spans are character offsets into the text as given."""

    spam_score: float
    toxicity_label: str
    toxicity_score: float
    toxicity_probs: dict[str, float]
    pii: list[Any] = field(default_factory=list)
    windows: int = 1

    @property
    def is_spam(self) -> bool:
        return self.spam_score >= 0.5

    @property
    def is_toxic(self) -> bool:
        return self.toxicity_label != "neither"

    def to_dict(self, text: str | None = None) -> dict[str, Any]:
        spans = [
            {**span.to_dict(), **({"text": text[span.start : span.end]} if text is not None else {})}
            for span in self.pii
        ]
        return {
            "spam_score": round(self.spam_score, 6),
            "toxicity_label": self.toxicity_label,
            "toxicity_score": round(self.toxicity_score, 6),
            "pii": spans,
        }


def _softmax(values: Any) -> Any:
    import numpy as np

    shifted = values - values.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _with_rules(spans: list[Any], text: str) -> list[Any]:
    from maaza.tasks.filter.pii_rules import detect_pii_rules, with_rules

    return with_rules(spans, detect_pii_rules(text))


def _shipped_folder() -> Path:
    from maaza.models.shipped import shipped_models

    model = shipped_models().get(SHIPPED_NAME)
    if model is None:
        raise MaazaError(
            f"no shipped filter yet (benchmarks/artifacts/shipped.json lists no {SHIPPED_NAME}): "
            f"python {SHIPPING_BENCHMARK} trains and exports one; pass its folder as the path (--model)"
        )
    if not model.path.is_dir():
        raise MaazaError(f"the shipped filter is missing at {model.path}; git checkout -- benchmarks/artifacts")
    return model.path


PII_DECODINGS = ("constrained", "argmax")


class Filter:
    """A loaded filter folder (ONNX + tokenizer + maaza.json). Build it with `Filter.load`."""

    def __init__(
        self,
        folder: Path,
        *,
        int8: bool = True,
        threads: int | None = None,
        pii_decoding: str = "constrained",
        pii_rules: bool = False,
    ) -> None:
        import onnxruntime as ort

        from maaza.export.onnx_filter import FP32_FILE, INT8_FILE, OUTPUT_NAMES
        from maaza.models.loading import METADATA_FILE, first_line, read_model_metadata
        from maaza.train.filter_tokenizer import CLS, PAD, SEP, load_filter_tokenizer

        if not (folder / METADATA_FILE).is_file():
            raise MaazaError(f"{folder}: not a filter folder (no {METADATA_FILE})")
        self.metadata = read_model_metadata(folder)
        if self.metadata.get("kind") != "filter":
            raise MaazaError(f"{folder}: maaza.json says kind '{self.metadata.get('kind')}', not 'filter'")
        if pii_decoding not in PII_DECODINGS:
            raise MaazaError(f"pii_decoding must be one of {', '.join(PII_DECODINGS)}, got {pii_decoding!r}")
        self.pii_decoding = pii_decoding
        self.pii_rules = pii_rules
        self.path = folder
        self.model_file = folder / (INT8_FILE if int8 else FP32_FILE)
        if not self.model_file.is_file():
            raise MaazaError(f"{folder} has no {self.model_file.name}")
        self.tokenizer = load_filter_tokenizer(folder)
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.spam_labels = list(self.metadata["spam_labels"])
        self.toxicity_labels = list(self.metadata["toxicity_labels"])
        self.pii_tags = list(self.metadata["pii_tags"])
        self.max_length = int(self.metadata.get("max_length", 256))
        self.stride = int(self.metadata.get("stride", 64))
        self.pad_id = self.tokenizer.token_to_id(PAD)
        self.cls_id, self.sep_id = self.tokenizer.token_to_id(CLS), self.tokenizer.token_to_id(SEP)
        self._outputs = list(OUTPUT_NAMES)
        options = ort.SessionOptions()
        if threads is None:
            from maaza.decoding.backends.llamacpp.runtime import physical_cores

            threads = physical_cores()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise MaazaError(f"onnxruntime cannot load {self.model_file}: {first_line(exc)}") from None

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        int8: bool = True,
        threads: int | None = None,
        pii_decoding: str = "constrained",
        pii_rules: bool = False,
    ) -> Filter:
        """A filter folder (None: the shipped NLM-5M-Filter, `maaza models list`); `int8=False` runs the fp32
        file; `threads`: onnxruntime's intra-op threads (default: the physical cores this process may use);
        `pii_decoding`: "constrained" (valid BIO, no edge inside a word) or "argmax" (per token); `pii_rules`:
        combine the model's PII spans with the regular-expression detector's (`with_rules`)."""
        if threads is not None and threads < 1:
            raise MaazaError("threads must be at least 1")
        folder = _shipped_folder() if path is None else Path(path)
        if not folder.is_dir():
            raise MaazaError(f"filter not found: {folder} (expected a folder from export_filter_onnx)")
        return cls(folder, int8=int8, threads=threads, pii_decoding=pii_decoding, pii_rules=pii_rules)

    # ---------------------------------------------------------------------------------------- windows

    def windows(self, text: str) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """(ids with [CLS]/[SEP], offsets) per window of the text: one window when it fits `max_length`."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        ids, offsets = list(encoding.ids), [tuple(o) for o in encoding.offsets]
        size = self.max_length - 2
        if len(ids) <= size:
            starts = [0]
        else:  # full windows `stride` tokens apart at most, the last one ending at the text's end
            starts = [*range(0, len(ids) - size, size - self.stride), len(ids) - size]
        return [
            ([self.cls_id, *ids[s : s + size], self.sep_id], [(0, 0), *offsets[s : s + size], (0, 0)])
            for s in starts
        ]

    def _run(self, windows: Sequence[tuple[list[int], list[tuple[int, int]]]]) -> list[Any]:
        import numpy as np

        width = max(len(ids) for ids, _ in windows)
        ids = np.full((len(windows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(windows), width), dtype=np.int64)
        for row, (window, _) in enumerate(windows):
            ids[row, : len(window)] = window
            mask[row, : len(window)] = 1
        return self.session.run(self._outputs, {"input_ids": ids, "attention_mask": mask})

    # ----------------------------------------------------------------------------------------- checks

    def check(self, text: str) -> FilterResult:
        """Spam score, toxicity label and score, and PII spans of one text."""
        return self.check_batch([text])[0]

    def check_batch(
        self, texts: Sequence[str], *, batch_size: int = 32, pii_rules: bool | None = None
    ) -> list[FilterResult]:
        """`check` of every text, in order; windows of several texts run together, `batch_size` at a time;
        `pii_rules` overrides the loaded setting for this call."""
        rules = self.pii_rules if pii_rules is None else pii_rules
        from maaza.tasks.filter.spans import merge_overlapping

        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise MaazaError(f"text {index + 1}: expected a string, got {type(text).__name__}")
            check_encodable(text, f"text {index + 1}")
        if batch_size < 1:
            raise MaazaError("batch_size must be at least 1")
        jobs = [(index, window) for index, text in enumerate(texts) for window in self.windows(text)]
        spam: dict[int, list[float]] = {}
        toxic: dict[int, list[Any]] = {}
        spans: dict[int, list[Any]] = {}
        order = sorted(range(len(jobs)), key=lambda j: len(jobs[j][1][0]))  # little padding per batch
        for start in range(0, len(order), batch_size):
            chosen = [jobs[j] for j in order[start : start + batch_size]]
            spam_logits, toxicity_logits, pii_logits = self._run([window for _, window in chosen])
            spam_p, tox_p = _softmax(spam_logits), _softmax(toxicity_logits)
            for row, (index, (ids, offsets)) in enumerate(chosen):
                spam.setdefault(index, []).append(float(spam_p[row, self.spam_labels.index("spam")]))
                toxic.setdefault(index, []).append(tox_p[row])
                spans.setdefault(index, []).extend(self._pii_spans(pii_logits[row, : len(ids)], offsets, texts[index]))
        results = []
        neither = self.toxicity_labels.index("neither")
        for index in range(len(texts)):
            found = merge_overlapping(spans[index])
            worst = max(toxic[index], key=lambda p: 1.0 - float(p[neither]))
            label = self.toxicity_labels[int(worst.argmax())]
            results.append(
                FilterResult(
                    spam_score=max(spam[index]),
                    toxicity_label=label,
                    toxicity_score=1.0 - float(worst[neither]),
                    toxicity_probs={name: float(worst[i]) for i, name in enumerate(self.toxicity_labels)},
                    pii=_with_rules(found, texts[index]) if rules else found,
                    windows=len(spam[index]),
                )
            )
        return results

    def _pii_spans(self, logits: Any, offsets: Sequence[tuple[int, int]], text: str) -> list[Any]:
        """One window's spans from its per-token tag logits (special tokens included, then skipped). Log-
        probabilities in float64 (as the browser's JavaScript numbers), a span's score the mean probability of
        its tokens' tags."""
        import numpy as np

        from maaza.tasks.filter.spans import constrained_tags, decode_bio, glued_boundaries

        kept = [k for k, (start, end) in enumerate(offsets) if end > start]
        if not kept:
            return []
        values = np.asarray(logits, dtype=np.float64)[kept]
        shifted = values - values.max(axis=-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        offsets = [offsets[k] for k in kept]
        if self.pii_decoding == "argmax":
            tags = [int(t) for t in log_p.argmax(-1)]
        else:
            tags = constrained_tags(log_p, glued_boundaries(offsets, text))
        scores = [float(np.exp(log_p[k, tag])) for k, tag in enumerate(tags)]
        return decode_bio(offsets, tags, scores, text)

    def redact(self, text: str, mask: Any = None) -> str:
        """`text` with every detected PII span replaced by `[LABEL]` (or `mask(span)` / a fixed string)."""
        from maaza.tasks.filter.spans import redact

        spans = self.check(text).pii
        return redact(text, spans) if mask is None else redact(text, spans, mask)


# ------------------------------------------------------------------------------------------------- CLI


def add_filter_parser(sub: Any) -> None:
    p = sub.add_parser(
        "filter",
        help="spam score, toxicity and PII spans of texts with the shipped NLM filter (INT8 ONNX)",
        description="Print one JSON line {text, spam_score, toxicity_label, toxicity_score, pii} per TEXT, or per "
        "row of --file (JSONL with `text`, or one text per line); --redact prints the texts with PII masked.",
    )
    add_text_io_arguments(p, "check")
    p.add_argument("--model", default=None, help="a filter folder (default: the shipped NLM-5M-Filter)")
    p.add_argument("--fp32", action="store_true", help="run model.onnx instead of model.int8.onnx")
    p.add_argument("--redact", action="store_true", help="print each text with its PII spans masked")
    p.add_argument("--rules", action="store_true",
                   help="add the checksum-validated regular expressions (e-mail, IBAN, card, SSN, IP) to the model's "
                   "PII spans (benchmarks/results/filter.md measures both)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: the physical cores)")
    p.set_defaults(handler=run_filter)


def run_filter(args: argparse.Namespace) -> int:
    from maaza.io import emit_lines, text_rows_from_args

    rows = text_rows_from_args(args, "check")
    model = Filter.load(args.model, int8=not args.fp32, threads=args.threads, pii_rules=args.rules)
    results = model.check_batch([text for _, text, _ in rows])
    from maaza.tasks.filter.spans import redact

    lines = [
        redact(text, result.pii)
        if args.redact
        else json.dumps({**extra, "text": text, **result.to_dict(text)}, ensure_ascii=False)
        for (_, text, extra), result in zip(rows, results, strict=True)
    ]
    emit_lines(lines, args.out, "checked")
    return 0
