"""`maaza leaderboard RESULTS... --out DIR`: markdown table, self-contained HTML page and PNG plots.

One row per results JSON (model + adapter/variant + prompt format + constrained flag) plus the
published figures, marked *published*. Writes `leaderboard.md`, `leaderboard.json`, `index.html`
(inline CSS and a small click-to-sort script, plots embedded, no external assets) and four plots.
"""

from __future__ import annotations

import base64
import html
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.io import atomic_write_json, atomic_write_text
from maaza.report.results import (
    COMPLEXITIES,
    PUBLISHED_URL,
    Entry,
    collect_results,
    entry_from_results,
    fmt_mb,
    fmt_metric,
    fmt_params,
    published_entries,
    unique_labels,
)

PLOTS: dict[str, str] = {
    "perf_vs_params.png": "Performance vs parameters",
    "perf_by_complexity.png": "Performance by complexity",
    "size_vs_perf.png": "Disk size vs performance",
    "finetuned_vs_base.png": "Fine-tuned vs base",
}
MAX_BARS = 10
COLORS = {"fine-tuned": "#1f77b4", "base": "#ff7f0e", "published": "#7f7f7f"}


# ----------------------------------------------------------------------------------------------- rows


def _sort_key(entry: Entry) -> tuple[float, str]:
    value = entry.metric("json_exact")
    return (-(value if value is not None else -1.0), entry.label)


def build_entries(
    args: list[str], *, include_partial: bool = False, published: bool = True
) -> tuple[list[Entry], list[tuple[Path, str]]]:
    """Entries for the results named by `args` (plus published rows), best JSONExact first."""
    loaded, skipped = collect_results(args, include_partial=include_partial)
    entries = [entry_from_results(path, data) for path, data in loaded]
    unique_labels(entries)
    if published:
        entries += published_entries()
    entries.sort(key=_sort_key)
    return entries, skipped


def _kind(entry: Entry) -> str:
    return "published" if entry.published else "fine-tuned" if entry.fine_tuned else "base"


def _source(entry: Entry) -> str:
    return "published" if entry.published else Path(entry.source).name


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
NUMERIC = frozenset(
    {
        "params",
        "n",
        "json_exact",
        "field_f1",
        "schema_compliance",
        "leaf_f1",
        "schema_valid",
        "simple",
        "medium",
        "complex",
        "tokens_per_s",
        "size",
    }
)


def cells(entry: Entry) -> dict[str, tuple[str, Any]]:
    """Per column: (display text, raw sort value or None)."""
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
    return out


