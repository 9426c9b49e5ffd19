"""Reading results JSONs for reports: path expansion, validation, one display row per file.

Also the *published* reference figures, kept apart from anything measured here and always labelled as
published: a small table (`PUBLISHED_SETS`) of test sets and the figures quoted for them (the Maaza
MLM-135M-JSON v1 card and the baselines it quotes, on EdgeJSON v3 test; the BANKING77 baselines quoted in
maaza issue #20, on BANKING77 test), and the test-set identity (`EvalData`) that says which scores may be
ranked together.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.io import read_json
from maaza.report.markdown import short_path
from maaza.tasks import get_task

COMPLEXITIES: tuple[str, ...] = tuple(get_task("edgejson").group_order["complexity"])  # type: ignore[attr-defined]
METRIC_KEYS: tuple[str, ...] = (
    "json_exact",
    "field_f1",
    "schema_compliance",
    "leaf_f1",
    "schema_valid",
    "parse_rate",
)
METRIC_NAMES: dict[str, str] = {
    "json_exact": "JSONExact",
    "field_f1": "Field F1",
    "schema_compliance": "Schema compliance",
    "leaf_f1": "Leaf F1",
    "schema_valid": "Schema valid",
    "parse_rate": "Parse rate",
    "top1": "top-1",
    "top5": "top-5",
    "macro_f1": "macro-F1",
    "in_scope_accuracy": "in-scope acc.",
    "oos_recall": "OOS recall",
    "oos_precision": "OOS precision",
    "ast_accuracy": "AST accuracy",
    "parameter_f1": "param F1",
    "spec_valid": "Spec valid",
}
# Shown as percentages (and so is any metric named `*accuracy`, `*recall` or `*precision`, see
# `is_percent`); the F1s are shown as 0..1 fractions, as in the published card.
PERCENT_METRICS = frozenset(
    {
        "json_exact",
        "schema_compliance",
        "schema_valid",
        "parse_rate",
        "top1",
        "top5",
        "in_scope_accuracy",
        "oos_recall",
        "oos_precision",
        "spec_valid",
    }
)
PERCENT_SUFFIXES = ("accuracy", "recall", "precision")
PUBLISHED_CARD = "CycleCore/Maaza-MLM-135M-JSON-v1 model card"
PUBLISHED_URL = "https://huggingface.co/CycleCore/Maaza-MLM-135M-JSON-v1"
# Results written before results JSONs named their task were all EdgeJSON evaluations.
LEGACY_TASK = "edgejson"


@dataclass(frozen=True)
class EvalData:
    """Which rows a score was measured on; scores are comparable only within one `key`.

    The identity is (task, sha256 of the data file, rows evaluated). `rows` is the results' `data.rows`,
    the number of rows the evaluation selected: a `--limit` run keeps a stratified slice whose rows are
    fixed by the file and the limit, so a slice of a file is its own test set (a smaller `config.limit`
    wins when an older file recorded the whole file's count). A partial run keeps the identity of the test
    set it was evaluating (it is flagged partial). Without a recorded sha256 the data path stands in for
    it, which is weaker (the file may have changed): such groups say "no sha256 recorded". `path` is
    otherwise a display name only.
    """

    task: str
    sha256: str | None
    rows: int | None
    path: str | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.task, self.sha256 or f"path:{self.path}", -1 if self.rows is None else self.rows)

    @property
    def short_sha(self) -> str | None:
        return self.sha256[:8] if self.sha256 else None


# The test set of every published figure: EdgeJSON v3 test.jsonl (158 rows), as the published card states.
EDGEJSON_V3_TEST = EvalData(
    task="edgejson",
    sha256="fab63046e8490d31075aa2a8af84c61ccd3d707f756b4c9ed5e2379c10f7dcf5",
    rows=158,
    path="edgejson_v3/test.jsonl",
)


@dataclass
class Entry:
    """One leaderboard/plot row: a measured results file or a published figure."""

    model: str
    variant: str
    prompt_format: str | None
    constrained: bool | None
    params: int | None
    size_bytes: int | None
    overall: dict[str, Any]
    by_complexity: dict[str, dict[str, Any]]
    source: str
    published: bool = False
    fine_tuned: bool = False
    base: str | None = None
    tokens_per_s: float | None = None
    latency_ms_p50: float | None = None  # batch-1 latency (classifiers: timing.latency_ms.p50)
    batched_per_s: float | None = None  # classifiers: inferences/s over all rows, batched
    backend: str | None = None
    precision: str | None = None
    n: int | None = None
    notes: list[str] = field(default_factory=list)
    label: str = ""
    params_text: str | None = None  # published rows: the figure as the source wrote it
    size_text: str | None = None
    eval_data: EvalData | None = None  # what it was measured on (published rows: their set's `data`)

    def __post_init__(self) -> None:
        if not self.label:
            self.label = self.default_label()

    def default_label(self) -> str:
        """Model name + variant + prompt format + constrained flag (or *published*)."""
        if self.published:
            return f"{self.model} (published)"
        parts = [self.model]
        if self.variant:
            parts.append(f"[{self.variant}]")
        if self.prompt_format:
            parts.append(self.prompt_format)
        if self.constrained:
            parts.append("constrained")
        return " ".join(parts)

    def metric(self, key: str, complexity: str | None = None) -> float | None:
        """A metric overall or in one complexity bucket; None when not measured/published."""
        bucket = self.overall if complexity is None else self.by_complexity.get(complexity) or {}
        value = bucket.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _published(
    model: str,
    params: int,
    overall: dict[str, float],
    *,
    by_complexity: dict[str, dict[str, float]] | None = None,
    size_bytes: int | None = None,
    fine_tuned: bool = False,
    base: str,
    notes: list[str] | None = None,
    params_text: str,
    size_text: str | None = None,
) -> Entry:
    return Entry(
        model=model,
        variant="",
        prompt_format="seed",
        constrained=None,
        params=params,
        size_bytes=size_bytes,
        overall=overall,
        by_complexity=by_complexity or {},
        source=PUBLISHED_CARD,
        published=True,
        fine_tuned=fine_tuned,
        base=base,
        n=EDGEJSON_V3_TEST.rows,
        notes=notes or [],
        params_text=params_text,
        size_text=size_text,
        eval_data=EDGEJSON_V3_TEST,
    )


def published_entries() -> list[Entry]:
    """The figures the published Maaza MLM-135M-JSON v1 card reports (EdgeJSON v3 test, 158 rows)."""
    return [
        _published(
            "Maaza MLM-135M-JSON v1",
            135_000_000,
            {"json_exact": 0.247, "field_f1": 0.520, "schema_compliance": 0.411},
            by_complexity={
                "simple": {"json_exact": 0.447, "field_f1": 0.698},
                "medium": {"json_exact": 0.135, "field_f1": 0.456},
                "complex": {"json_exact": 0.0, "field_f1": 0.234},
            },
            size_bytes=270_000_000,
            fine_tuned=True,
            base="SmolLM2-135M",
            params_text="135M",
            size_text="~270 (fp16)",
        ),
        _published(
            "SmolLM2-135M base",
            135_000_000,
            {"json_exact": 0.019, "field_f1": 0.024, "schema_compliance": 0.051},
            base="SmolLM2-135M",
            params_text="135M",
        ),
        _published(
            "Qwen2.5-0.5B",
            500_000_000,
            {"json_exact": 0.146, "field_f1": 0.195, "schema_compliance": 0.190},
            base="Qwen2.5-0.5B",
            params_text="0.5B",
            notes=["params nominal (from the model name)"],
        ),
    ]


# BANKING77 test.jsonl (3080 rows) under the data root, as `maaza eval --task intent` hashes it.
BANKING77_TEST = EvalData(
    task="intent",
    sha256="649607fa7b124293c80b455d2effe5e41da713e1836ee936073fe34ab9dc6fba",
    rows=3080,
    path="banking77/test.jsonl",
)
BANKING77_LEAD = "figures quoted in maaza issue #20 (EdgeIntent)"
BANKING77_SOURCE = f"{BANKING77_LEAD}, not measured here"  # every BANKING77 published row's `source`


def banking77_published_entries() -> list[Entry]:
    """Fine-tuned encoder baselines on BANKING77 test (top-1 only), as quoted in maaza issue #20."""
    return [
        Entry(
            model=model,
            variant="",
            prompt_format=None,
            constrained=None,
            params=params,
            size_bytes=None,
            overall={"top1": top1},
            by_complexity={},
            source=BANKING77_SOURCE,
            published=True,
            n=BANKING77_TEST.rows,
            params_text=params_text,
            eval_data=BANKING77_TEST,
        )
        for model, params, params_text, top1 in (
            ("BERT-base", 110_000_000, "110M", 0.931),
            ("DistilBERT", 66_000_000, "66M", 0.925),
            ("ModernBERT-base", 149_000_000, "149M", 0.940),
        )
    ]


@dataclass(frozen=True)
class PublishedSet:
    """Figures published for one test set: shown only beside results of its task (see `published_for`)."""

    data: EvalData  # the test set every figure was measured on
    entries: Callable[[], list[Entry]]  # the rows, each with `eval_data=data` and `published=True`
    lead: str  # "figures from <where>", as markdown: a page says "rows marked *published* are <lead>, not
    # measured here"
    lead_text: str  # the same without markup
    url: str | None = None

    def holds(self, entry: Entry) -> bool:
        return entry.published and entry.eval_data is not None and entry.eval_data.key == self.data.key


PUBLISHED_SETS: tuple[PublishedSet, ...] = (
    PublishedSet(
        EDGEJSON_V3_TEST,
        published_entries,
        lead=f"figures from the [Maaza MLM-135M-JSON v1 card]({PUBLISHED_URL})",
        lead_text="figures published in the Maaza MLM-135M-JSON v1 card",
        url=PUBLISHED_URL,
    ),
    PublishedSet(
        BANKING77_TEST,
        banking77_published_entries,
        lead=BANKING77_LEAD,
        lead_text=BANKING77_LEAD,
    ),
)


def published_for(tasks: set[str] | None = None) -> list[Entry]:
    """The published rows of every set whose task is among `tasks` (None: all sets).

    A set's rows join the group measured on its test set; with results of its task on other rows only they
    stand apart as their own group; with no result of its task they are left out (BANKING77 figures have
    nothing to say beside EdgeJSON results, and the other way round).
    """
    return [
        entry
        for published in PUBLISHED_SETS
        if tasks is None or published.data.task in tasks
        for entry in published.entries()
    ]


# ------------------------------------------------------------------------------------------- loading


def is_results(data: Any) -> bool:
    """Whether a parsed JSON document looks like a `maaza eval` results file."""
    return isinstance(data, dict) and isinstance(data.get("model"), dict) and "metrics" in data


def load_results(path: str | Path) -> dict[str, Any]:
    """A results JSON, or a MaazaError saying why the file is not one."""
    data = read_json(path, what="results file")
    if not is_results(data):
        raise MaazaError(
            f"{path}: not a maaza results JSON (no 'model' / 'metrics'); write one with maaza eval"
        )
    return data


def _has_glob(text: str) -> bool:
    return any(char in text for char in "*?[")


def expand_paths(args: list[str]) -> list[tuple[Path, bool]]:
    """Files named by the arguments (files, folders searched recursively for *.json, glob patterns).

    Returns (path, explicit): explicit files must be results JSONs; files found through a folder or a
    pattern may be something else (a training summary, sizes.json) and are then skipped.
    """
    found: list[tuple[Path, bool]] = []
    seen: set[Path] = set()

    def add(path: Path, explicit: bool) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append((path, explicit))

    for arg in args:
        path = Path(arg)
        if path.is_dir():
            for child in sorted(path.rglob("*.json")):
                if child.is_file():
                    add(child, False)
        elif path.is_file():
            add(path, True)
        elif _has_glob(arg):
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True))
            files = [m for m in matches if m.is_file() and m.suffix == ".json"]
            folders = [m for m in matches if m.is_dir()]
            for folder in folders:
                files.extend(sorted(c for c in folder.rglob("*.json") if c.is_file()))
            if not files:
                raise MaazaError(f"'{arg}' matches no .json files")
            for match in files:
                add(match, False)
        else:
            raise MaazaError(f"results file not found: {arg}")
    return found


