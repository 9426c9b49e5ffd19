"""`maaza card`: front matter that huggingface_hub parses, measured numbers only, no section without its file."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import ModelCard, metadata_load
from huggingface_hub.repocard_data import model_index_to_eval_results
from report_helpers import (
    BASE_PLAN,
    HUB_ID,
    MACHINE,
    make_examples,
    make_run_dir,
    results_doc,
    run_cli,
    write_json,
)

from maaza.report.card import build_card
from maaza.tasks import get_task, register_task, unregister_task
from maaza.tasks.edgejson import EdgeJSONTask


def test_front_matter_parses_with_measured_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, docs = make_run_dir(tmp_path)
    assert run_cli(["card", str(run)]) == 0
    readme = run / "README.md"
    assert f"model card: {readme}" in capsys.readouterr().out
    card = ModelCard.load(readme)
    assert card.data.base_model == HUB_ID
    assert card.data.license == "apache-2.0"
    assert card.data.library_name == "peft"
    assert "lora" in card.data.tags and card.data.datasets == ["edgejson_v3"]
    meta = metadata_load(readme)
    assert meta is not None
    name, evals = model_index_to_eval_results(meta["model-index"])
    assert name == "mlm-135m-json-test"
    got = {(e.dataset_config, e.metric_type): e.metric_value for e in evals}
    for doc in docs:
        variant = "schema-chat-" + ("constrained" if doc["config"]["constrained"] else "unconstrained")
        overall = doc["metrics"]["overall"]
        for key in ("json_exact", "field_f1", "schema_compliance", "leaf_f1", "parse_rate"):
            assert got[(variant, key)] == overall[key]  # exact, not rounded
        assert (variant, "schema_valid") not in got  # None in the results: not reported
    assert all(e.task_type == "text-generation" and e.dataset_type == "edgejson" for e in evals)


def test_body_numbers_come_from_the_files(tmp_path: Path) -> None:
    run, docs = make_run_dir(tmp_path)
    text = build_card(run)
    body = text.split("\n---\n", 1)[1]
    unconstrained = docs[0]["metrics"]
    assert unconstrained["overall"]["json_exact"] == 0.65
    assert "| overall | 40 | 65.0% | 0.782 | 67.5% | 0.812 | - | 97.5% |" in body
    assert "| complex | 10 | 10.0% | 0.420 | 10.0% | 0.500 | - | 90.0% |" in body
    for fragment in (
        "| rank r | 16 |",
        "| alpha | 32 |",
        "k_proj, o_proj, q_proj, v_proj",  # adapter_config.json
        "| trainable parameters | 4,884,480 (3.51%) |",
        "`f00dfeed",
        "| train | 571 | 201234 |",
        "Dropped as over-length: 28 examples",
        "| learning rate | 0.0005 |",
        "| effective batch (examples/step) | 8 |",
        f"| machine | {MACHINE} |",
        "| training wall time | 3456.8 s (57.6 min) |",
        "| tokens/s (non-padding) | 174.6 |",
        "Speed: 23.5 tokens/s (batch 4)",
        "**complex schemas** (schema-chat prompt, unconstrained): JSONExact 10.0% on 10 rows",
        "`date-time`",
        'Extractor.load(adapter="adapter")',
        "PeftModel.from_pretrained(",
    ):
        assert fragment in body, fragment
    # the published card's numbers are there, and only in rows labelled published
    published_lines = [line for line in body.splitlines() if "24.7%" in line or "48.7 s" in line]
    assert published_lines and all("published" in line for line in published_lines)


def test_missing_files_drop_their_sections(tmp_path: Path) -> None:
    run, _ = make_run_dir(tmp_path, summary=False)
    body = build_card(run).split("\n---\n", 1)[1]
    for heading in (
        "## Method",
        "## Training data",
        "## Hyperparameters",
        "## Hardware and training time",
        "## Size per format",
    ):
        assert heading not in body
    assert "## Evaluation" in body
    assert "`maaza train CONFIG.yaml --output-dir RUN_DIR`" in body
    assert "`maaza export --adapter RUN_DIR/adapter --out RUN_DIR/export`" in body
    assert "3456" not in body and "4,884,480" not in body  # nothing from the absent summary


def test_sizes_section_and_explicit_results(tmp_path: Path) -> None:
    run, _ = make_run_dir(tmp_path, sizes=True)
    out = tmp_path / "card.md"
    assert (
        run_cli(
            [
                "card",
                str(run),
                "--results",
                str(run / "eval" / "edgejson_constrained.json"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    body = out.read_text().split("\n---\n", 1)[1]
    assert "| `gguf-q8_0` | `m-q8_0.gguf` | 145.0 MB | passed |" in body
    assert "| `gguf-q4_1` | `m-q4_1.gguf` | 98.8 MB | FAILED |" in body
    assert "| LoRA adapter | `adapter/` | 19.6 MB |" in body
    assert "unconstrained" not in body.split("## Evaluation", 1)[1].split("## Compared", 1)[0]
    assert not (run / "README.md").exists()


def test_partial_results_are_skipped(tmp_path: Path) -> None:
    run, _ = make_run_dir(tmp_path)
    path = run / "eval" / "edgejson_constrained.json"
    doc = json.loads(path.read_text())
    doc["status"] = "partial"
    write_json(path, doc)
    body = build_card(run).split("\n---\n", 1)[1]
    assert "skipped `eval/edgejson_constrained.json`: status 'partial'" in body
    assert "constrained:" not in body  # no evaluation heading for it
    assert "constrained" in build_card(run, include_partial=True).split("## Evaluation", 1)[1]


def test_empty_run_dir_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert run_cli(["card", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("maaza: error: ") and "maaza train" in err and "\n" not in err


def test_merged_snippet_runs_offline(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain-transformers snippet of the card works as printed, from the card's folder."""
    run, _ = make_run_dir(tmp_path)
    shutil.copytree(tiny_model_dir, run / "merged")
    body = build_card(run)
    section = body.split("Plain transformers with the merged weights", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    snippet = code.group(1).replace("max_new_tokens=256", "max_new_tokens=8")
    monkeypatch.chdir(run)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace: dict[str, object] = {}
    exec(compile(snippet, "card-snippet", "exec"), namespace)
    assert "output" in namespace
    assert os.path.isdir("merged")


def test_base_model_results_are_comparison_only(tmp_path: Path) -> None:
    """eval/base.json (the untouched base, as `maaza pipeline` writes it) is not this model's score."""
    run, _ = make_run_dir(tmp_path)
    _, base = make_examples(BASE_PLAN)
    base_doc = results_doc(base, prompt_format="seed")
    write_json(run / "eval" / "base.json", base_doc)
    text = build_card(run)
    (tmp_path / "README.md").write_text(text)
    meta = metadata_load(tmp_path / "README.md")
    assert meta is not None
    _, evals = model_index_to_eval_results(meta["model-index"])
    assert {e.dataset_config for e in evals} == {"schema-chat-constrained", "schema-chat-unconstrained"}
    body = text.split("\n---\n", 1)[1]
    evaluation = body.split("## Evaluation", 1)[1].split("## Compared", 1)[0]
    assert "seed prompt" not in evaluation
    row = next(line for line in body.splitlines() if "before fine-tuning" in line)
    assert row.startswith(
        "| smollm2-135m, before fine-tuning (seed prompt, unconstrained) | measured | 40 | 25.0% |"
    )
    assert "- results (base model, comparison only): `eval/base.json`" in body
    assert "seed prompt" not in body.split("## Limitations", 1)[1]


# ------------------------------------------------------------------------------------ the task's parts


def test_report_reaches_tasks_only_through_the_registry() -> None:
    """report/ never imports maaza.tasks.edgejson; the EdgeJSON card module never imports the card builder."""
    import ast

    import maaza.report

    def imported(path: Path) -> set[str]:
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        return names

    report_dir = Path(maaza.report.__file__).parent
    for path in sorted(report_dir.glob("*.py")):
        bad = {name for name in imported(path) if name.startswith("maaza.tasks.")}
        assert not bad, f"{path.name} imports {bad}: use maaza.tasks.get_task"
    card_module = report_dir.parent / "tasks" / "edgejson" / "card.py"
    assert "maaza.report.card" not in imported(card_module)
    assert imported(report_dir / "markdown.py") <= {"__future__", "pathlib", "typing", "maaza.errors"}
    code = (
        "import sys, maaza.tasks.edgejson.card\n"
        "assert 'maaza.report.card' not in sys.modules, sorted(m for m in sys.modules if 'maaza' in m)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_edgejson_task_gives_the_comparison_without_context() -> None:
    _, base = make_examples(BASE_PLAN)
    doc = results_doc(base, prompt_format="seed")
    (section,) = get_task("edgejson").card_sections([doc])
    assert section.startswith("## Compared with the published card\n")
    assert "| smollm2-135m (seed prompt, unconstrained) | measured | 40 | 25.0% |" in section
    assert "| Maaza MLM-135M-JSON v1 (published) | *published* | 158 | 24.7% |" in section


def test_the_cards_task_supplies_its_sections(tmp_path: Path) -> None:
    """A task's hooks decide tags, label, sections after the evaluation, usage and limitations."""

    class PlainTask(EdgeJSONTask):
        name = "plain-json"
        card_usage = None  # no usage section

        def card_tags(self) -> list[str]:
            return ["plain-tag"]

        def card_label(self) -> str:
            return "plain extraction"

        def card_sections(self, results: Sequence[Mapping[str, Any]]) -> list[str]:  # the protocol's form
            return [f"## Plain section\n\n{len(results)} results.\n"]

    run, _ = make_run_dir(tmp_path, summary=False, sizes=True)
    metadata = json.loads((run / "adapter" / "maaza.json").read_text())
    write_json(run / "adapter" / "maaza.json", {**metadata, "task": "plain-json"})
    register_task(PlainTask())
    try:
        text = build_card(run)
    finally:
        unregister_task("plain-json")
    (tmp_path / "README.md").write_text(text)
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.tags == ["maaza", "plain-tag", "plain-json", "text-generation", "lora"]
    meta = metadata_load(tmp_path / "README.md")
    assert meta is not None
    _, evals = model_index_to_eval_results(meta["model-index"])
    assert {e.task_name for e in evals} == {"plain extraction"}
    body = text.split("\n---\n", 1)[1]
    assert "for the `plain-json` task (plain extraction)." in body
    headings = [line for line in body.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Architecture",
        "## Evaluation",
        "## Plain section",
        "## Size per format",
        "## Limitations",
        "## Sources",
        "## License",
    ]
    assert "2 results." in body and "published card" not in body
    assert "**complex schemas**" in body  # limitations: the EdgeJSON hook it inherits


def test_card_for_an_unregistered_task(tmp_path: Path) -> None:
    """An old run of a task this install lacks: the generic card, a note, no crash."""
    run, _ = make_run_dir(tmp_path, summary=False)
    metadata = json.loads((run / "adapter" / "maaza.json").read_text())
    write_json(run / "adapter" / "maaza.json", {**metadata, "task": "retired-task"})
    text = build_card(run)
    body = text.split("\n---\n", 1)[1]
    assert "The `retired-task` task is not registered in this maaza" in body
    for heading in ("## Compared with the published card", "## Usage"):
        assert heading not in body
    assert "| overall | 40 | 65.0% | 0.782 | 67.5% | 0.812 | - | 97.5% |" in body  # generic evaluation
    assert "**complex schemas**" not in body and "Evaluated only on edgejson rows" in body
    (tmp_path / "README.md").write_text(text)
    card = ModelCard.load(tmp_path / "README.md")
    assert "json-extraction" not in card.data.tags and "retired-task" in card.data.tags


def test_a_model_on_two_test_sets_names_the_set_in_every_row(tmp_path: Path) -> None:
    """A card reporting the same decoding on two test sets (EdgeJSON v3 and a hand-written set) says which
    row is which: comparison rows, speeds and limitations each name their set."""
    run, docs = make_run_dir(tmp_path)
    constrained = next(doc for doc in docs if doc["config"]["constrained"])
    other = json.loads(json.dumps(constrained))
    other["data"]["path"] = str(tmp_path / "edgejson_real" / "test.jsonl")
    other["timing"]["tokens_per_s"] = 31.5
    write_json(run / "eval" / "edgejson_real.json", other)
    paths = [run / "eval" / "edgejson_constrained.json", run / "eval" / "edgejson_real.json"]
    body = build_card(run, [str(p) for p in paths]).split("\n---\n", 1)[1]
    v3_label, real_label = "on data/test.jsonl (40 rows)", "on edgejson_real/test.jsonl (40 rows)"
    rows = [line for line in body.splitlines() if line.startswith("| mlm-135m-json-test (")]
    assert len(rows) == 2 and v3_label in rows[0] and real_label in rows[1]
    assert (
        f"17.25 (schema-chat prompt, constrained, {v3_label}); 31.5 (schema-chat prompt, constrained, {real_label})"
        in body
    )
    for label in (v3_label, real_label):
        assert (
            f"- **complex schemas** (schema-chat prompt, constrained, {label}): JSONExact 30.0% on 10 rows"
            in body
        )
    assert (
        "Evaluated only on edgejson rows (data/test.jsonl (40 rows); edgejson_real/test.jsonl (40 rows))"
        in body
    )
    single = build_card(run, [str(paths[0])]).split("\n---\n", 1)[1]
    assert "(schema-chat prompt, constrained) | measured" in single and "rows)) | measured" not in single
