"""EdgeIntent: which of a fixed set of intents a short utterance expresses (BANKING77, CLINC150, your own).

Modules: `rows` (rows and their content-hash ids, label files, prompts, the validation carve-out), `metrics`
(per-row scores, aggregates, the out-of-scope threshold), `report` (summary table, card sections, the
confused-pairs chart). `IntentTask` is the task object; it is a `ClassificationTask` (`labels`, `label_of`),
so `maaza train` can fit a sequence classifier to it as well as a generative model.

Built in: `intent` (BANKING77, 77 intents) and `intent-clinc150` (CLINC150: 150 intents plus the
out-of-scope label `oos`). A labelled JSONL of your own: `IntentTask.from_labels_file("labels.json")`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.paths import data_root
from maaza.tasks.base import TaskData, aggregate_by_groups, stratified_slice
from maaza.tasks.intent import metrics, report
from maaza.tasks.intent.rows import (
    LABELS_FILE,
    PROMPT_FORMATS,
    IntentRow,
    answer_schema,
    carve_validation,
    check_labels,
    labels_difference,
    load_rows,
    prompt_text,
    read_labels,
    row_ids,
    target_text,
    text_id,
)

__all__ = [
    "PROMPT_FORMATS",
    "IntentRow",
    "IntentTask",
    "banking77_task",
    "carve_validation",
    "clinc150_task",
    "plot_confused_pairs",
    "row_ids",
    "text_id",
]

plot_confused_pairs = report.plot_confused_pairs


class IntentTask:
    """Intent classification: rows `{text, label}` of a JSONL; the answer `{"intent": <label>}`.

    `labels` are given, or read on first use from `<data root>/<dataset>/labels.json`. With `oos_label` (the
    label of out-of-scope utterances, e.g. CLINC150's `oos`) rows are grouped by scope, the aggregates add
    in-scope accuracy and OOS recall/precision, and a classifier can be thresholded (`choose_oos_threshold`).
    """

    headline_metric = "top1"
    prompt_formats = PROMPT_FORMATS
    default_prompt_format = "text"  # what a sequence classifier reads; generative models use "instruct"
    resource_names: tuple[str, ...] = ()

    def __init__(
        self,
        name: str = "intent",
        dataset: str | None = "banking77",
        labels: Sequence[str] | None = None,
        oos_label: str | None = None,
    ) -> None:
        self.name = name
        self.dataset = dataset
        self.oos_label = oos_label
        self._labels: tuple[str, ...] | None = None
        self._labels_file: Path | None = None
        if labels is not None:
            self._set_labels(check_labels(list(labels), f"task {name}: labels"), None)
        notes = [
            *([dataset] if dataset else []),
            *([f"out-of-scope label '{oos_label}'"] if oos_label else []),
        ]
        self.description = "the intent of a short utterance, one of a fixed label set" + (
            f" ({', '.join(notes)})" if notes else ""
        )
        self.group_keys: tuple[str, ...] = ("scope",) if oos_label else ("label",)
        self.metric_names: tuple[str, ...] = (
            "top1",
            "top5",
            "macro_f1",
            *(metrics.OOS_METRICS if oos_label else ()),
        )

    @classmethod
    def from_labels_file(
        cls, path: str | Path, *, name: str = "intent-custom", oos_label: str | None = None
    ) -> IntentTask:
        """A task over the labels of a JSON list file (your own labelled JSONL, no data root involved)."""
        task = cls(name=name, dataset=None, oos_label=oos_label)
        file = Path(path)
        task._set_labels(read_labels(file), file)
        return task

    # ----------------------------------------------------------------------------------------- labels

    def _set_labels(self, labels: tuple[str, ...], file: Path | None) -> None:
        if self.oos_label is not None and self.oos_label not in labels:
            where = file if file is not None else f"task {self.name}: labels"
            raise MaazaError(f"{where}: the out-of-scope label '{self.oos_label}' is not one of the labels")
        self._labels, self._labels_file = labels, file

    def labels_path(self) -> Path | None:
        """The labels file the task reads (given, or `<data root>/<dataset>/labels.json`); None without one."""
        if self._labels_file is not None or self._labels is not None:
            return self._labels_file
        root = data_root()
        if root is None or self.dataset is None:
            return None
        return root / self.dataset / LABELS_FILE

    @property
    def labels(self) -> tuple[str, ...]:
        """The intents, in the order of a classifier's outputs (read from labels.json on first use)."""
        if self._labels is None:
            path = self.labels_path()
            if path is None:
                raise MaazaError(
                    f"task {self.name}: no labels: {self.dataset}/{LABELS_FILE} needs a data root "
                    "($MAAZA_DATA_DIR, or ../shared/data beside the checkout)"
                )
            if not path.is_file():
                raise MaazaError(f"task {self.name}: labels file not found: {path}")
            self._set_labels(read_labels(path), path)
        assert self._labels is not None
        return self._labels

    def _labels_source(self) -> str:
        if self._labels_file is None:
            return f"the labels given to task {self.name}"
        return f"{self._labels_file.name} at {self._labels_file}"

    def label_of(self, row: IntentRow) -> str:
        return row.label

    # ------------------------------------------------------------------------------------------- rows

    def default_data(self, split: str = "test") -> TaskData | None:
        """`<data root>/<dataset>/<split>.jsonl` when it exists, else None.

        A dataset that holds no test split answers "test" with its validation file: CLINC150's test split is
        held out, so its `val.jsonl` serves as the test set (carve a validation set out of train with
        `carve_validation`). BANKING77 has train and test, and no validation split.
        """
        root = data_root()
        if root is None or self.dataset is None:
            return None
        folder = root / self.dataset
        path = folder / f"{split}.jsonl"
        if not path.is_file() and split == "test":
            path = folder / "val.jsonl"
        return TaskData(path) if path.is_file() else None

    def load_rows(
        self,
        data: str | Path,
        resources: Mapping[str, str | Path | None] | None = None,
        *,
        limit: int | None = None,
    ) -> list[IntentRow]:
        """Read and check a JSONL of `{text, label}`; `limit` takes a slice stratified by label.

        A `labels.json` beside the JSONL must list the task's labels in the task's order.
        """
        labels = self.labels
        self._check_sibling_labels(Path(data))
        rows = load_rows(data, labels, labels_source=self._labels_source(), oos_label=self.oos_label)
        if limit is not None:
            rows = stratified_slice(rows, limit, "label", labels)
        return rows

    def _check_sibling_labels(self, data: Path) -> None:
        sibling = data.parent / LABELS_FILE
        if not sibling.is_file():
            return
        if self._labels_file is not None and sibling.resolve() == self._labels_file.resolve():
            return
        difference = labels_difference(self.labels, read_labels(sibling))
        if difference:
            raise MaazaError(
                f"{sibling}: the labels beside {data.name} differ from the task's ({self._labels_source()}): "
                f"{difference}"
            )

    def carve_validation(
        self, rows: Sequence[IntentRow], fraction: float = 0.1, seed: int = 0
    ) -> tuple[list[IntentRow], list[IntentRow]]:
        """(train, validation) stratified by label and independent of row order (see `rows.carve_validation`)."""
        return carve_validation(rows, fraction, seed)

    # ------------------------------------------------------------------------------- model input/output

    def prompt(self, row: IntentRow, prompt_format: str, tokenizer: Any = None) -> str:
        """`text`: the utterance itself (a sequence classifier's input); `instruct`: it inside an instruction
        asking for `{"intent": ...}` (a generative model's)."""
        return prompt_text(row.text, prompt_format)

    def target(self, row: IntentRow, *, minify: bool = True) -> str:
        return target_text(row.label, minify=minify)

    def constraint(self, row: IntentRow, *, grounded: bool = False) -> dict[str, Any] | None:
        return answer_schema(self.labels)

    # ------------------------------------------------------------------------------------------ metrics

    def score(self, row: IntentRow, output: str, *, lenient_datetime: bool = True) -> dict[str, Any]:
        """A generative answer: `{"intent": ...}` or a bare label."""
        return metrics.score_output(row, output, self.labels)

    def score_distribution(
        self, row: IntentRow, probs: Sequence[float], threshold: float | None = None
    ) -> dict[str, Any]:
        """A classifier's probabilities over `labels` (in order); with `oos_label` and `threshold`, rows whose
        highest in-scope probability is below it are predicted out-of-scope."""
        return metrics.score_distribution(
            row, probs, self.labels, oos_label=self.oos_label, threshold=threshold
        )

    def aggregate(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        """Overall (with per-class scores and confused pairs) and by `group_keys`."""
        labels, oos = self.labels, self.oos_label
        result = aggregate_by_groups(
            examples,
            lambda members: metrics.summarise(members, labels, oos, overall=False),
            self.group_keys,
            {"scope": ("in", "oos"), "label": labels},
        )
        result["overall"] = metrics.summarise(examples, labels, oos, overall=True)
        return result

    def choose_oos_threshold(self, val_probs: Sequence[Sequence[float]], val_labels: Sequence[str]) -> float:
        """The threshold on the highest in-scope probability that maximises accuracy on validation rows (the
        OOS label counted as a class; ties: the lowest). Validation rows only, never test rows: a threshold
        tuned on the test set makes its score optimistic."""
        if self.oos_label is None:
            raise MaazaError(f"task {self.name} has no out-of-scope label; an OOS threshold needs one")
        return metrics.choose_oos_threshold(val_probs, val_labels, self.labels, self.oos_label)

    # ------------------------------------------------------------------------------------------ reports

    def summary_table(self, results: Mapping[str, Any]) -> str:
        return report.summary_table(results)

    def card_sections(self, results: Sequence[Mapping[str, Any]]) -> list[str]:
        return report.card_sections(results)

    def card_tags(self) -> list[str]:
        return ["intent-classification", "text-classification"]

    def card_label(self) -> str:
        return "intent classification"

    def plot_confused_pairs(self, metrics: Mapping[str, Any], path: str | Path, top: int = 15) -> Path:
        return report.plot_confused_pairs(metrics, path, top)


def banking77_task() -> IntentTask:
    """The built-in `intent` task: BANKING77 (77 banking intents; train and test splits)."""
    return IntentTask(name="intent", dataset="banking77")


def clinc150_task() -> IntentTask:
    """The built-in `intent-clinc150` task: CLINC150 (150 intents + `oos`; train and val, test held out)."""
    return IntentTask(name="intent-clinc150", dataset="clinc150", oos_label="oos")
