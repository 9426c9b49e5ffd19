"""`maaza leaderboard RESULTS... --out DIR`: markdown tables, self-contained HTML page and PNG plots.

One row per results JSON (model + adapter/variant + prompt format + constrained flag), grouped by test
set: scores measured on different rows are not comparable, so each group (`Group`: task + data file
sha256 + rows evaluated, see `maaza.report.results.EvalData`) is its own ranked table, ranked by its
task's headline metric. The published figures (`maaza.report.results.PUBLISHED_SETS`: the Maaza card's on
EdgeJSON v3 test, the BANKING77 baselines on BANKING77 test), marked *published*, sit only in the group
measured on their test set; when results of their task were measured on other rows only, they form a group
of their own, ranked against nothing else (with no result of their task, they are left out).

A group's columns and plots come from its task (`Layout`, `layout_for`): a task with complexity buckets
(EdgeJSON) gets the generative JSON table (`COLUMNS`: JSONExact, Field F1, ..., per-complexity JSONExact,
tokens/s) and four plots; any other task gets model, kind, source, params, prompt, rows, its
`metric_names`, then p50 ms, inf/s, precision and size, and the plots that apply to it (performance vs
parameters and vs disk size; fine-tuned vs base only when a base model has both rows).

Writes `leaderboard.md`, `leaderboard.json`, `index.html` (inline CSS and a small click-to-sort script,
plots embedded, no external assets) and the plots of each measured group: the main group (the first: most
results) under the `PLOTS` names, the others with a suffix naming their test set
(`perf_vs_params.edgejson-1a2b3c4d-24rows.png`).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from maaza.report.markdown import short_path
from maaza.report.results import (
    COMPLEXITIES,
    EDGEJSON_V3_TEST,
    METRIC_NAMES,
    PUBLISHED_SETS,
    Entry,
    EvalData,
    PublishedSet,
    collect_results,
    entry_from_results,
    fmt_mb,
    fmt_metric,
    fmt_params,
    is_percent,
    published_for,
    unique_labels,
)
from maaza.tasks import get_task, task_names

PLOTS: dict[str, str] = {
    "perf_vs_params.png": "Performance vs parameters",
    "perf_by_complexity.png": "Performance by complexity",
    "size_vs_perf.png": "Disk size vs performance",
    "finetuned_vs_base.png": "Fine-tuned vs base",
}
MAX_BARS = 10
COLORS = {"fine-tuned": "#1f77b4", "base": "#ff7f0e", "published": "#7f7f7f"}


# ----------------------------------------------------------------------------------------------- rows


DEFAULT_METRIC = "json_exact"  # ranks a group whose task is not registered here, when its rows have it


def _sort_key(entry: Entry, metric: str = DEFAULT_METRIC) -> tuple[float, str]:
    value = entry.metric(metric)
    return (-(value if value is not None else -1.0), entry.label)


@dataclass
class Group:
    """The rows measured on one test set, best headline metric first (published rows: only their own set)."""

    data: EvalData  # the identity; `data.path` is the display name
    entries: list[Entry]
    metric: str  # what the group is ranked by: its task's headline metric
    notes: list[str] = field(default_factory=list)
    published_only: bool = False  # the published figures alone: no results here were measured on their set
    suffix: str = ""  # plot file names: "" for the main group, else ".<task>-<sha8>-<rows>rows"
    layout: Layout | None = None  # columns and plots (None: `layout_for` the group's task and rows)

    def __post_init__(self) -> None:
        if self.layout is None:
            self.layout = layout_for(self.data.task, self.metric, self.entries)

    @property
    def measured(self) -> list[Entry]:
        return [e for e in self.entries if not e.published]

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        assert self.layout is not None
        return self.layout.columns

    @property
    def plots(self) -> dict[str, str]:
        """Plot file name -> title, for a group that has plots (measured groups)."""
        if self.published_only:
            return {}
        assert self.layout is not None
        return {_suffixed(name, self.suffix): PLOTS[name] for name in self.layout.plots}

    def heading(self) -> str:
        """`task: file (sha256 1a2b3c4d, 158 rows)`."""
        data = self.data
        name = short_path(data.path) if data.path else "?"
        sha = f"sha256 {data.short_sha}" if data.short_sha else "no sha256 recorded"
        rows = "? rows" if data.rows is None else f"{data.rows} rows"
        text = f"{data.task}: {name} ({sha}, {rows})"
        return f"Published figures: {text}" if self.published_only else text


def _suffixed(name: str, suffix: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}{suffix}{dot}{ext}" if suffix else name


def _slug(data: EvalData) -> str:
    """A file-name-safe name of a test set: `edgejson-fab63046-158rows` (path digest without a sha256)."""
    ident = data.short_sha or "path" + hashlib.sha256(str(data.path).encode()).hexdigest()[:8]
    rows = "unknown" if data.rows is None else str(data.rows)
    return re.sub(r"[^A-Za-z0-9_-]+", "_", f"{data.task}-{ident}-{rows}rows")


def _task(name: str) -> Any:
    """The registered task object, or None when this install does not have it."""
    try:
        return get_task(name, key="results task")
    except MaazaError:
        return None


def _ranking(task: str, entries: list[Entry]) -> tuple[str, list[str]]:
    """The metric to rank `task`'s rows by, and a note when the task is not registered here."""
    try:
        return get_task(task, key="results task").headline_metric, []
    except MaazaError:  # an old results file's task that this install does not have
        present = sorted({key for e in entries for key in e.overall if e.metric(key) is not None} - {"n"})
        metric = DEFAULT_METRIC if DEFAULT_METRIC in present or not present else present[0]
        return metric, [
            f"task '{task}' is not registered in this maaza (registered: {', '.join(task_names())}), so its "
            f"headline metric is unknown: ranked by {metric}"
        ]


