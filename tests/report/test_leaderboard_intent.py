"""`maaza leaderboard` on classifier results (the intent task, `evaluate_probabilities`): the task's own
columns (top-1, top-5, macro-F1, p50 ms, inf/s, precision, size) read from the results JSONs, ranked by top-1,
beside an EdgeJSON group that keeps its columns; the published BANKING77 baselines only beside results on
BANKING77 test; plots that apply to a task without complexity buckets."""

from __future__ import annotations

import copy
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_helpers import TUNED_PLAN, V3, make_examples, results_doc, run_cli, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from test_onnx_classifier import LABELS, build_tiny_classifier

from maaza.cli import main
from maaza.report.leaderboard import PLOTS, group_entries, render_plots
from maaza.report.results import (
    BANKING77_SOURCE,
    BANKING77_TEST,
    entry_from_results,
    fmt_mb,
    fmt_params,
)
from maaza.tasks import register_task, unregister_task
from maaza.tasks.intent import IntentTask

pytest.importorskip("onnxruntime")

TASK = "tiny-intent"
TEXTS = [
    "i want to check my card balance",
    "transfer money to savings please",
    "where is my new card",
    "how do i change my pin",
    "why was i charged twice for the atm cash",
    "check my balance",
]
INTENT_HEADER = (
    "| # | model | kind | source | params | prompt | rows | top-1 | top-5 | macro-F1 | p50 ms | inf/s "
    "| precision | size (MB) |"
)
EDGEJSON_HEADER = (
    "| # | model | kind | source | params | prompt | constrained | rows | JSONExact | Field F1 | compliance "
    "| leaf F1 | schema valid | simple JSONExact | medium JSONExact | complex JSONExact | tokens/s | size (MB) |"
)
PNG = b"\x89PNG\r\n\x1a\n"


