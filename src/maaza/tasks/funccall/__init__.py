"""EdgeFuncCall: choose and fill function calls for a request from the functions offered (BFCL-compatible).

Modules: `specs` (BFCL specs and OpenAI tools, checked and normalised; the JSON Schema of an answer),
`rows` (rows, categories, prompts), `checker` (BFCL's AST rules, parameter triples), `metrics` (per-row
scores, aggregates), `generator` (synthetic training data, never from BFCL), `report` (summary table, card).
`FuncCallTask` is the registered task object (`--task funccall`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from maaza.paths import data_root
from maaza.tasks.base import TaskData, aggregate_by_groups
from maaza.tasks.funccall.rows import (
    CATEGORY_ORDER,
    PROMPT_FORMATS,
    FuncCallRow,
    build_prompt,
    load_rows,
    target_text,
)
from maaza.tasks.funccall.specs import calls_schema, normalise_functions

__all__ = ["CATEGORY_ORDER", "PROMPT_FORMATS", "FuncCallRow", "FuncCallTask", "calls_schema", "normalise_functions"]


class FuncCallTask:
    """Function calling: rows of BFCL's format; the answer a JSON list of calls, constrained by the specs."""

    name = "funccall"
    description = "choose and fill function calls for a request from the offered specs (BFCL format)"
    group_keys = ("category",)
    group_order: ClassVar[dict[str, tuple[str, ...]]] = {"category": CATEGORY_ORDER}
    headline_metric = "ast_accuracy"
    metric_names = ("ast_accuracy", "parameter_f1", "spec_valid", "parse_rate")
    prompt_formats = PROMPT_FORMATS
    default_prompt_format = "tools-chat"
    resource_names: tuple[str, ...] = ()
    answer_is_object = False  # the answer is a JSON list: decoding never stops at its first object's close

    def default_data(self, split: str = "test") -> TaskData | None:
        """BFCL's five non-live categories (`<data root>/bfcl/`) as the test set; there is no BFCL train split
        (training data comes from `maaza.tasks.funccall.generator`)."""
        root = data_root()
        if root is None or split != "test" or not (root / "bfcl").is_dir():
            return None
        return TaskData(root / "bfcl")

    def load_rows(
        self, data: str | Path, resources: Mapping[str, str | Path | None] | None = None, *, limit: int | None = None
    ) -> list[FuncCallRow]:
        return load_rows(data, limit=limit)

    @staticmethod
    def request(text: str, functions: Sequence[Any], row_id: str = "request") -> FuncCallRow:
        """A request (text + specs, no answer) as a row the task can prompt and constrain."""
        specs = normalise_functions(list(functions))
        return FuncCallRow(row_id, "request", ({"role": "user", "content": text},), tuple(specs), None)

    def prompt(self, row: FuncCallRow, prompt_format: str, tokenizer: Any) -> str:
        return build_prompt(row.messages, row.functions, prompt_format, tokenizer)

    def target(self, row: FuncCallRow, *, minify: bool = True) -> str:
        return target_text(row.calls, minify=minify)

    def constraint(self, row: FuncCallRow, *, grounded: bool = False) -> dict[str, Any] | None:
        """The JSON Schema of calls to the row's functions (grounding does not apply: values may be computed)."""
        return calls_schema(row.functions)

    def score(self, row: FuncCallRow, output: str, *, lenient_datetime: bool = True) -> dict[str, Any]:
        from maaza.tasks.funccall import metrics

        return metrics.score_output(output, row.ground_truth, row.functions)

    def aggregate(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        from maaza.tasks.funccall import metrics

        return aggregate_by_groups(examples, metrics.summarise, self.group_keys, self.group_order)

    def summary_table(self, results: Mapping[str, Any]) -> str:
        from maaza.tasks.funccall import report

        return report.summary_table(results)

    def card_sections(self, results: Sequence[Mapping[str, Any]]) -> list[str]:
        from maaza.tasks.funccall import report

        return report.card_sections(results)

    def card_tags(self) -> list[str]:
        return ["function-calling", "tool-use", "bfcl"]

    def card_label(self) -> str:
        return "function calling"