def collect_results(
    args: list[str], *, include_partial: bool = False
) -> tuple[list[tuple[Path, dict[str, Any]]], list[tuple[Path, str]]]:
    """Load the results files the arguments name; returns (loaded, skipped with a reason each)."""
    loaded: list[tuple[Path, dict[str, Any]]] = []
    skipped: list[tuple[Path, str]] = []
    for path, explicit in expand_paths(args):
        if explicit:
            data = load_results(path)
        else:
            try:
                data = read_json(path, what="JSON file")
            except MaazaError as exc:
                skipped.append((path, str(exc)))
                continue
            if not is_results(data):
                skipped.append((path, "not a results JSON"))
                continue
        status = data.get("status", "complete")
        if status != "complete" and not include_partial:
            done = (data.get("metrics") or {}).get("overall", {}).get("n")
            rows = (data.get("data") or {}).get("rows")
            detail = f" ({done}/{rows} rows)" if done is not None and rows is not None else ""
            skipped.append((path, f"status '{status}'{detail}; pass --include-partial to show it"))
            continue
        if not (data.get("metrics") or {}).get("overall", {}).get("n"):
            skipped.append((path, "no scored rows"))
            continue
        loaded.append((path, data))
    return loaded, skipped


# ------------------------------------------------------------------------------------------ describing