def _shifted_copy(source: Path, target: Path) -> Path:
    """Another classifier: `source` with its head's rows rolled by one, so it predicts the next label."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(source, target)
    weights = target / "model.safetensors"
    tensors = load_file(str(weights))
    tensors["score.weight"] = torch.roll(tensors["score.weight"], shifts=1, dims=0).contiguous()
    save_file(tensors, str(weights), metadata={"format": "pt"})
    return target


def make_intent_results(root: Path, task: str = TASK) -> dict[str, Path]:
    """Results JSONs of `maaza eval` on 6 rows of `task` (registered by the caller): the tiny classifier on
    torch, its ONNX export fp32 and INT8, and a shifted copy of it (torch) that gets fewer rows right."""
    from maaza.classify import Classifier

    merged = build_tiny_classifier(root / "merged")
    from maaza.export.onnx_classifier import export_classifier_onnx

    export_classifier_onnx(merged, root / "onnx")
    shifted = _shifted_copy(merged, root / "shifted")
    predicted = [c.label for c in Classifier.load(merged, runtime="torch").classify_batch(TEXTS)]
    # gold: the tiny model's own answer on 4 rows, the shifted copy's (the next label) on 2
    gold = [p if i < 4 else LABELS[(LABELS.index(p) + 1) % len(LABELS)] for i, p in enumerate(predicted)]
    data = root / "data" / "test.jsonl"
    data.parent.mkdir(parents=True)
    data.write_text(
        "".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(TEXTS, gold, strict=True)),
        encoding="utf-8",
    )
    runs = {
        "torch": (merged, []),
        "onnx_fp32": (root / "onnx", ["--backend", "onnx", "--fp32"]),
        "onnx_int8": (root / "onnx", ["--backend", "onnx"]),
        "shifted": (shifted, []),
    }
    out: dict[str, Path] = {}
    for name, (model, extra) in runs.items():
        out[name] = root / "results" / f"{name}.json"
        argv = ["eval", "--task", task, "--model", str(model), "--data", str(data), "--out", str(out[name])]
        assert main([*argv, *extra]) == 0
    return out


@pytest.fixture(scope="module")
def intent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    register_task(IntentTask(name=TASK, dataset=None, labels=LABELS), replace=True)
    try:
        yield make_intent_results(tmp_path_factory.mktemp("intent-board"))
    finally:
        unregister_task(TASK)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _sections(md: str) -> dict[str, str]:
    parts = md.split("\n## ")[1:]
    return {"## " + part.split("\n", 1)[0]: part.split("\nSkipped:", 1)[0] for part in parts}


def _table(section: str) -> tuple[list[str], list[list[str]]]:
    """(header cells, ranked rows' cells) of a section's table."""
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    split = [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in lines]
    return split[0], split[1:]


def _heading(doc: dict[str, Any]) -> str:
    data = doc["data"]
    name = "/".join(Path(data["path"]).parts[-2:])
    return f"## {doc['task']}: {name} (sha256 {data['sha256'][:8]}, {data['rows']} rows)"


def _expected(doc: dict[str, Any], path: Path) -> dict[str, str]:
    """The intent table's cells of one results file, computed from the JSON."""
    overall, timing, model = doc["metrics"]["overall"], doc["timing"], doc["model"]
    return {
        "kind": "base",
        "source": path.name,
        "params": fmt_params(model["params"]),
        "prompt": doc["config"]["prompt_format"],
        "rows": str(overall["n"]),
        "top-1": f"{100 * overall['top1']:.1f}%",
        "top-5": f"{100 * overall['top5']:.1f}%",
        "macro-F1": f"{overall['macro_f1']:.3f}",
        "p50 ms": f"{timing['latency_ms']['p50']:.2f}",
        "inf/s": f"{timing['batched_per_s']:.1f}",
        "precision": model["precision"],
        "size (MB)": fmt_mb(model["file_size_bytes"]),
    }


def _banking77_copy(doc: dict[str, Any]) -> dict[str, Any]:
    """A results file that says it was measured on BANKING77 test (task intent, its sha256, 3080 rows)."""
    fake = copy.deepcopy(doc)
    fake["task"] = BANKING77_TEST.task
    fake["data"].update(
        sha256=BANKING77_TEST.sha256, rows=BANKING77_TEST.rows, path="/data/banking77/test.jsonl"
    )
    return fake


def test_intent_group_has_the_tasks_columns_read_from_the_results(
    intent: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    for path in intent.values():
        shutil.copy(path, folder / path.name)
    _, tuned = make_examples(TUNED_PLAN)
    write_json(folder / "edgejson_tuned.json", results_doc(tuned, name="mlm-135m-json", **V3))
    out = tmp_path / "board"
    assert run_cli(["leaderboard", str(folder), "--out", str(out)]) == 0
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    docs = {name: _load(path) for name, path in intent.items()}
    intent_heading = _heading(docs["torch"])
    v3_heading = "## edgejson: edgejson_v3/test.jsonl (sha256 fab63046, 158 rows)"
    sections = _sections(md)
    assert list(sections) == [intent_heading, v3_heading]  # the intent group has more results: it comes first
    assert "Ranked by top-1 (`top1`)." in sections[intent_heading]

    header, rows = _table(sections[intent_heading])
    assert "| " + " | ".join(header) + " |" == INTENT_HEADER
    titles = header[1:]  # after "#"
    assert len(rows) == 4 and "published" not in sections[intent_heading]  # no published rows on these rows
    # ranked by top-1 (ties: by label), every cell read from its results JSON
    by_label = {}
    for name, doc in docs.items():
        label = entry_from_results(intent[name], doc).label
        by_label[label] = name
    order = sorted(by_label, key=lambda label: (-docs[by_label[label]]["metrics"]["overall"]["top1"], label))
    seen = []
    for rank, row in enumerate(rows, start=1):
        cells = dict(zip(titles, row[1:], strict=True))
        assert row[0] == str(rank)
        name = next(n for n in docs if cells["source"] == intent[n].name)
        seen.append(name)
        expected = _expected(docs[name], intent[name])
        assert {k: cells[k] for k in expected} == expected
        backend, precision = docs[name]["model"]["backend"], docs[name]["model"]["precision"]
        assert cells["model"].startswith(f"{docs[name]['model']['name']} {backend} {precision}")
    assert [by_label[label] for label in order] == seen
    top1 = {name: docs[name]["metrics"]["overall"]["top1"] for name in docs}
    assert top1["torch"] == pytest.approx(4 / 6) and top1["shifted"] == pytest.approx(2 / 6)
    assert seen[-1] == "shifted"
    assert {docs[n]["model"]["precision"] for n in ("onnx_fp32", "onnx_int8")} == {"fp32", "int8"}

    # the EdgeJSON results keep their own group, with the old columns, beside the published Maaza rows
    header, rows = _table(sections[v3_heading])
    assert "| " + " | ".join(header) + " |" == EDGEJSON_HEADER
    assert rows[0][1] == "mlm-135m-json schema-chat" and rows[0][8] == "65.0%"
    assert sum("*published*" in r for r in rows) == 3
    assert "BERT" not in md  # the BANKING77 figures: only beside results on BANKING77 test

    board = json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))
    group = board["groups"][0]
    assert group["task"] == TASK and group["ranked_by"] == "top1"
    assert [c["key"] for c in group["columns"]] == [
        "label", "kind", "source", "params", "prompt_format", "n", "top1", "top5", "macro_f1",
        "latency_ms_p50", "batched_per_s", "precision", "size",
    ]  # fmt: skip
    for row in group["rows"]:
        doc = docs[Path(row["source"]).stem]
        assert row["overall"]["top1"] == doc["metrics"]["overall"]["top1"]
        assert row["overall"]["macro_f1"] == doc["metrics"]["overall"]["macro_f1"]
        assert row["latency_ms_p50"] == doc["timing"]["latency_ms"]["p50"]
        assert row["batched_per_s"] == doc["timing"]["batched_per_s"]
        assert (
            row["precision"] == doc["model"]["precision"]
            and row["size_bytes"] == doc["model"]["file_size_bytes"]
        )
    assert [c["key"] for c in board["groups"][1]["columns"]][-2:] == ["tokens_per_s", "size"]

    # plots: the headline metric vs parameters and vs disk size; no complexity buckets, no base/fine-tuned pair
    assert group["plots"] == ["perf_vs_params.png", "size_vs_perf.png"]
    for name in group["plots"]:
        assert (out / name).read_bytes().startswith(PNG)
    assert not (out / "perf_by_complexity.png").exists() and not (out / "finetuned_vs_base.png").exists()
    assert board["groups"][1]["plots"] == [n.replace(".png", ".edgejson-fab63046-158rows.png") for n in PLOTS]

    html = (out / "index.html").read_text(encoding="utf-8")
    assert html.count("<tbody>") == 2 and html.count("data:image/png;base64,") == 2 + 4
    for key, title in (
        ("top1", "top-1"),
        ("macro_f1", "macro-F1"),
        ("latency_ms_p50", "p50 ms"),
        ("batched_per_s", "inf/s"),
    ):
        assert f'data-key="{key}" scope="col">{title}</th>' in html
    int8 = docs["onnx_int8"]
    assert (
        f'data-value="{int8["timing"]["batched_per_s"]}">{int8["timing"]["batched_per_s"]:.1f}</td>' in html
    )
    assert (
        f'data-value="{int8["metrics"]["overall"]["top1"]}">{100 * int8["metrics"]["overall"]["top1"]:.1f}%</td>'
        in html
    )


