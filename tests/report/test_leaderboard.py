"""`maaza leaderboard`: markdown rows, published rows marked, partial files skipped, plots and escaped HTML;
one ranking per test set, the published figures only beside results on their test set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from report_helpers import (
    BASE_PLAN,
    TUNED_PLAN,
    V3,
    make_examples,
    results_doc,
    run_cli,
    write_json,
    write_results,
)

from maaza.report.leaderboard import PLOTS, build_entries, finetune_pairs, group_entries
from maaza.report.results import EDGEJSON_V3_TEST, entry_from_results, eval_data_of, expand_paths
from maaza.tasks import register_task, unregister_task
from maaza.tasks.edgejson import EdgeJSONTask

QUICK_SHA = "ab" * 32  # another test set (e.g. a quickstart's generated rows)
V3_HEADING = "## edgejson: edgejson_v3/test.jsonl (sha256 fab63046, 158 rows)"


def _ranked(section: str) -> list[str]:
    return [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]


def _sections(md: str) -> dict[str, str]:
    """`## ` heading -> its text, up to the next heading (or the Skipped/Size footer)."""
    parts = md.split("\n## ")[1:]
    return {"## " + part.split("\n", 1)[0]: part.split("\nSkipped:", 1)[0] for part in parts}


def test_markdown_rows_published_and_partial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "results"
    write_results(folder)
    out = tmp_path / "board"
    assert run_cli(["leaderboard", str(folder), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "2 results ranked (3 published rows) in 1 test-set group" in captured.out
    assert f"skipped {folder / 'partial.json'}: status 'partial' (8/40 rows)" in captured.err
    md = (out / "leaderboard.md").read_text()
    assert list(_sections(md)) == [V3_HEADING]  # both results are on v3 test: one ranking, with the published
    rows = _ranked(md)
    assert len(rows) == 5
    # ranked by JSONExact: tuned 65% > base 25% (only `easy` right) > published Maaza 24.7% > ...
    assert rows[0].startswith(
        "| 1 | mlm-135m-json [mlm/adapter] schema-chat constrained | fine-tuned | tuned.json |"
    )
    assert "| 65.0% |" in rows[0] and "| 17.0 |" in rows[0] and "| 557.6 |" in rows[0]
    assert "base_seed.json" in rows[1] and "Maaza MLM-135M-JSON v1" in rows[2]
    base_row = rows[1]
    assert "| smollm2-135m seed | base |" in base_row and "| 25.0% |" in base_row
    published = [r for r in rows if "*published*" in r]
    assert len(published) == 3
    assert any(
        "*Maaza MLM-135M-JSON v1 (published)*" in r and "| 24.7% | 0.520 | 41.1% |" in r for r in published
    )
    assert any("*SmolLM2-135M base (published)*" in r and "| 1.9% | 0.024 | 5.1% |" in r for r in published)
    assert any("*Qwen2.5-0.5B (published)*" in r and "| 14.6% | 0.195 | 19.0% |" in r for r in published)
    assert "gemma3-270m" not in md.split("Skipped:")[0]
    assert "`" + str(folder / "partial.json") + "`: status 'partial'" in md
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["format"] == 2 and len(board["groups"]) == 1
    group = board["groups"][0]
    assert group["data"] == {"path": "edgejson_v3/test.jsonl", "sha256": EDGEJSON_V3_TEST.sha256, "rows": 158}
    assert group["ranked_by"] == "json_exact" and group["plots"] == list(PLOTS)
    assert [r["kind"] for r in group["rows"]].count("published") == 3
    assert [r["rank"] for r in group["rows"]] == [1, 2, 3, 4, 5]
    for name in PLOTS:
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.size[0] > 400
            assert len(image.getcolors(1 << 16) or []) > 10
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and "http://" not in html and "https://" not in html


def test_include_partial_and_glob(tmp_path: Path) -> None:
    files = write_results(tmp_path / "r")
    entries, skipped = build_entries([str(tmp_path / "r" / "*.json")], include_partial=True, published=False)
    labels = [e.label for e in entries]
    assert "gemma3-270m schema-chat" in labels and len(entries) == 3
    assert skipped == [(files["other"], "not a results JSON")]
    gemma = next(e for e in entries if e.model == "gemma3-270m")
    assert gemma.notes == ["partial: 8/40 rows"]


def test_explicit_non_results_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = write_results(tmp_path)
    assert run_cli(["leaderboard", str(files["other"]), "--out", str(tmp_path / "o")]) == 2
    assert "not a maaza results JSON" in capsys.readouterr().err
    assert run_cli(["leaderboard", str(tmp_path / "nothing-*.json"), "--out", str(tmp_path / "o")]) == 2
    assert "matches no .json files" in capsys.readouterr().err
    assert run_cli(["leaderboard", str(files["partial"]), "--out", str(tmp_path / "o")]) == 2
    assert "no usable results JSON" in capsys.readouterr().err


def test_html_escapes_model_names(tmp_path: Path) -> None:
    _, tuned = make_examples(TUNED_PLAN)
    evil = "<script>alert('x')</script>|pipe"
    path = write_json(tmp_path / "evil.json", results_doc(tuned, name=evil, data_path="/d/<b>|x/t.jsonl"))
    out = tmp_path / "board"
    assert run_cli(["leaderboard", str(path), "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;|pipe" in html
    assert html.count("<script>") == 1  # only the page's own sort script
    md = (out / "leaderboard.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;alert('x')&lt;/script&gt;\\|pipe" in md
    assert "<b>" not in md and "<b>" not in html  # the test set's file name in the headings, escaped too
    assert "## edgejson: &lt;b&gt;\\|x/t.jsonl (no sha256 recorded, 40 rows)" in md


def test_finetune_pairs_match_by_base(tmp_path: Path) -> None:
    write_results(tmp_path)
    entries, _ = build_entries([str(tmp_path)])
    groups = group_entries(entries)
    assert len(groups) == 1 and groups[0].entries == entries
    pairs = finetune_pairs(groups[0].entries)
    assert [(name, b.model, t.model) for name, b, t in pairs] == [
        ("smollm2-135m", "smollm2-135m", "mlm-135m-json"),
        ("SmolLM2-135M (published)", "SmolLM2-135M base", "Maaza MLM-135M-JSON v1"),
    ]


def test_expand_paths_dedupes(tmp_path: Path) -> None:
    files = write_results(tmp_path)
    found = expand_paths([str(files["base"]), str(tmp_path), str(tmp_path / "*.json")])
    assert [p for p, _ in found].count(files["base"]) == 1
    assert found[0] == (files["base"], True)


# ------------------------------------------------------------------------------------- test-set groups


def _quickstart(folder: Path) -> Path:
    """A high score on another test set (24 generated rows): it must not outrank anything on v3."""
    _, tuned = make_examples(TUNED_PLAN)
    doc = results_doc(
        tuned,
        name="quickstart-json",
        adapter="/runs/quickstart/adapter",
        constrained=True,
        sha256=QUICK_SHA,
        rows=24,
        data_path="/runs/quickstart/data/test.jsonl",
    )
    return write_json(folder / "quickstart.json", doc)


def test_results_on_different_test_sets_are_ranked_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "results"
    _, base = make_examples(BASE_PLAN)
    write_json(folder / "v3_base.json", results_doc(base, prompt_format="seed", **V3))
    _quickstart(folder)
    out = tmp_path / "board"
    assert run_cli(["leaderboard", str(folder), "--out", str(out)]) == 0
    assert "2 results ranked (3 published rows) in 2 test-set groups" in capsys.readouterr().out
    md = (out / "leaderboard.md").read_text()
    quick_heading = "## edgejson: data/test.jsonl (sha256 abababab, 24 rows)"
    sections = _sections(md)
    # one measured result each; the group holding the published figures comes first (the main group)
    assert list(sections) == [V3_HEADING, quick_heading]
    v3_rows, quick_rows = _ranked(sections[V3_HEADING]), _ranked(sections[quick_heading])
    assert len(v3_rows) == 4 and len(quick_rows) == 1
    # the published rows sit only beside the v3 result, ranked with it (Maaza 24.7% < base 25.0%)
    assert v3_rows[0].startswith("| 1 | smollm2-135m seed | base | v3_base.json |")
    assert v3_rows[1].startswith("| 2 | *Maaza MLM-135M-JSON v1 (published)* |")
    assert "quickstart" not in sections[V3_HEADING]
    # the 65% on 24 other rows is rank 1 of its own table, never above the published 24.7%
    assert quick_rows[0].startswith("| 1 | quickstart-json [quickstart/adapter] schema-chat constrained |")
    assert "published" not in sections[quick_heading]
    board = json.loads((out / "leaderboard.json").read_text())
    shas = [g["data"]["sha256"] for g in board["groups"]]
    assert shas == [EDGEJSON_V3_TEST.sha256, QUICK_SHA]
    assert [[r["kind"] for r in g["rows"]] for g in board["groups"]] == [
        ["base", "published", "published", "published"],
        ["fine-tuned"],
    ]
    # plots per group: stable names for the main group, a suffix naming the test set for the other
    suffix = ".edgejson-abababab-24rows"
    assert board["groups"][0]["plots"] == list(PLOTS)
    assert board["groups"][1]["plots"] == [name.replace(".png", f"{suffix}.png") for name in PLOTS]
    for group in board["groups"]:
        for name in group["plots"]:
            with Image.open(out / name) as image:
                assert image.format == "PNG"
    assert f"](perf_vs_params{suffix}.png)" in sections[quick_heading]
    html = (out / "index.html").read_text()
    assert html.count("<tbody>") == 2 and html.count("data:image/png;base64,") == 8
    assert 'id="leaderboard"' in html and 'id="leaderboard-2"' in html
    assert html.index("Maaza MLM-135M-JSON v1 (published)") < html.index("sha256 abababab")


def test_published_rows_stand_apart_without_v3_results(tmp_path: Path) -> None:
    path = _quickstart(tmp_path / "results")
    out = tmp_path / "board"
    assert run_cli(["leaderboard", str(path), "--out", str(out)]) == 0
    md = (out / "leaderboard.md").read_text()
    published_heading = "## Published figures: edgejson: edgejson_v3/test.jsonl (sha256 fab63046, 158 rows)"
    sections = _sections(md)
    assert list(sections) == ["## edgejson: data/test.jsonl (sha256 abababab, 24 rows)", published_heading]
    measured, published = sections.values()
    assert len(_ranked(measured)) == 1 and "published" not in measured
    assert [r.split(" | ")[1] for r in _ranked(published)] == [
        "*Maaza MLM-135M-JSON v1 (published)*",
        "*Qwen2.5-0.5B (published)*",
        "*SmolLM2-135M base (published)*",
    ]
    assert "not ranked against any measured row" in published
    board = json.loads((out / "leaderboard.json").read_text())
    assert [g["published_only"] for g in board["groups"]] == [False, True]
    assert board["groups"][1]["plots"] == []  # reference figures alone: no plots of their own
    assert sorted(p.name for p in out.glob("*.png")) == sorted(PLOTS)
    # --no-published: the measured group alone
    assert run_cli(["leaderboard", str(path), "--out", str(tmp_path / "b2"), "--no-published"]) == 0
    assert list(_sections((tmp_path / "b2" / "leaderboard.md").read_text())) == [
        "## edgejson: data/test.jsonl (sha256 abababab, 24 rows)"
    ]


def test_a_slice_is_its_own_test_set() -> None:
    """Same file, `--limit 10`: a different set of rows, so a different group; an old file that recorded the
    whole file's count under a smaller `config.limit` joins the slice."""
    _, tuned = make_examples(TUNED_PLAN)
    full = results_doc(tuned, name="full", sha256=QUICK_SHA, rows=40)
    sliced = results_doc(tuned[:10], name="sliced", sha256=QUICK_SHA, rows=10, limit=10)
    old = results_doc(tuned[:10], name="old-sliced", sha256=QUICK_SHA, rows=40, limit=10)
    no_sha = results_doc(tuned, name="no-sha", data_path="/d/test.jsonl")
    no_sha_twin = results_doc(tuned, name="no-sha-twin", data_path="/d/test.jsonl")
    other_path = results_doc(tuned, name="other-path", data_path="/e/test.jsonl")
    assert eval_data_of(old).key == eval_data_of(sliced).key != eval_data_of(full).key
    docs = [full, sliced, old, no_sha, no_sha_twin, other_path]
    entries = [entry_from_results(Path(f"{d['model']['name']}.json"), d) for d in docs]
    groups = group_entries(entries)
    assert sorted(sorted(e.model for e in g.entries) for g in groups) == [
        ["full"],
        ["no-sha", "no-sha-twin"],
        ["old-sliced", "sliced"],
        ["other-path"],
    ]
    headings = [g.heading() for g in groups]
    assert headings[0] == "edgejson: d/test.jsonl (no sha256 recorded, 40 rows)"  # most results first
    assert "edgejson: nonexistent/test.jsonl (sha256 abababab, 10 rows)" in headings
    assert len(set(headings)) == 4 and len({g.suffix for g in groups}) == 4