def _display_path(entries: list[Entry], fallback: str | None) -> str | None:
    """The group's file name: the most common short path among its rows (ties: alphabetical)."""
    counts = Counter(short_path(e.eval_data.path) for e in entries if e.eval_data and e.eval_data.path)
    if not counts:
        return fallback
    return min(counts, key=lambda name: (-counts[name], name))


def group_entries(entries: list[Entry]) -> list[Group]:
    """Groups of comparable rows (same task, data sha256 and rows evaluated), in a deterministic order.

    Measured groups come first, most results first (then the one with the published figures, the larger
    test set, the task name, the identity); the main group is the first. Published rows join the group
    measured on their set (`PUBLISHED_SETS`); without one they form the last groups (one per set), marked
    `published_only`.
    """
    measured: dict[tuple[str, str, int], list[Entry]] = {}
    identity: dict[tuple[str, str, int], EvalData] = {}
    published: list[Entry] = []
    for entry in entries:
        if entry.published:
            published.append(entry)
            continue
        data = entry.eval_data or EvalData(task="?", sha256=None, rows=entry.n)
        measured.setdefault(data.key, []).append(entry)
        identity.setdefault(data.key, data)
    published_paths = {s.data.key: s.data.path for s in PUBLISHED_SETS}
    groups: list[Group] = []
    for key, members in measured.items():
        data = identity[key]
        joined = [e for e in published if (e.eval_data or EDGEJSON_V3_TEST).key == key]
        metric, notes = _ranking(data.task, members)
        path = published_paths[key] if key in published_paths else _display_path(members, data.path)
        groups.append(
            Group(EvalData(data.task, data.sha256, data.rows, path), members + joined, metric, notes)
        )
    groups.sort(
        key=lambda g: (
            -len(g.measured),
            len(g.measured) == len(g.entries),  # with published figures first
            -(g.data.rows or 0),
            g.data.task,
            str(g.data.key),
        )
    )
    placed = {id(e) for g in groups for e in g.entries}
    leftover: dict[tuple[str, str, int], list[Entry]] = {}
    for entry in published:
        if id(entry) not in placed:
            leftover.setdefault((entry.eval_data or EDGEJSON_V3_TEST).key, []).append(entry)
    for rows in leftover.values():
        data = rows[0].eval_data or EDGEJSON_V3_TEST
        metric, notes = _ranking(data.task, rows)
        notes.insert(
            0,
            "no results given here were measured on this test set, so these published figures stand apart "
            "and are not ranked against any measured row",
        )
        groups.append(Group(data, rows, metric, notes, published_only=True))
    seen: set[str] = set()
    for index, group in enumerate(groups):
        group.entries.sort(key=lambda e, metric=group.metric: _sort_key(e, metric))
        if index and not group.published_only:
            suffix = "." + _slug(group.data)
            while suffix in seen:  # two identities with one slug (never in practice): keep names unique
                suffix += "_"
            seen.add(suffix)
            group.suffix = suffix
    return groups