def test_banking77_published_rows_only_beside_banking77_results(
    intent: dict[str, Path], tmp_path: Path
) -> None:
    b77 = write_json(tmp_path / "r" / "b77_int8.json", _banking77_copy(_load(intent["onnx_int8"])))
    out = tmp_path / "board"
    assert run_cli(["leaderboard", str(b77), str(intent["torch"]), "--out", str(out)]) == 0
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    b77_heading = "## intent: banking77/test.jsonl (sha256 649607fa, 3080 rows)"
    sections = _sections(md)
    assert set(sections) == {b77_heading, _heading(_load(intent["torch"]))}
    assert "figures quoted in maaza issue #20 (EdgeIntent), not measured here" in md
    assert "Maaza MLM-135M-JSON" not in md  # no EdgeJSON result here: none of its published figures
    header, rows = _table(sections[b77_heading])
    assert "| " + " | ".join(header) + " |" == INTENT_HEADER
    cells = [dict(zip(header[1:], row[1:], strict=True)) for row in rows]
    published = [
        (c["model"], c["params"], c["top-1"], c["source"], c["kind"])
        for c in cells
        if c["kind"] == "published"
    ]
    assert published == [  # ranked by top-1
        ("*ModernBERT-base (published)*", "149M", "94.0%", "*published*", "published"),
        ("*BERT-base (published)*", "110M", "93.1%", "*published*", "published"),
        ("*DistilBERT (published)*", "66M", "92.5%", "*published*", "published"),
    ]
    assert all(
        c[k] == "-" for c in cells if c["kind"] == "published" for k in ("top-5", "macro-F1", "p50 ms")
    )
    assert cells[3]["source"] == "b77_int8.json" and cells[3]["precision"] == "int8"
    assert "published" not in sections[_heading(_load(intent["torch"]))]
    board = json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))
    group = next(g for g in board["groups"] if g["data"]["sha256"] == BANKING77_TEST.sha256)
    assert group["data"] == {"path": "banking77/test.jsonl", "sha256": BANKING77_TEST.sha256, "rows": 3080}
    assert [r["source"] for r in group["rows"] if r["kind"] == "published"] == [BANKING77_SOURCE] * 3
    assert [r["overall"] for r in group["rows"][:3]] == [{"top1": 0.94}, {"top1": 0.931}, {"top1": 0.925}]
    for name in group["plots"]:
        assert (out / name).read_bytes().startswith(PNG)


