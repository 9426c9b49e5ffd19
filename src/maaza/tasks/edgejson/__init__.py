"""EdgeJSON: extract a JSON object matching a schema from a text (the MLM-135M-JSON benchmark).

Modules: `rows` (rows, schemas on disk, prompt formats), `metrics` (JSONExact, Field F1, compliance, leaf
F1, schema validity), `generator` (the data engine's EdgeJSON task module), `answerability` (which answers
a text determines), `card` (the model-card sections). `EdgeJSONTask` is the registered task object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from maaza.errors import MaazaError
from maaza.tasks.base import TaskData, timing_line
from maaza.tasks.edgejson.rows import (
    COMPLEXITY_ORDER,
    PROMPT_FORMATS,
    REQUIRED_FIELDS,
    SCHEMA_TEMPLATE,
    SEED_TEMPLATE,
    EdgeJSONRow,
    build_prompt,
    default_paths,
    load_rows,
    prompt_text,
    render_schema,
    schema_complexity,
    stratified_slice,
    target_text,
)

__all__ = [
    "COMPLEXITY_ORDER",
    "PROMPT_FORMATS",
    "REQUIRED_FIELDS",
    "SCHEMA_TEMPLATE",
    "SEED_TEMPLATE",
    "EdgeJSONRow",
    "EdgeJSONTask",
    "build_prompt",
    "default_paths",
    "load_rows",
    "prompt_text",
    "render_schema",
    "schema_complexity",
    "stratified_slice",
    "target_text",
]


class EdgeJSONTask:
    """Schema-guided JSON extraction: rows + a schema folder; constrained by the row's schema."""

    name = "edgejson"
    description = "extract a JSON object matching a JSON Schema from a text (EdgeJSON v3)"
    group_keys = ("complexity", "schema_id")
    group_order: ClassVar[dict[str, tuple[str, ...]]] = {"complexity": COMPLEXITY_ORDER}  # optional member: tables list these group values first
    headline_metric = "json_exact"
    metric_names = ("json_exact", "field_f1", "schema_compliance", "leaf_f1", "schema_valid", "parse_rate")
    prompt_formats = PROMPT_FORMATS
    default_prompt_format = "schema-chat"  # what every Maaza JSON model is trained on, and what lets a base model
    # extract fields of a schema it has never seen (the published `seed` template has no schema)
    resource_names = ("schemas",)

    def __init__(self) -> None:
        self._schemas: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------------------------------- rows

    def default_data(self, split: str = "test") -> TaskData | None:
        rows, schemas = default_paths()
        if rows is None or schemas is None:
            return None
        return TaskData(rows.with_name(f"{split}.jsonl"), {"schemas": schemas})

    def load_rows(
        self, data: str | Path, resources: Mapping[str, str | Path | None], *, limit: int | None = None
    ) -> list[EdgeJSONRow]:
        from maaza.schemas import load_schema_folder

        folder = resources.get("schemas")
        if folder is None:
            raise MaazaError("task edgejson needs its schema folder (--schemas DIR)")
        self._schemas = load_schema_folder(folder)
        return load_rows(data, self._schemas, limit=limit)

    def schema(self, row: EdgeJSONRow) -> dict[str, Any]:
        """The row's own schema when it carries one, else the loaded schema its `schema_id` names."""
        if row.schema is not None:
            return row.schema
        try:
            return self._schemas[row.schema_id]
        except KeyError:
            raise MaazaError(f"row '{row.id}': schema '{row.schema_id}' is not loaded (call load_rows first)") from None

    @staticmethod
    def request(text: str, schema: dict[str, Any], row_id: str = "request") -> EdgeJSONRow:
        """An extraction request (text + schema, no gold answer) as a row the task can prompt and constrain."""
        return EdgeJSONRow(row_id, "", "", text, {}, schema=schema)

    # ------------------------------------------------------------------------------- model input/output

    def prompt(self, row: EdgeJSONRow, prompt_format: str, tokenizer: Any) -> str:
        return build_prompt(row.prompt, self.schema(row), prompt_format, tokenizer)

    def target(self, row: EdgeJSONRow, *, minify: bool = True) -> str:
        return target_text(row.expected_output, minify=minify)

    def constraint(self, row: EdgeJSONRow, *, grounded: bool = False) -> dict[str, Any] | None:
        """The row's schema; grounded: its free values must be copied from the row's text."""
        from maaza.decoding.grounded import with_grounding

        schema = self.schema(row)
        return with_grounding(schema, row.prompt) if grounded else schema

    # ------------------------------------------------------------------------------------------ metrics

    def score(self, row: EdgeJSONRow, output: str, *, lenient_datetime: bool = True) -> dict[str, Any]:
        from maaza.tasks.edgejson.metrics import score_example

        return score_example(output, row.expected_output, self.schema(row), lenient_datetime=lenient_datetime)

    def aggregate(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        from maaza.tasks.edgejson.metrics import aggregate

        return aggregate(examples, self.group_keys)

    # ------------------------------------------------------------------------------------------ reports

    def summary_table(self, results: Mapping[str, Any]) -> str:
        """A markdown table of the aggregates (overall and by complexity) plus timing."""
        metrics = results.get("metrics") or {}
        lines = [
            "| group | n | JSONExact | Field F1 | compliance | leaf F1 | schema valid | parse rate |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        buckets = [("overall", metrics.get("overall")), *list((metrics.get("by_complexity") or {}).items())]
        for name, bucket in buckets:
            if not bucket or not bucket.get("n"):
                continue
            valid = bucket.get("schema_valid")
            lines.append(
                f"| {name} | {bucket['n']} | {100 * bucket['json_exact']:.1f}% | {bucket['field_f1']:.3f} | "
                f"{100 * bucket['schema_compliance']:.1f}% | {bucket['leaf_f1']:.3f} | "
                f"{'-' if valid is None else f'{100 * valid:.1f}%'} | {100 * bucket['parse_rate']:.1f}% |"
            )
        return "\n".join([*lines, "", timing_line(results)])

    # Model-card hooks (`maaza.report.card` calls them; `maaza.tasks.edgejson.card` says what `context` holds).

    def card_sections(
        self, results: Sequence[Mapping[str, Any]], *, context: Mapping[str, Any] | None = None
    ) -> list[str]:
        """The sections after the evaluation: the run beside the published Maaza card's figures."""
        from maaza.tasks.edgejson.card import card_sections

        return card_sections(results, context)

    def card_tags(self) -> list[str]:
        """Front-matter tags of the task (besides its name)."""
        from maaza.tasks.edgejson.card import card_tags

        return card_tags()

    def card_label(self) -> str:
        """What the task is called in the card's intro and model-index."""
        from maaza.tasks.edgejson.card import card_label

        return card_label()

    def card_usage(self, context: Mapping[str, Any]) -> list[str]:
        """The usage section: Extractor with a schema, transformers, transformers + peft."""
        from maaza.tasks.edgejson.card import card_usage

        return card_usage(context)

    def card_limitations(self, results: Sequence[Mapping[str, Any]]) -> list[str]:
        """Limitation items: weak complexity buckets, unconstrained parse rate, lenient date-time."""
        from maaza.tasks.edgejson.card import card_limitations

        return card_limitations(results)
