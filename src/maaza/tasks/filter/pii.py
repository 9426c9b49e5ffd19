"""The `pii` task: which characters of a text are personal data, and of which kind.

Rows are `{text, spans: [{start, end, label}]}` (character offsets, end exclusive, labels from
`PII_LABELS`); extra keys (`genre`, `locale`, `note`) are kept as groups. There is no PII set in the data
root: the benchmark writes its generated test set (`pii_generator`) and the hand-written one lives in
`benchmarks/data/pii_handwritten.jsonl`. A token classifier is scored with `score_spans`; a generative
model's answer (`{"pii": [{"label", "text"}]}`) through `score`, which locates each quoted value in the text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maaza.decoding.json_parse import parse_json_output
from maaza.errors import MaazaError, location
from maaza.io import iter_jsonl
from maaza.tasks.base import TaskData, stratified_slice
from maaza.tasks.filter.spans import PII_LABELS, Span, span_scores
from maaza.tasks.intent.rows import row_ids

PROMPT_FORMATS = ("text",)


@dataclass(frozen=True)
class PIIRow:
    id: str
    text: str
    spans: tuple[Span, ...]
    source_line: int
    genre: str = "unknown"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def groups(self) -> dict[str, str]:
        return {"genre": self.genre}


def _spans(value: Any, text: str, path: Path, number: int) -> tuple[Span, ...]:
    where = location(path, number, "spans")
    if not isinstance(value, list):
        raise MaazaError(f"{where} must be a list of {{start, end, label}}, got {type(value).__name__}")
    spans = [Span.from_dict(item, f"{where}[{index}]") for index, item in enumerate(value)]
    spans.sort()
    for index, span in enumerate(spans):
        if span.end > len(text):
            raise MaazaError(f"{where}: span {span.start}-{span.end} ends after the text ({len(text)} chars)")
        if index and span.start < spans[index - 1].end:
            raise MaazaError(f"{where}: spans {spans[index - 1].start}-{spans[index - 1].end} and "
                             f"{span.start}-{span.end} overlap")
    return tuple(spans)


def load_pii_rows(path: str | Path, *, limit: int | None = None) -> list[PIIRow]:
    """Read and check a JSONL of `{text, spans}`; every problem names file:line and the field."""
    file = Path(path)
    parsed: list[tuple[int, str, tuple[Span, ...], dict[str, Any]]] = []
    for number, raw in iter_jsonl(file):
        text = raw.get("text")
        if not isinstance(text, str):
            problem = "is missing" if text is None else f"must be a string, got {type(text).__name__}"
            raise MaazaError(f"{location(file, number, 'text')} {problem}")
        if "spans" not in raw:
            raise MaazaError(f"{location(file, number, 'spans')} is missing (use [] for a text without PII)")
        extra = {key: value for key, value in raw.items() if key not in ("text", "spans")}
        parsed.append((number, text, _spans(raw["spans"], text, file, number), extra))
    ids = row_ids([text for _, text, _, _ in parsed])
    rows = [
        PIIRow(row_id, text, spans, number, str(extra.get("genre", "unknown")), extra)
        for row_id, (number, text, spans, extra) in zip(ids, parsed, strict=True)
    ]
    return stratified_slice(rows, limit, "genre") if limit is not None else rows


class PIITask:
    """PII detection: character spans over `PII_LABELS`; headline span F1 (exact start, end and label)."""

    name = "pii"
    description = "personal data in free text as character spans (8 kinds, exact span and label)"
    group_keys = ("genre",)
    headline_metric = "f1"
    # span_precision / span_recall, not precision / recall: a leaderboard's `precision` column is the weights'
    # numeric precision (fp32, int8)
    metric_names = ("f1", "span_precision", "span_recall", "partial_f1", "exact_rows")
    prompt_formats = PROMPT_FORMATS
    default_prompt_format = "text"
    resource_names: tuple[str, ...] = ()
    labels = PII_LABELS

    def default_data(self, split: str = "test") -> TaskData | None:
        return None  # generated (benchmarks/filter.py) or your own JSONL

    def load_rows(
        self, data: str | Path, resources: Mapping[str, str | Path | None] | None = None, *, limit: int | None = None
    ) -> list[PIIRow]:
        return load_pii_rows(data, limit=limit)

    def prompt(self, row: PIIRow, prompt_format: str, tokenizer: Any = None) -> str:
        return row.text

    def target(self, row: PIIRow, *, minify: bool = True) -> str:
        items = [{"label": span.label, "text": row.text[span.start : span.end]} for span in row.spans]
        return json.dumps({"pii": items}, ensure_ascii=False, separators=(",", ":") if minify else None)

    def constraint(self, row: PIIRow, *, grounded: bool = False) -> dict[str, Any] | None:
        item = {
            "type": "object",
            "properties": {"label": {"enum": list(PII_LABELS)}, "text": {"type": "string"}},
            "required": ["label", "text"],
            "additionalProperties": False,
        }
        return {
            "type": "object",
            "properties": {"pii": {"type": "array", "items": item}},
            "required": ["pii"],
            "additionalProperties": False,
        }

    def score_spans(self, row: PIIRow, predicted: Sequence[Span]) -> dict[str, Any]:
        """One row's predicted spans against its gold ones (kept for the aggregate)."""
        scores = span_scores([row.spans], [list(predicted)])
        return {
            "gold": [span.to_dict() for span in row.spans],
            "predicted": [span.to_dict() for span in predicted],
            "exact": scores["fp"] == 0 and scores["fn"] == 0,
            "genre": row.genre,
        }

    def score(self, row: PIIRow, output: str, *, lenient_datetime: bool = True) -> dict[str, Any]:
        """A generative answer `{"pii": [{"label", "text"}]}`: each value located in the text (its n-th
        occurrence for the n-th equal value), then scored as spans; a value not in the text is a miss."""
        parsed = parse_json_output(output).value
        items = parsed.get("pii") if isinstance(parsed, dict) else None
        spans: list[Span] = []
        seen: dict[tuple[str, str], int] = {}
        for item in items if isinstance(items, list) else []:
            if not (isinstance(item, dict) and item.get("label") in PII_LABELS and isinstance(item.get("text"), str)):
                continue
            value = item["text"]
            start, count = -1, seen.get((item["label"], value), 0)
            for _ in range(count + 1):
                start = row.text.find(value, start + 1)
                if start < 0:
                    break
            seen[(item["label"], value)] = count + 1
            if start >= 0 and value:
                spans.append(Span(start, start + len(value), item["label"]))
        return self.score_spans(row, spans)

    def aggregate(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        """Span scores overall and by genre."""

        def summarise(members: list[dict[str, Any]]) -> dict[str, Any]:
            gold = [[Span.from_dict(s, "gold") for s in e["gold"]] for e in members]
            predicted = [[Span.from_dict(s, "predicted") for s in e["predicted"]] for e in members]
            scores = span_scores(gold, predicted)
            return {
                "n": len(members),
                "span_precision": scores.pop("precision"),
                "span_recall": scores.pop("recall"),
                **scores,
                "exact_rows": sum(bool(e["exact"]) for e in members) / len(members) if members else None,
            }

        from maaza.tasks.base import aggregate_by_groups

        return aggregate_by_groups(examples, summarise, self.group_keys)

    def summary_table(self, results: Mapping[str, Any]) -> str:
        overall = results.get("metrics", {}).get("overall", {})
        lines = ["| label | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        for label, values in overall.get("per_label", {}).items():
            lines.append(
                f"| {label} | {_fmt(values.get('precision'))} | {_fmt(values.get('recall'))} | "
                f"{_fmt(values.get('f1'))} | {values.get('support')} |"
            )
        lines.append(
            f"| **all** | {_fmt(overall.get('span_precision'))} | {_fmt(overall.get('span_recall'))} | "
            f"**{_fmt(overall.get('f1'))}** | {overall.get('tp', 0) + overall.get('fn', 0)} |"
        )
        return "\n".join(lines)

    def card_sections(self, results: Sequence[Mapping[str, Any]]) -> list[str]:
        """One per-label table per results file, headed by its test set (the split name, else the file)."""
        sections = []
        for result in results:
            data = result.get("data") or {}
            name = (result.get("config") or {}).get("split") or Path(str(data.get("path") or "test")).name
            sections.append(f"### PII spans: {name} ({data.get('rows')} texts)\n\n{self.summary_table(result)}")
        return sections

    def card_tags(self) -> list[str]:
        return ["token-classification", "pii-detection"]

    def card_label(self) -> str:
        return "PII detection"


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{float(value):.3f}"