def test_group_ranked_by_its_tasks_headline_metric(tmp_path: Path) -> None:
    """A task whose headline metric is parse_rate: its group is ranked by it, with a column for it."""

    class ParseTask(EdgeJSONTask):
        name = "parse-only"
        headline_metric = "parse_rate"

    register_task(ParseTask())
    try:
        _, tuned = make_examples(TUNED_PLAN)
        better_exact = results_doc(tuned, name="exact", task="parse-only", sha256=QUICK_SHA)
        better_parse = results_doc(tuned, name="parses", task="parse-only", sha256=QUICK_SHA)
        better_exact["metrics"]["overall"].update(json_exact=0.9, parse_rate=0.5)
        better_parse["metrics"]["overall"].update(json_exact=0.1, parse_rate=1.0)
        folder = tmp_path / "r"
        write_json(folder / "a.json", better_exact)
        write_json(folder / "b.json", better_parse)
        out = tmp_path / "board"
        assert run_cli(["leaderboard", str(folder), "--out", str(out), "--no-published"]) == 0
    finally:
        unregister_task("parse-only")
    md = (out / "leaderboard.md").read_text()
    assert "# Leaderboard: parse-only" in md and "Ranked by Parse rate (`parse_rate`)." in md
    rows = _ranked(md)
    assert rows[0].startswith("| 1 | parses ") and rows[1].startswith("| 2 | exact ")
    assert "| rows | Parse rate | JSONExact |" in md and "| 100.0% | 10.0% |" in rows[0]


def test_unknown_task_is_a_note_not_a_crash(tmp_path: Path) -> None:
    _, tuned = make_examples(TUNED_PLAN)
    path = write_json(tmp_path / "old.json", results_doc(tuned, task="retired-task", sha256=QUICK_SHA))
    out = tmp_path / "board"
    assert run_cli(["leaderboard", str(path), "--out", str(out), "--no-published"]) == 0
    md = (out / "leaderboard.md").read_text()
    assert "## retired-task: nonexistent/test.jsonl (sha256 abababab, 40 rows)" in md
    note = next(line for line in md.splitlines() if line.startswith("- task 'retired-task'"))
    assert "is not registered in this maaza (registered: " in note and "edgejson" in note
    assert note.endswith("ranked by json_exact") and len(_ranked(md)) == 1