def adapter_label(adapter: str | None) -> str:
    """A short name for an adapter path: `run/adapter` for `.../run/adapter`."""
    if not adapter:
        return ""
    path = Path(adapter)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def eval_data_of(results: dict[str, Any]) -> EvalData:
    """The test-set identity of a results JSON (see `EvalData`)."""
    data = results.get("data") or {}
    rows = data.get("rows")
    if not isinstance(rows, int) or isinstance(rows, bool):
        rows = ((results.get("metrics") or {}).get("overall") or {}).get("n")
        rows = rows if isinstance(rows, int) and not isinstance(rows, bool) else None
    limit = (results.get("config") or {}).get("limit")
    if (
        isinstance(limit, int)
        and not isinstance(limit, bool)
        and limit > 0
        and (rows is None or limit < rows)
    ):
        rows = limit
    sha = data.get("sha256")
    path = data.get("path")
    return EvalData(
        task=str(results.get("task") or LEGACY_TASK),
        sha256=str(sha) if sha else None,
        rows=rows,
        path=str(path) if path else None,
    )


def is_classifier_results(results: dict[str, Any]) -> bool:
    """Results of a classifier (`maaza.eval.classifier.evaluate_probabilities`): label probabilities, no
    decoding, so batch-1 latency in ms and batched inferences/s instead of tokens/s."""
    timing = results.get("timing") or {}
    return timing.get("tokens_per_s") is None and ("batched_per_s" in timing or "latency_ms" in timing)


