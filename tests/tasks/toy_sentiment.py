"""A task defined only in the tests: three-label sentiment, proving the task protocol needs no change to src/.

Rows are `{id, text, label}`; the model answers `{"label": "..."}`, constrained to the three labels. The data
engine makes the rows (a label first, then a sentence for it), so the whole loop runs: data -> train -> eval ->
card. docs/adding_a_task.md walks through this file.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maaza.data.engine import Sample, Spec, TaskModule
from maaza.decoding.json_parse import parse_json_output
from maaza.errors import MaazaError, location
from maaza.io import iter_jsonl
from maaza.tasks.base import TaskData, aggregate_by_groups, fraction_true, timing_line

LABELS = ("negative", "neutral", "positive")
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": list(LABELS)}},
    "required": ["label"],
    "additionalProperties": False,
}
PHRASES = {
    "negative": ("awful", "broken on arrival", "a waste of money", "the worst support ever"),
    "neutral": ("arrived on Tuesday", "about what I expected", "the box was blue", "it is a phone case"),
    "positive": ("wonderful", "works perfectly", "worth every cent", "the best purchase this year"),
}


@dataclass(frozen=True)
class SentimentRow:
    id: str
    text: str
    label: str
    source_line: int = 0

    @property
    def groups(self) -> dict[str, str]:
        return {"label": self.label}


class SentimentTask:
    """A `ClassificationTask` (`labels`, `label_of`): a causal LM learns to write `{"label": ...}`, a sequence
    classifier reads the prompt and predicts the label's index. `name` lets tests register it twice over
    (tests/train registers it as `sentiment`)."""

    name = "toy-sentiment"
    description = "three-label sentiment of a short review (a test-only task)"
    group_keys = ("label",)
    headline_metric = "accuracy"
    metric_names = ("accuracy", "parse_rate")
    prompt_formats = ("plain",)
    default_prompt_format = "plain"
    resource_names: tuple[str, ...] = ()
    labels = LABELS

    def __init__(self, name: str = "toy-sentiment") -> None:
        self.name = name

    def default_data(self, split: str = "test") -> TaskData | None:
        return None  # rows come from the data engine below, never from the data root

    def load_rows(
        self, data: str | Path, resources: Mapping[str, str | Path | None], *, limit: int | None = None
    ) -> list[SentimentRow]:
        rows = []
        for number, raw in iter_jsonl(data):
            for key in ("id", "text", "label"):
                if not isinstance(raw.get(key), str):
                    raise MaazaError(f"{location(data, number, key)} must be a string")
            if raw["label"] not in LABELS:
                raise MaazaError(f"{location(data, number, 'label')}: '{raw['label']}' is not one of {LABELS}")
            rows.append(SentimentRow(raw["id"], raw["text"], raw["label"], number))
        return rows if limit is None else rows[:limit]

    def prompt(self, row: SentimentRow, prompt_format: str, tokenizer: Any) -> str:
        return f"Review: {row.text}\nSentiment:"

    def label_of(self, row: SentimentRow) -> str:
        return row.label

    def target(self, row: SentimentRow, *, minify: bool = True) -> str:
        return json.dumps({"label": row.label}, separators=(",", ":") if minify else None)

    def constraint(self, row: SentimentRow, *, grounded: bool = False) -> dict[str, Any] | None:
        return ANSWER_SCHEMA

    def score(self, row: SentimentRow, output: str, *, lenient_datetime: bool = True) -> dict[str, Any]:
        parsed = parse_json_output(output).value
        predicted = parsed.get("label") if isinstance(parsed, dict) else None
        return {"parsed": parsed, "parsed_ok": parsed is not None, "predicted": predicted,
                "correct": predicted == row.label}

    def aggregate(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        def summarise(members: list[dict[str, Any]]) -> dict[str, Any]:
            return {"n": len(members), "accuracy": fraction_true(e["correct"] for e in members),
                    "parse_rate": fraction_true(e["parsed_ok"] for e in members)}

        return aggregate_by_groups(examples, summarise, self.group_keys, {"label": LABELS})

    def summary_table(self, results: Mapping[str, Any]) -> str:
        overall = (results.get("metrics") or {}).get("overall") or {}
        return f"accuracy {overall.get('accuracy')} on {overall.get('n')} rows\n\n{timing_line(results)}"

    def card_sections(self, results: Sequence[Mapping[str, Any]]) -> list[str]:
        lines = ["## Sentiment accuracy", "", "| results | rows | accuracy |", "|---|---:|---:|"]
        for result in results:
            overall = result["metrics"]["overall"]
            lines.append(f"| {result.get('config', {}).get('variant', '-')} | {overall['n']} | "
                         f"{100 * overall['accuracy']:.1f}% |")
        return [*lines, ""]


# ------------------------------------------------------------------ data engine pieces (label first, then text)


class LabelSource:
    def make(self, spec: Spec, rng: random.Random) -> tuple[Any, str | None]:
        return spec.id, None


class ReviewRenderer:
    def render(self, spec: Spec, record: Any, rng: random.Random) -> tuple[str, str]:
        product = rng.choice(("phone case", "kettle", "desk lamp", "backpack"))
        return "review", f"The {product} is {rng.choice(PHRASES[record])}."


def engine_task() -> TaskModule:
    specs = [Spec(label, label, None, title=label) for label in LABELS]

    def to_row(sample: Sample, teacher: str) -> dict[str, Any]:
        return {"id": f"toy_{sample.slot:03d}", "text": sample.text or sample.rendered, "label": sample.record}

    return TaskModule("toy-sentiment", specs, LabelSource(), ReviewRenderer(), [], to_row, spec_field="label")