def build_entries(
    args: list[str], *, include_partial: bool = False, published: bool = True
) -> tuple[list[Entry], list[tuple[Path, str]]]:
    """Entries for the results named by `args` (plus the published rows of their tasks), group by group,
    best first.

    The flat list is for callers that count rows; rankings are per group: `group_entries(entries)`.
    """
    loaded, skipped = collect_results(args, include_partial=include_partial)
    entries = [entry_from_results(path, data) for path, data in loaded]
    unique_labels(entries)
    if published:
        entries += published_for({e.eval_data.task for e in entries if e.eval_data is not None})
    return [e for g in group_entries(entries) for e in g.entries], skipped


def _kind(entry: Entry) -> str:
    return "published" if entry.published else "fine-tuned" if entry.fine_tuned else "base"


def _source(entry: Entry) -> str:
    return "published" if entry.published else Path(entry.source).name


# The table of a task with complexity buckets (EdgeJSON): a generative JSON extractor's scores and speed.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("label", "model"),
    ("kind", "kind"),
    ("source", "source"),
    ("params", "params"),
    ("prompt_format", "prompt"),
    ("constrained", "constrained"),
    ("n", "rows"),
    ("json_exact", "JSONExact"),
    ("field_f1", "Field F1"),
    ("schema_compliance", "compliance"),
    ("leaf_f1", "leaf F1"),
    ("schema_valid", "schema valid"),
    ("simple", "simple JSONExact"),
    ("medium", "medium JSONExact"),
    ("complex", "complex JSONExact"),
    ("tokens_per_s", "tokens/s"),
    ("size", "size (MB)"),
)
# The columns of any other task: who and what ran, then the task's metrics (`metric_names`), then these.
IDENTITY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("label", "model"),
    ("kind", "kind"),
    ("source", "source"),
    ("params", "params"),
    ("prompt_format", "prompt"),
    ("n", "rows"),
)
SPEED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("latency_ms_p50", "p50 ms"),
    ("batched_per_s", "inf/s"),
)
TOKENS_COLUMN = ("tokens_per_s", "tokens/s")  # added when a row of the group decoded text
PRECISION_COLUMN = ("precision", "precision")  # added when a measured row records model.precision
SIZE_COLUMN = ("size", "size (MB)")
TEXT = frozenset({"label", "kind", "source", "prompt_format", "constrained", "precision"})
CELL_KEYS = frozenset(
    {"label", "kind", "source", "params", "prompt_format", "constrained", "n", "size", "precision"}
    | {key for key, _ in SPEED_COLUMNS}
    | {TOKENS_COLUMN[0]}
    | set(COMPLEXITIES)
)


@dataclass(frozen=True)
class Layout:
    """What a group shows: its table's columns (key, title), its plots (`PLOTS` names) and the metric drawn
    beside the headline one."""

    columns: tuple[tuple[str, str], ...]
    plots: tuple[str, ...]
    second: str

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric columns (overall metrics of the rows)."""
        return tuple(key for key, _ in self.columns if key not in CELL_KEYS)


def columns(metric: str = DEFAULT_METRIC) -> tuple[tuple[str, str], ...]:
    """The complexity-bucket (EdgeJSON) table's columns; a headline metric that is not among them gets its
    own, after `rows`."""
    if any(key == metric for key, _ in COLUMNS):
        return COLUMNS
    index = [key for key, _ in COLUMNS].index("n") + 1
    return (*COLUMNS[:index], (metric, METRIC_NAMES.get(metric, metric)), *COLUMNS[index:])


def task_columns(
    metric: str, metric_names: Sequence[str], entries: Sequence[Entry] = ()
) -> tuple[tuple[str, str], ...]:
    """A task's table without complexity buckets: identity, the task's metrics (headline first when the task
    does not list it), [tokens/s,] p50 ms, inf/s, [precision,] size."""
    metrics = list(metric_names)
    if metric not in metrics:
        metrics.insert(0, metric)
    tail: list[tuple[str, str]] = []
    if any(e.tokens_per_s is not None for e in entries):
        tail.append(TOKENS_COLUMN)
    tail += SPEED_COLUMNS
    if any(e.precision for e in entries if not e.published):
        tail.append(PRECISION_COLUMN)
    tail.append(SIZE_COLUMN)
    return (
        *IDENTITY_COLUMNS,
        *((key, METRIC_NAMES.get(key, key)) for key in metrics),
        *tail,
    )


def _second(metric: str, metrics: Sequence[str] = ("field_f1", DEFAULT_METRIC)) -> str:
    """The metric plotted beside the headline one: the first F1 among `metrics` other than it, else the
    first other one (EdgeJSON: Field F1, or JSONExact beside Field F1)."""
    others = [key for key in metrics if key != metric]
    f1s = [key for key in others if key.endswith("f1")]
    return (f1s or others or [metric])[0]


def _has_complexity(task: Any, entries: Sequence[Entry]) -> bool:
    """Whether the rows break down by complexity (EdgeJSON): the task's groups say so; an unregistered
    task's rows do when they hold per-complexity or JSONExact scores (old results files)."""
    if task is not None:
        return "complexity" in tuple(getattr(task, "group_keys", ()) or ())
    return any(e.by_complexity or e.metric(DEFAULT_METRIC) is not None for e in entries) or not entries