def describe_variant(results: dict[str, Any]) -> str:
    """How a results file was run: `[variant, ]PROMPT prompt, constrained|unconstrained` (a generative
    model's decoding), or `[variant, ]BACKEND PRECISION[, OOS threshold T]` (a classifier's)."""
    config = results.get("config") or {}
    if is_classifier_results(results):
        model = results.get("model") or {}
        runtime = " ".join(str(model[k]) for k in ("backend", "precision") if model.get(k)) or "classifier"
        parts = [runtime]
        if config.get("threshold") is not None:
            parts.append(f"OOS threshold {config['threshold']}")
        if config.get("variant"):
            parts.insert(0, str(config["variant"]))
        return ", ".join(parts)
    parts = [
        f"{config.get('prompt_format')} prompt",
        "constrained" if config.get("constrained") else "unconstrained",
    ]
    if config.get("variant"):
        parts.insert(0, str(config["variant"]))
    return ", ".join(parts)


def dataset_label(results: Mapping[str, Any]) -> str:
    """The test set a results file measured: `edgejson_v3/test.jsonl (158 rows)`."""
    data = results.get("data") or {}
    path = data.get("path")
    name = short_path(path) if path else results.get("task", "?")
    return f"{name} ({data.get('rows', '?')} rows)"


def describe_run(results: Mapping[str, Any], among: Sequence[Mapping[str, Any]] = ()) -> str:
    """`describe_variant`, plus the test set when `among` (the results shown together) spans several sets:
    a card reporting a model on two test sets must say which row is which."""
    variant = describe_variant(dict(results))
    paths = {(r.get("data") or {}).get("path") for r in among}
    return f"{variant}, on {dataset_label(results)}" if len(paths) > 1 else variant


def is_fine_tuned(model: dict[str, Any]) -> bool:
    """An adapter on top, or a model folder whose name differs from its base (a merged run)."""
    if model.get("adapter"):
        return True
    name, base = model.get("name"), model.get("base")
    return bool(name and base and name != base)