def test_banking77_figures_stand_apart_beside_intent_results_on_other_rows(
    intent: dict[str, Path], tmp_path: Path
) -> None:
    """Results of task `intent` on other rows: the BANKING77 figures form their own unranked group; a task
    with no published figures (tiny-intent) gets none."""
    other = copy.deepcopy(_load(intent["onnx_fp32"]))
    other["task"] = "intent"
    path = write_json(tmp_path / "intent_other.json", other)
    out = tmp_path / "board"
    assert run_cli(["leaderboard", str(path), "--out", str(out)]) == 0
    sections = _sections((out / "leaderboard.md").read_text(encoding="utf-8"))
    published_heading = "## Published figures: intent: banking77/test.jsonl (sha256 649607fa, 3080 rows)"
    assert list(sections) == [_heading(other), published_heading]
    assert "not ranked against any measured row" in sections[published_heading]
    assert len(_table(sections[published_heading])[1]) == 3
    assert run_cli(["leaderboard", str(intent["torch"]), "--out", str(tmp_path / "b2")]) == 0
    md = (tmp_path / "b2" / "leaderboard.md").read_text(encoding="utf-8")
    assert "published" not in md and list(_sections(md)) == [_heading(_load(intent["torch"]))]


def test_finetuned_vs_base_drawn_when_a_classifier_has_both(intent: dict[str, Path]) -> None:
    base, tuned = _load(intent["torch"]), _load(intent["shifted"])
    base["model"].update(name="tiny", base="tiny")
    tuned["model"].update(name="tiny-distilled", base="tiny")
    entries = [entry_from_results(Path("base.json"), base), entry_from_results(Path("tuned.json"), tuned)]
    (group,) = group_entries(entries)
    assert group.layout is not None and group.layout.second == "macro_f1"
    assert list(group.plots) == ["perf_vs_params.png", "size_vs_perf.png", "finetuned_vs_base.png"]
    plots = render_plots(group)
    assert list(plots) == list(group.plots) and all(data.startswith(PNG) for data in plots.values())