def layout_for(task_name: str, metric: str, entries: Sequence[Entry] = ()) -> Layout:
    """The columns and plots of a group of `task_name` ranked by `metric` (see the module doc)."""
    task = _task(task_name)
    if _has_complexity(task, entries):
        return Layout(columns(metric), tuple(PLOTS), _second(metric))
    if task is not None:
        names: Sequence[str] = tuple(task.metric_names)
    else:  # not registered here: the overall metrics its rows hold
        names = sorted(
            {k for e in entries for k in e.overall if e.metric(k) is not None and k != "n"} - {metric}
        )
    cols = task_columns(metric, names, entries)
    metrics = [key for key, _ in cols if key not in CELL_KEYS]
    plots = ["perf_vs_params.png", "size_vs_perf.png"]
    if finetune_pairs(list(entries), metric):
        plots.append("finetuned_vs_base.png")
    return Layout(cols, tuple(plots), _second(metric, metrics))


def _numeric(key: str) -> bool:
    return key not in TEXT  # every other column is a number (params, rows, a metric, speed, size)


def _fmt_number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def cells(
    entry: Entry, metric: str = DEFAULT_METRIC, metrics: Sequence[str] = ()
) -> dict[str, tuple[str, Any]]:
    """Per column of `columns(metric)` (and the metric columns `metrics` of another layout): (display text,
    raw sort value or None)."""
    out: dict[str, tuple[str, Any]] = {
        "label": (entry.label, entry.label),
        "kind": (_kind(entry), _kind(entry)),
        "source": (_source(entry), _source(entry)),
        "params": (entry.params_text or fmt_params(entry.params), entry.params),
        "prompt_format": (entry.prompt_format or "-", entry.prompt_format or ""),
        "constrained": (
            "-" if entry.constrained is None else "yes" if entry.constrained else "no",
            "" if entry.constrained is None else str(entry.constrained),
        ),
        "n": (str(entry.n) if entry.n is not None else "-", entry.n),
        "tokens_per_s": (
            "-" if entry.tokens_per_s is None else f"{entry.tokens_per_s:.1f}",
            entry.tokens_per_s,
        ),
        "latency_ms_p50": (_fmt_number(entry.latency_ms_p50, 2), entry.latency_ms_p50),
        "batched_per_s": (_fmt_number(entry.batched_per_s, 1), entry.batched_per_s),
        "precision": (
            "-" if entry.published or not entry.precision else entry.precision,
            "" if entry.published or not entry.precision else entry.precision,
        ),
        "size": (
            entry.size_text or fmt_mb(entry.size_bytes),
            entry.size_bytes / 1e6 if entry.size_bytes else None,
        ),
    }
    for key in ("json_exact", "field_f1", "schema_compliance", "leaf_f1", "schema_valid"):
        value = entry.metric(key)
        out[key] = (fmt_metric(key, value), value)
    for complexity in COMPLEXITIES:
        value = entry.metric("json_exact", complexity)
        out[complexity] = (fmt_metric("json_exact", value), value)
    for key in (metric, *metrics):
        if key not in out:
            value = entry.metric(key)
            out[key] = (fmt_metric(key, value), value)
    return out


# ------------------------------------------------------------------------------------------ markdown


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _title(groups: list[Group]) -> str:
    tasks = sorted({g.data.task for g in groups})
    return f"Leaderboard: {', '.join(tasks)}" if tasks else "Leaderboard"


def _ranked_by(group: Group) -> str:
    name = METRIC_NAMES.get(group.metric, group.metric)
    return f"Ranked by {name}" + (f" (`{group.metric}`)" if name != group.metric else "")


