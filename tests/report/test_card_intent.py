"""`maaza card` of a classifier run folder (`training_summary.json`, `merged/maaza.json`, results written by
`evaluate_probabilities`): the intent task's sections with the numbers of the results JSONs, a
text-classification front matter, and no EdgeJSON-only or decoding text with empty values."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import ModelCard
from report_helpers import run_cli, training_summary, write_json
from test_leaderboard_intent import LABELS, TASK, make_intent_results

from maaza.report.markdown import num
from maaza.tasks import register_task, unregister_task
from maaza.tasks.intent import IntentTask

pytest.importorskip("onnxruntime")

OWN = ("torch", "onnx_fp32", "onnx_int8")


def classifier_summary() -> dict[str, Any]:
    """A training_summary.json as `maaza train` writes it for a distilled sequence classifier."""
    summary = training_summary()
    config = summary["config"]
    config.update(name="tiny-intent-student", task=TASK)
    config["model"] = {"base": "smollm2-135m", "method": "full", "kind": "sequence_classifier"}
    config["data"] = {"train": ["banking77/train.jsonl"], "prompt_format": "text", "minify_targets": True}
    config["train"].update(
        loss="distill", distill={"temperature": 2.0, "alpha": 0.5, "teacher_logits": "t.json"}
    )
    summary.update(
        name="tiny-intent-student",
        method="full",
        model_kind="sequence_classifier",
        loss="distill",
        distill={"file": "t.json", "teacher": "big-bert", "teacher_hash": "cafe", "rows": 571},
    )
    summary["data"]["files"] = {"/data/banking77/train.jsonl": "f00dfeed" * 8}
    summary["data"].pop("dropped_overlength")
    return summary


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Path]]]:
    """A run folder: the classifier in merged/ (+ its ONNX export and a second model), the training summary,
    results in results/ (found by the card), and a teacher's results from outside the run in eval/."""
    register_task(IntentTask(name=TASK, dataset=None, labels=LABELS), replace=True)
    try:
        folder = tmp_path_factory.mktemp("intent-card") / "run"
        results = make_intent_results(folder)
        metadata = json.loads((folder / "merged" / "maaza.json").read_text(encoding="utf-8"))
        write_json(folder / "merged" / "maaza.json", {**metadata, "task": TASK, "method": "full"})
        write_json(folder / "training_summary.json", classifier_summary())
        teacher = json.loads(results["shifted"].read_text(encoding="utf-8"))
        teacher["model"].update(name="big-bert", path="/models/big-bert")
        results["teacher"] = write_json(folder / "eval" / "teacher.json", teacher)
        results["shifted"].unlink()  # the card's own results: torch, ONNX fp32, ONNX int8
        del results["shifted"]
        yield folder, results
    finally:
        unregister_task(TASK)


def _card(run_dir: Path, out: Path, *results: Path) -> tuple[Any, str]:
    argv = ["card", str(run_dir), "--out", str(out)]
    if results:
        argv += ["--results", *map(str, results)]
    assert run_cli(argv) == 0
    card = ModelCard.load(out)
    return card, card.text


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _section(body: str, heading: str) -> str:
    start = body.index(heading + "\n")
    end = body.find("\n## ", start + len(heading))
    return body[start : end if end != -1 else None]