def disk_bytes(model: dict[str, Any]) -> int | None:
    """Bytes on disk of what was evaluated: weight files plus the adapter's, when measured."""
    weights = model.get("file_size_bytes")
    if not isinstance(weights, int):
        return None
    adapter = model.get("adapter_size_bytes")
    return weights + (adapter if isinstance(adapter, int) else 0)


def entry_from_results(path: Path, results: dict[str, Any]) -> Entry:
    """The display row for one results file (every number read from it)."""
    model = results.get("model") or {}
    config = results.get("config") or {}
    metrics = results.get("metrics") or {}
    overall = metrics.get("overall") or {}
    variant = str(config.get("variant") or adapter_label(model.get("adapter")))
    timing = results.get("timing") or {}
    notes = []
    if results.get("status", "complete") != "complete":
        notes.append(f"partial: {overall.get('n')}/{(results.get('data') or {}).get('rows')} rows")
    label = ""
    if is_classifier_results(results):  # no decoding to tell runs apart: name the runtime instead
        label = " ".join(
            [str(model.get("name") or "?")]
            + ([f"[{variant}]"] if variant else [])
            + [str(model[k]) for k in ("backend", "precision") if model.get(k)]
        )
    return Entry(
        model=str(model.get("name") or "?"),
        variant=variant,
        prompt_format=config.get("prompt_format"),
        constrained=bool(config.get("constrained")),
        params=model.get("params") if isinstance(model.get("params"), int) else None,
        size_bytes=disk_bytes(model),
        overall=overall,
        by_complexity=metrics.get("by_complexity") or {},
        source=str(path),
        fine_tuned=is_fine_tuned(model),
        base=model.get("base"),
        tokens_per_s=timing.get("tokens_per_s"),
        latency_ms_p50=latency_ms_p50(timing),
        batched_per_s=_number(timing.get("batched_per_s")),
        backend=model.get("backend"),
        precision=model.get("precision"),
        n=overall.get("n"),
        notes=notes,
        label=label,
        eval_data=eval_data_of(results),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def latency_ms_p50(timing: dict[str, Any]) -> float | None:
    """Median latency in ms: a classifier's batch-1 `latency_ms.p50`, else a generative run's `latency_s.p50`."""
    p50 = _number((timing.get("latency_ms") or {}).get("p50"))
    if p50 is None:
        seconds = _number((timing.get("latency_s") or {}).get("p50"))
        p50 = None if seconds is None else 1000 * seconds
    return p50


def unique_labels(entries: list[Entry]) -> None:
    """Make labels unique in place by appending the source file's stem where two rows collide."""
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.label] = counts.get(entry.label, 0) + 1
    for entry in entries:
        if counts[entry.label] > 1 and not entry.published:
            entry.label = f"{entry.label} ({Path(entry.source).stem})"


# ------------------------------------------------------------------------------------------ formatting


def is_percent(key: str) -> bool:
    """Whether a metric is a rate shown as a percentage (F1s and other scores: 0..1 with 3 decimals)."""
    return key in PERCENT_METRICS or key.endswith(PERCENT_SUFFIXES)


def fmt_metric(key: str, value: Any, *, digits: int = 1) -> str:
    """Percent for rates, 3 decimals for F1s, '-' for missing."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    if is_percent(key):
        return f"{100 * value:.{digits}f}%"
    return f"{value:.3f}"


def fmt_params(params: int | None) -> str:
    if not params:
        return "-"
    return f"{params / 1e9:.2f}B" if params >= 1e9 else f"{params / 1e6:.1f}M"


def fmt_mb(size: int | None, *, approx: bool = False) -> str:
    if not size:
        return "-"
    return f"{'~' if approx else ''}{size / 1e6:.1f}"


# What the published card says about training and speed (strings as written there, for side-by-side tables).
PUBLISHED_TRAINING: dict[str, str] = {
    "base": "SmolLM2-135M (HuggingFaceTB)",
    "method": "LoRA r=16, alpha=32, dropout 0.1, q/k/v/o/gate/up/down projections",
    "data": "EdgeJSON v3: 629 train / 158 test examples, 24 schemas",
    "hyperparameters": "lr 2e-4, 3 epochs, effective batch 32, cosine with 10% warmup, BF16",
    "train_time": "48.7 s on an NVIDIA RTX 4080 SUPER (16GB)",
    "final_train_loss": "1.449",
    "speed": "18.5 tokens/s (CPU)",
    "size": "~270MB (FP16), ~70MB (Q4 quantized)",
}