def _published_sets(groups: list[Group]) -> list[PublishedSet]:
    """The published sets a page cites: those with rows in it, else (none shown, e.g. --no-published) those of
    its tasks."""
    shown = [s for s in PUBLISHED_SETS if any(s.holds(e) for g in groups for e in g.entries)]
    tasks = {g.data.task for g in groups}
    return shown or [s for s in PUBLISHED_SETS if s.data.task in tasks]


def _set_md(published: PublishedSet) -> str:
    data = published.data
    return f"{data.task} `{data.path}`, sha256 {data.short_sha}, {data.rows} rows"


def _published_md(groups: list[Group]) -> str:
    sets = _published_sets(groups)
    if not sets:
        return "."
    if len(sets) == 1:
        return (
            f"; rows marked *published* are {sets[0].lead}, not measured here, and appear only beside results "
            f"measured on their test set ({_set_md(sets[0])})."
        )
    leads = "; ".join(f"{s.lead} ({_set_md(s)})" for s in sets)
    return (
        "; rows marked *published* are not measured here, and each appears only beside results measured on "
        f"its test set: {leads}."
    )


def markdown_table(groups: list[Group], skipped: list[tuple[Path, str]]) -> str:
    """`leaderboard.md`: one ranked table per test set, where the published figures come from, skipped files."""
    lines = [
        f"# {_md(_title(groups))}",
        "",
        "One section per test set (task, data file sha256, rows evaluated): scores measured on different rows "
        "are not comparable, so they are never ranked together. Measured rows are read from results JSONs "
        "(`maaza eval`)" + _published_md(groups),
    ]
    for group in groups:
        cols = group.columns
        metrics = group.layout.metrics if group.layout else ()
        lines += ["", f"## {_md(group.heading())}", ""]
        intro = _ranked_by(group) + "."
        if group.plots:
            intro += " Plots: " + ", ".join(f"[{title}]({name})" for name, title in group.plots.items()) + "."
        lines += [intro, ""]
        lines += [f"- {_md(note)}" for note in group.notes] + ([""] if group.notes else [])
        lines += [
            "| # | " + " | ".join(title for _, title in cols) + " |",
            "|---:|" + "|".join("---:" if _numeric(key) else "---" for key, _ in cols) + "|",
        ]
        for rank, entry in enumerate(group.entries, start=1):
            row = cells(entry, group.metric, metrics)
            texts = [_md(row[key][0]) for key, _ in cols]
            if entry.published:
                texts[0] = f"*{texts[0]}*"
                texts[2] = "*published*"
            lines.append(f"| {rank} | " + " | ".join(texts) + " |")
        notes = [(e.label, note) for e in group.entries for note in e.notes]
        if notes:
            lines += ["", "Notes:", ""] + [f"- {_md(label)}: {_md(note)}" for label, note in notes]
    if skipped:
        lines += ["", "Skipped:", ""] + [f"- `{_md(str(path))}`: {_md(reason)}" for path, reason in skipped]
    lines += ["", "Size: weights on disk as evaluated (plus the adapter); MB = 10^6 bytes."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:1.5em;margin:0 0 4px}p.lead{color:#57606a;margin:0 0 16px}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:12px;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:4px 6px;text-align:left;white-space:nowrap}
th{background:#f6f8fa;cursor:pointer;user-select:none;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num,th.num{text-align:right}tr.published td{color:#57606a;font-style:italic}
tr.fine-tuned td:first-child{border-left:3px solid #1f77b4}tr.base td:first-child{border-left:3px solid #ff7f0e}
tr.published td:first-child{border-left:3px solid #7f7f7f}tbody tr:hover{background:#f3f8ff}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px;margin-top:24px}
figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:8px}figure img{width:100%;height:auto}
figcaption{font-size:13px;color:#57606a;margin-top:4px}ul.small{font-size:13px;color:#57606a}
h2{font-size:1.15em;margin:28px 0 4px}section.group{margin-bottom:8px}
"""

SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, index) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var numeric = th.classList.contains("num");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[index].getAttribute("data-value"), y = b.cells[index].getAttribute("data-value");
        if (numeric) {
          x = x === "" ? NaN : parseFloat(x); y = y === "" ? NaN : parseFloat(y);
          if (isNaN(x)) { return isNaN(y) ? 0 : 1; }
          if (isNaN(y)) { return -1; }
          return asc ? x - y : y - x;
        }
        return asc ? x.localeCompare(y) : y.localeCompare(x);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  // index.html#sort=KEY (ascending) or #sort=-KEY (descending) opens the page sorted by that column.
  var match = /^#sort=(-?)([a-z0-9_]+)$/.exec(location.hash);
  if (match) {
    var th = table.tHead.querySelector('th[data-key="' + match[2] + '"]');
    if (th) { th.click(); if (match[1]) { th.click(); } }
  }
});
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _html_table(group: Group, table_id: str) -> str:
    cols = group.columns
    metrics = group.layout.metrics if group.layout else ()
    head = "".join(
        f'<th class="{"num" if _numeric(key) else "text"}" data-key="{key}" scope="col">{_e(title)}</th>'
        for key, title in cols
    )
    body_rows = []
    for entry in group.entries:
        row = cells(entry, group.metric, metrics)
        tds = []
        for key, _ in cols:
            text, raw = row[key]
            value = "" if raw is None else str(raw)
            css = ' class="num"' if _numeric(key) else ""
            tds.append(f'<td{css} data-value="{_e(value)}">{_e(text)}</td>')
        body_rows.append(f'<tr class="{_e(_kind(entry))}">' + "".join(tds) + "</tr>")
    return (
        f'<div class="scroll"><table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body_rows)}</tbody></table></div>"
    )


def _published_html(groups: list[Group]) -> str:
    sets = _published_sets(groups)
    if not sets:
        return "."
    leads = " and ".join(_e(s.lead_text) for s in sets)
    return f"; grey italic rows are {leads}, not measured here, shown only beside results on their test set."


def html_page(groups: list[Group], skipped: list[tuple[Path, str]], plots: dict[str, bytes]) -> str:
    """`index.html`: a sortable table + embedded PNGs per test set; every text is escaped, nothing is fetched."""
    sections = []
    for index, group in enumerate(groups):
        figures = "".join(
            f'<figure><img alt="{_e(title)}" src="data:image/png;base64,{base64.b64encode(plots[name]).decode()}">'
            f"<figcaption>{_e(title)}</figcaption></figure>"
            for name, title in group.plots.items()
            if name in plots
        )
        notes = [f"<li>{_e(note)}</li>" for note in group.notes]
        notes += [f"<li>{_e(e.label)}: {_e(note)}</li>" for e in group.entries for note in e.notes]
        sections.append(
            f'<section class="group"><h2>{_e(group.heading())}</h2>'
            f'<p class="lead">{_e(_ranked_by(group))}.</p>'
            + _html_table(group, "leaderboard" if index == 0 else f"leaderboard-{index + 1}")
            + (f'<ul class="small">{"".join(notes)}</ul>' if notes else "")
            + (f'<div class="plots">{figures}</div>' if figures else "")
            + "</section>"
        )
    skips = [f"<li>skipped {_e(path)}: {_e(reason)}</li>" for path, reason in skipped]
    title = _e(_title(groups))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{CSS}</style></head><body>"
        f"<h1>{title}</h1>"
        '<p class="lead">One table per test set (task, data file sha256, rows evaluated): scores on different '
        "rows are never ranked together. Measured rows come from results JSONs (<code>maaza eval</code>)"
        + _published_html(groups)
        + " Click a column to sort.</p>"
        + "".join(sections)
        + (f'<ul class="small">{"".join(skips)}</ul>' if skips else "")
        + f"<script>{SORT_JS}</script></body></html>\n"
    )


# --------------------------------------------------------------------------------------------- plots


def _figure(width: float = 9.0, height: float = 5.5) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MaazaError("plots need matplotlib: pip install matplotlib") from None
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#57606a")
    ax.set_xticks([])
    ax.set_yticks([])


def _scatter(ax: Any, entries: list[Entry], x_of: Any, metric: str, xlabel: str) -> None:
    points = [(e, x_of(e), e.metric(metric)) for e in entries]
    points = [(e, x, y) for e, x, y in points if x and y is not None]
    if not points:
        _empty(ax, f"no rows with {xlabel.lower()} and {metric}")
        return
    scale = 100 if is_percent(metric) else 1
    for kind, color in COLORS.items():
        chosen = [(e, x, y) for e, x, y in points if _kind(e) == kind]
        if not chosen:
            continue
        ax.scatter(
            [x for _, x, _ in chosen],
            [scale * y for _, _, y in chosen],
            s=60,
            marker="D" if kind == "published" else "o",
            label=kind,
            facecolors="none" if kind == "published" else color,
            edgecolors=color,
            linewidths=1.5,
        )
    for entry, x, y in points:
        ax.annotate(
            entry.label[:40],
            (x, scale * y),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    xs = [x for _, x, _ in points]
    ax.set_xlim(min(xs) / 1.8, max(xs) * 1.8)  # room for the labels; a narrow range still gets ticks
    _log_ticks(ax, min(xs) / 1.8, max(xs) * 1.8, params="Parameters" in xlabel)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_axis_label(metric))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def _axis_label(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric) + (" (%)" if is_percent(metric) else "")


def _log_ticks(ax: Any, low: float, high: float, *, params: bool) -> None:
    """Ticks at 1-2-5 steps with readable labels (135M, 1.2B; 270 MB) instead of 10^8 powers."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ticks = []
    decade = 10 ** int(f"{low:e}".split("e")[1])
    while decade <= high:
        ticks += [m * decade for m in (1, 2, 5) if low <= m * decade <= high]
        decade *= 10
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticklabels([_params_tick(t) if params else f"{t:g}" for t in ticks])


def _params_tick(value: float) -> str:
    return f"{value / 1e9:g}B" if value >= 1e9 else f"{value / 1e6:g}M"


def plot_perf_vs_params(
    entries: list[Entry], metric: str = DEFAULT_METRIC, second: str | None = None
) -> bytes:
    figure = _figure(11, 5)
    left, right = figure.subplots(1, 2)
    _scatter(left, entries, lambda e: e.params, metric, "Parameters (log scale)")
    _scatter(right, entries, lambda e: e.params, second or _second(metric), "Parameters (log scale)")
    figure.suptitle("Performance vs parameters")
    return _png(figure)


def plot_size_vs_perf(entries: list[Entry], metric: str = DEFAULT_METRIC) -> bytes:
    figure = _figure(9, 5.5)
    ax = figure.subplots()
    _scatter(
        ax,
        entries,
        lambda e: e.size_bytes / 1e6 if e.size_bytes else None,
        metric,
        "Size on disk (MB, log scale)",
    )
    ax.set_title("Disk size vs performance")
    return _png(figure)


def plot_by_complexity(entries: list[Entry]) -> bytes:
    figure = _figure(11, 5.5)
    ax = figure.subplots()
    chosen = [e for e in entries if any(e.metric("json_exact", c) is not None for c in COMPLEXITIES)][
        :MAX_BARS
    ]
    if not chosen:
        _empty(ax, "no rows with per-complexity metrics")
        return _png(figure)
    width = 0.8 / len(chosen)
    colors = _palette(len(chosen))
    for index, entry in enumerate(chosen):
        xs = [group + (index - (len(chosen) - 1) / 2) * width for group in range(len(COMPLEXITIES))]
        ys = [100 * (entry.metric("json_exact", c) or 0.0) for c in COMPLEXITIES]
        ax.bar(
            xs,
            ys,
            width,
            label=entry.label[:60],
            color=colors[index],
            hatch="//" if entry.published else None,
            edgecolor="white" if not entry.published else "#333333",
        )
    ax.set_xticks(range(len(COMPLEXITIES)), list(COMPLEXITIES))
    ax.set_ylabel("JSONExact (%)")
    ax.set_title(
        "Performance by complexity" + (f" (best {MAX_BARS} rows)" if len(entries) > MAX_BARS else "")
    )
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    return _png(figure)


def _palette(count: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(count)]


def finetune_pairs(entries: list[Entry], metric: str = DEFAULT_METRIC) -> list[tuple[str, Entry, Entry]]:
    """(base name, best base row, best fine-tuned row) per base model with both; measured, then published.

    Pass one group's entries: rows of different test sets are not comparable.
    """
    pairs = []
    for published in (False, True):
        groups: dict[str, dict[str, list[Entry]]] = {}
        for entry in entries:
            if entry.published != published or not entry.base:
                continue
            groups.setdefault(entry.base.lower(), {}).setdefault(
                "fine-tuned" if entry.fine_tuned else "base", []
            ).append(entry)
        for key, kinds in sorted(groups.items()):
            if "base" in kinds and "fine-tuned" in kinds:
                best_base = min(kinds["base"], key=lambda e: _sort_key(e, metric))
                best_tuned = min(kinds["fine-tuned"], key=lambda e: _sort_key(e, metric))
                name = best_base.base or key
                pairs.append((f"{name} (published)" if published else name, best_base, best_tuned))
    return pairs


def plot_finetuned_vs_base(
    entries: list[Entry], headline: str = DEFAULT_METRIC, second: str | None = None
) -> bytes:
    figure = _figure(11, 5)
    axes = figure.subplots(1, 2)
    pairs = finetune_pairs(entries, headline)
    for ax, metric in zip(axes, (headline, second or _second(headline)), strict=True):
        label = _axis_label(metric)
        if not pairs:
            _empty(ax, "no base model with both a base and a fine-tuned row")
            continue
        scale = 100 if is_percent(metric) else 1
        for offset, role, color in (
            (-0.2, "base", COLORS["base"]),
            (0.2, "fine-tuned", COLORS["fine-tuned"]),
        ):
            values = [scale * ((p[1] if role == "base" else p[2]).metric(metric) or 0.0) for p in pairs]
            bars = ax.bar([i + offset for i in range(len(pairs))], values, 0.4, label=role, color=color)
            ax.bar_label(bars, fmt="%.1f" if scale == 100 else "%.3f", fontsize=7)
        ax.set_xticks(range(len(pairs)), [p[0] for p in pairs], fontsize=8)
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle("Fine-tuned vs base (best row of each)")
    return _png(figure)


def render_plots(group: Group) -> dict[str, bytes]:
    """PNG bytes per plot file name of one group (`group.plots`; none for the published-only group)."""
    if group.published_only or group.layout is None:
        return {}
    entries, metric, second = group.entries, group.metric, group.layout.second
    draw = {
        "perf_vs_params.png": lambda: plot_perf_vs_params(entries, metric, second),
        "perf_by_complexity.png": lambda: plot_by_complexity(entries),
        "size_vs_perf.png": lambda: plot_size_vs_perf(entries, metric),
        "finetuned_vs_base.png": lambda: plot_finetuned_vs_base(entries, metric, second),
    }
    return {_suffixed(name, group.suffix): draw[name]() for name in group.layout.plots}


# --------------------------------------------------------------------------------------------- write


def _json_row(entry: Entry, rank: int) -> dict[str, Any]:
    return {
        "rank": rank,
        "label": entry.label,
        "kind": _kind(entry),
        "source": entry.source,
        "model": entry.model,
        "variant": entry.variant,
        "prompt_format": entry.prompt_format,
        "constrained": entry.constrained,
        "params": entry.params,
        "size_bytes": entry.size_bytes,
        "n": entry.n,
        "overall": entry.overall,
        "by_complexity": entry.by_complexity,
        "tokens_per_s": entry.tokens_per_s,
        "latency_ms_p50": entry.latency_ms_p50,
        "batched_per_s": entry.batched_per_s,
        "backend": entry.backend,
        "precision": entry.precision,
        "notes": entry.notes,
    }


def _json_group(group: Group) -> dict[str, Any]:
    data = group.data
    return {
        "heading": group.heading(),
        "task": data.task,
        "data": {"path": data.path, "sha256": data.sha256, "rows": data.rows},
        "ranked_by": group.metric,
        "columns": [{"key": key, "title": title} for key, title in group.columns],
        "published_only": group.published_only,
        "notes": group.notes,
        "plots": list(group.plots),
        "rows": [_json_row(e, rank) for rank, e in enumerate(group.entries, start=1)],
    }


def write_leaderboard(
    args: list[str], out_dir: str | Path, *, include_partial: bool = False, published: bool = True
) -> dict[str, Any]:
    """Write every leaderboard file into `out_dir`; returns {entries, groups, skipped, files}."""
    entries, skipped = build_entries(args, include_partial=include_partial, published=published)
    if not any(not e.published for e in entries):
        reasons = "; ".join(f"{p}: {r}" for p, r in skipped) or "no files"
        raise MaazaError(f"no usable results JSON among the arguments ({reasons})")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MaazaError(f"--out {out} exists and is not a folder")
    groups = group_entries(entries)
    plots: dict[str, bytes] = {}
    for group in groups:
        plots.update(render_plots(group))
    written = []
    for name, data in plots.items():
        atomic_write_bytes(out / name, data)
        written.append(out / name)
    atomic_write_text(out / "leaderboard.md", markdown_table(groups, skipped))
    atomic_write_text(out / "index.html", html_page(groups, skipped, plots))
    atomic_write_json(
        out / "leaderboard.json",
        {
            "format": 2,  # 2: one entry per test set under "groups" (1 had a single "rows" ranking)
            "groups": [_json_group(g) for g in groups],
            "skipped": [{"path": str(p), "reason": r} for p, r in skipped],
        },
    )
    written += [out / "leaderboard.md", out / "index.html", out / "leaderboard.json"]
    return {"entries": entries, "groups": groups, "skipped": skipped, "files": written}
