"""`maaza leaderboard`: markdown rows, published rows marked, partial files skipped, plots and escaped HTML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from report_helpers import TUNED_PLAN, make_examples, results_doc, run_cli, write_json, write_results

from maaza.report.leaderboard import PLOTS, build_entries, finetune_pairs
from maaza.report.results import expand_paths


def test_markdown_rows_published_and_partial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "results"
    write_results(folder)
    out = tmp_path / "board"
    assert run_cli(["leaderboard", str(folder), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "2 results ranked (3 published rows)" in captured.out
    assert f"skipped {folder / 'partial.json'}: status 'partial' (8/40 rows)" in captured.err
    md = (out / "leaderboard.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ") and line[2].isdigit()]
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
    assert [r["kind"] for r in board["rows"]].count("published") == 3
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
    path = write_json(tmp_path / "evil.json", results_doc(tuned, name=evil))
    out = tmp_path / "board"
    assert run_cli(["leaderboard", str(path), "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;|pipe" in html
    assert html.count("<script>") == 1  # only the page's own sort script
    md = (out / "leaderboard.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;alert('x')&lt;/script&gt;\\|pipe" in md


def test_finetune_pairs_match_by_base(tmp_path: Path) -> None:
    write_results(tmp_path)
    entries, _ = build_entries([str(tmp_path)])
    pairs = finetune_pairs(entries)
    assert [(name, b.model, t.model) for name, b, t in pairs] == [
        ("smollm2-135m", "smollm2-135m", "mlm-135m-json"),
        ("SmolLM2-135M (published)", "SmolLM2-135M base", "Maaza MLM-135M-JSON v1"),
    ]


def test_expand_paths_dedupes(tmp_path: Path) -> None:
    files = write_results(tmp_path)
    found = expand_paths([str(files["base"]), str(tmp_path), str(tmp_path / "*.json")])
    assert [p for p, _ in found].count(files["base"]) == 1
    assert found[0] == (files["base"], True)