def test_classifier_card_sections_from_the_results(run: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    folder, results = run
    card, body = _card(folder, tmp_path / "README.md", *(results[name] for name in OWN))
    docs = {name: _load(results[name]) for name in OWN}

    assert card.data.pipeline_tag == "text-classification"
    assert card.data.tags[:4] == ["maaza", "intent-classification", "text-classification", TASK]
    assert "text-generation" not in card.data.tags and "full-fine-tune" in card.data.tags
    evals = card.data.eval_results
    assert len(evals) == 3 * 3  # top1, top5, macro_f1 per results file
    assert {e.task_type for e in evals} == {"text-classification"}
    assert {e.dataset_config for e in evals} == {"transformers-fp32", "onnxruntime-fp32", "onnxruntime-int8"}
    for e in evals:
        doc = next(d for d in docs.values() if e.dataset_config.endswith(d["model"]["precision"]) and
                   e.dataset_config.startswith(d["model"]["backend"]))  # fmt: skip
        assert e.metric_value == doc["metrics"]["overall"][e.metric_type]

    assert body.lstrip().startswith("# tiny-intent-student\n")
    assert f"with maaza for the `{TASK}` task (intent classification)." in body
    # the intent task's section: one row per results file, every number read from it
    intent = _section(body, "## Intent classification")
    assert "| results | rows | top-1 | top-5 | macro-F1 | latency p50 | inf/s | size |" in intent
    for doc in docs.values():
        overall, timing, model = doc["metrics"]["overall"], doc["timing"], doc["model"]
        row = (
            f"| {model['name']} ({model['backend']} {model['precision']}) | {doc['data']['rows']} "
            f"| {100 * overall['top1']:.1f}% | {100 * overall['top5']:.1f}% | {overall['macro_f1']:.3f} "
            f"| {num(timing['latency_ms']['p50'])} ms | {num(timing['batched_per_s'])} | {num(timing['file_mb'])} MB |"
        )
        assert row in intent
    assert "big-bert" not in intent  # the teacher's results are not this model's
    # the generic evaluation: per results file, classifier speed (no decoding), metrics overall and by label
    evaluation = _section(body, "## Evaluation")
    for doc in docs.values():
        model, timing, overall = doc["model"], doc["timing"], doc["metrics"]["overall"]
        assert f"### data/test.jsonl (6 rows): {model['backend']} {model['precision']}\n" in evaluation
        assert (
            f"batch-1 latency p50 {timing['latency_ms']['p50']} ms, p95 {timing['latency_ms']['p95']} ms, "
            f"{timing['batched_per_s']} inferences/s batched, peak RSS {timing['peak_rss_mb']} MiB, "
            f"file {timing['file_mb']} MB."
        ) in evaluation
        assert (
            f"| overall | 6 | {100 * overall['top1']:.1f}% | {100 * overall['top5']:.1f}% | {overall['macro_f1']:.3f} |"
            in evaluation
        )
    assert "| group | n | top-1 | top-5 | macro-F1 |" in evaluation
    assert all(f"\n| {label} | " in evaluation for label in doc["metrics"]["by_label"])
    # how it was trained: a classifier, distilled; no JSON targets, no completion-token loss
    method = _section(body, "## Method")
    assert "| model kind | sequence classifier" in method
    assert (
        "| loss | distillation from cached teacher logits over the labels (teacher `big-bert`, T = 2, alpha = 0.5) |"
        in method
    )
    assert "labelled examples/s" in _section(body, "## Hardware and training time")
    # nothing EdgeJSON-only or decoding-only with empty values
    for text in (
        "tokens/s (batch", "decoding `None`", "JSONExact", "Field F1", "complex", "minified JSON",
        "completion tokens only", "published", "synthetic", "None",
    ):  # fmt: skip
        assert text not in body.split("## Sources")[0], text
    sources = _section(body, "## Sources")
    assert all(f"- results: `results/{name}.json`" in sources for name in OWN)


def test_card_finds_the_results_and_keeps_a_teacher_apart(
    run: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    folder, _ = run
    card, body = _card(folder, tmp_path / "README.md")  # results found in RUN_DIR/results and eval/
    assert "- results (base model, comparison only): `eval/teacher.json`" in body
    intent = _section(body, "## Intent classification")
    assert intent.count("\n| onnx (onnxruntime ") == 2 and "| merged (transformers fp32) |" in intent
    assert "big-bert (" not in intent
    assert len(card.data.eval_results) == 9


def test_classifier_results_alone(run: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    """A folder with only results JSONs of a classifier (no summary, no maaza.json): an evaluation card."""
    _, results = run
    folder = tmp_path / "only-results"
    doc = copy.deepcopy(_load(results["onnx_int8"]))
    write_json(folder / "eval" / "int8.json", doc)
    card, body = _card(folder, tmp_path / "README.md")
    assert card.data.pipeline_tag == "text-classification"
    assert "as it is (no fine-tuning), evaluated with maaza on the `tiny-intent` task." in body
    assert "## Intent classification" in body and "| onnx (onnxruntime int8) | 6 |" in body
    assert "tokens/s" not in body and "decoding `None`" not in body