# ------------------------------------------------------------------------------------------ markdown


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown_table(entries: list[Entry], skipped: list[tuple[Path, str]]) -> str:
    """`leaderboard.md`: the ranked table, where the published figures come from, skipped files."""
    lines = [
        "# EdgeJSON leaderboard",
        "",
        "Ranked by JSONExact. Measured rows are read from results JSONs (`maaza eval`); rows marked "
        f"*published* are figures from the [Maaza MLM-135M-JSON v1 card]({PUBLISHED_URL}), not measured here.",
        "",
        "| # | " + " | ".join(title for _, title in COLUMNS) + " |",
        "|---:|" + "|".join("---:" if key in NUMERIC else "---" for key, _ in COLUMNS) + "|",
    ]
    for rank, entry in enumerate(entries, start=1):
        row = cells(entry)
        texts = [_md(row[key][0]) for key, _ in COLUMNS]
        if entry.published:
            texts[0] = f"*{texts[0]}*"
            texts[2] = "*published*"
        lines.append(f"| {rank} | " + " | ".join(texts) + " |")
    notes = [(e.label, note) for e in entries for note in e.notes]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {_md(label)}: {_md(note)}" for label, note in notes]
    if skipped:
        lines += ["", "Skipped:", ""] + [f"- `{_md(str(path))}`: {_md(reason)}" for path, reason in skipped]
    lines += [
        "",
        "Size: weights on disk as evaluated (plus the adapter); MB = 10^6 bytes. Plots: "
        + ", ".join(f"[{title}]({name})" for name, title in PLOTS.items())
        + ".",
    ]
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
  var match = /^#sort=(-?)([a-z_]+)$/.exec(location.hash);
  if (match) {
    var th = table.tHead.querySelector('th[data-key="' + match[2] + '"]');
    if (th) { th.click(); if (match[1]) { th.click(); } }
  }
});
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def html_page(entries: list[Entry], skipped: list[tuple[Path, str]], plots: dict[str, bytes]) -> str:
    """`index.html`: sortable table + embedded PNGs; every text is escaped, nothing is fetched."""
    head = "".join(
        f'<th class="{"num" if key in NUMERIC else "text"}" data-key="{key}" scope="col">{_e(title)}</th>'
        for key, title in COLUMNS
    )
    body_rows = []
    for entry in entries:
        row = cells(entry)
        tds = []
        for key, _ in COLUMNS:
            text, raw = row[key]
            value = "" if raw is None else str(raw)
            css = ' class="num"' if key in NUMERIC else ""
            tds.append(f'<td{css} data-value="{_e(value)}">{_e(text)}</td>')
        body_rows.append(f'<tr class="{_e(_kind(entry))}">' + "".join(tds) + "</tr>")
    figures = "".join(
        f'<figure><img alt="{_e(PLOTS[name])}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
        f"<figcaption>{_e(PLOTS[name])}</figcaption></figure>"
        for name, data in plots.items()
    )
    notes = [f"<li>{_e(e.label)}: {_e(note)}</li>" for e in entries for note in e.notes]
    notes += [f"<li>skipped {_e(path)}: {_e(reason)}</li>" for path, reason in skipped]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>EdgeJSON leaderboard</title><style>{CSS}</style></head><body>"
        "<h1>EdgeJSON leaderboard</h1>"
        '<p class="lead">Measured rows come from results JSONs (<code>maaza eval</code>); grey italic rows are '
        "figures published in the Maaza MLM-135M-JSON v1 card, not measured here. Click a column to sort.</p>"
        f'<div class="scroll"><table class="sortable" id="leaderboard"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body_rows)}</tbody></table></div>"
        + (f'<ul class="small">{"".join(notes)}</ul>' if notes else "")
        + f'<div class="plots">{figures}</div>'
        f"<script>{SORT_JS}</script></body></html>\n"
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
    for kind, color in COLORS.items():
        chosen = [(e, x, y) for e, x, y in points if _kind(e) == kind]
        if not chosen:
            continue
        ax.scatter(
            [x for _, x, _ in chosen],
            [100 * y if metric != "field_f1" else y for _, _, y in chosen],
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
            (x, 100 * y if metric != "field_f1" else y),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    xs = [x for _, x, _ in points]
    ax.set_xlim(min(xs) / 1.8, max(xs) * 1.8)  # room for the labels; a narrow range still gets ticks
    _log_ticks(ax, min(xs) / 1.8, max(xs) * 1.8, params="Parameters" in xlabel)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("JSONExact (%)" if metric == "json_exact" else "Field F1")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")


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


def plot_perf_vs_params(entries: list[Entry]) -> bytes:
    figure = _figure(11, 5)
    left, right = figure.subplots(1, 2)
    _scatter(left, entries, lambda e: e.params, "json_exact", "Parameters (log scale)")
    _scatter(right, entries, lambda e: e.params, "field_f1", "Parameters (log scale)")
    figure.suptitle("Performance vs parameters")
    return _png(figure)


def plot_size_vs_perf(entries: list[Entry]) -> bytes:
    figure = _figure(9, 5.5)
    ax = figure.subplots()
    _scatter(
        ax,
        entries,
        lambda e: e.size_bytes / 1e6 if e.size_bytes else None,
        "json_exact",
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


def finetune_pairs(entries: list[Entry]) -> list[tuple[str, Entry, Entry]]:
    """(base name, best base row, best fine-tuned row) per base model with both; measured, then published."""
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
                best_base = min(kinds["base"], key=_sort_key)
                best_tuned = min(kinds["fine-tuned"], key=_sort_key)
                name = best_base.base or key
                pairs.append((f"{name} (published)" if published else name, best_base, best_tuned))
    return pairs


def plot_finetuned_vs_base(entries: list[Entry]) -> bytes:
    figure = _figure(11, 5)
    axes = figure.subplots(1, 2)
    pairs = finetune_pairs(entries)
    for ax, metric, label in zip(
        axes, ("json_exact", "field_f1"), ("JSONExact (%)", "Field F1"), strict=True
    ):
        if not pairs:
            _empty(ax, "no base model with both a base and a fine-tuned row")
            continue
        scale = 100 if metric == "json_exact" else 1
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


def render_plots(entries: list[Entry]) -> dict[str, bytes]:
    """PNG bytes per plot file name."""
    return {
        "perf_vs_params.png": plot_perf_vs_params(entries),
        "perf_by_complexity.png": plot_by_complexity(entries),
        "size_vs_perf.png": plot_size_vs_perf(entries),
        "finetuned_vs_base.png": plot_finetuned_vs_base(entries),
    }


# --------------------------------------------------------------------------------------------- write


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_row(entry: Entry) -> dict[str, Any]:
    return {
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
        "notes": entry.notes,
    }


def write_leaderboard(
    args: list[str], out_dir: str | Path, *, include_partial: bool = False, published: bool = True
) -> dict[str, Any]:
    """Write every leaderboard file into `out_dir`; returns {entries, skipped, files}."""
    entries, skipped = build_entries(args, include_partial=include_partial, published=published)
    if not any(not e.published for e in entries):
        reasons = "; ".join(f"{p}: {r}" for p, r in skipped) or "no files"
        raise MaazaError(f"no usable results JSON among the arguments ({reasons})")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MaazaError(f"--out {out} exists and is not a folder")
    plots = render_plots(entries)
    written = []
    for name, data in plots.items():
        _write_bytes(out / name, data)
        written.append(out / name)
    atomic_write_text(out / "leaderboard.md", markdown_table(entries, skipped))
    atomic_write_text(out / "index.html", html_page(entries, skipped, plots))
    atomic_write_json(
        out / "leaderboard.json",
        {
            "rows": [_json_row(e) for e in entries],
            "skipped": [{"path": str(p), "reason": r} for p, r in skipped],
        },
    )
    written += [out / "leaderboard.md", out / "index.html", out / "leaderboard.json"]
    return {"entries": entries, "skipped": skipped, "files": written}
