"""`maaza eval` of a classifier folder: label probabilities scored by the intent task, a results JSON the
leaderboard reads, the same numbers from the torch folder and its fp32 ONNX export."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from test_onnx_classifier import LABELS, build_tiny_classifier

from maaza.classify import Classifier
from maaza.cli import main
from maaza.eval.classifier import is_classifier_folder
from maaza.export.onnx_classifier import export_classifier_onnx
from maaza.report.results import eval_data_of, is_results
from maaza.tasks import register_task, unregister_task
from maaza.tasks.intent import IntentTask

pytest.importorskip("onnxruntime")

ROWS = [
    ("i want to check my card balance", "balance"),
    ("transfer money to savings please", "transfer"),
    ("where is my new card", "card_lost"),
    ("how do i change my pin", "pin"),
    ("why was i charged twice for the atm cash", "other"),
    ("check my balance", "balance"),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path]]:
    root = tmp_path_factory.mktemp("clf-eval")
    source = build_tiny_classifier(root / "merged")
    export_classifier_onnx(source, root / "onnx")
    data = root / "test.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in ROWS), encoding="utf-8")
    register_task(IntentTask(name="tiny-intent", dataset=None, labels=LABELS), replace=True)
    yield source, root / "onnx", data
    unregister_task("tiny-intent")


def run_eval(tmp_path: Path, model: Path, data: Path, *extra: str) -> dict:
    out = tmp_path / f"{model.name}{'-'.join(extra)}.json"
    code = main(["eval", "--task", "tiny-intent", "--model", str(model), "--data", str(data), "--out", str(out), *extra])
    assert code == 0
    return json.loads(out.read_text())


def test_classifier_folders_are_recognised(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    source, onnx, _ = setup
    assert is_classifier_folder(source) and is_classifier_folder(onnx)
    assert not is_classifier_folder(tmp_path) and not is_classifier_folder(None)


def test_eval_scores_label_probabilities(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    source, onnx, data = setup
    int8 = run_eval(tmp_path, onnx, data, "--backend", "onnx")
    assert is_results(int8) and int8["task"] == "tiny-intent" and int8["status"] == "complete"
    assert int8["model"]["precision"] == "int8" and int8["model"]["file"].endswith("model.int8.onnx")
    assert int8["data"]["rows"] == 6 and len(int8["data"]["sha256"]) == 64
    assert eval_data_of(int8).rows == 6
    # top-1 is exactly the share of rows whose Classifier label is the gold label
    classifier = Classifier.load(onnx, runtime="onnx", int8=True)
    predicted = [c.label for c in classifier.classify_batch([t for t, _ in ROWS])]
    expected = sum(p == y for p, (_, y) in zip(predicted, ROWS, strict=True)) / len(ROWS)
    assert int8["metrics"]["overall"]["top1"] == pytest.approx(expected)
    assert [e["predicted"] for e in int8["examples"]] == predicted
    timing = int8["timing"]
    assert timing["latency_ms"]["p50"] > 0 and timing["batched_per_s"] > 0 and timing["file_mb"] > 0

    fp32 = run_eval(tmp_path, onnx, data, "--backend", "onnx", "--fp32")
    torch_run = run_eval(tmp_path, source, data)
    assert fp32["model"]["precision"] == "fp32" and torch_run["model"]["backend"] == "transformers"
    assert [e["predicted"] for e in fp32["examples"]] == [e["predicted"] for e in torch_run["examples"]]
    for a, b in zip(fp32["examples"], torch_run["examples"], strict=True):
        assert a["confidence"] == pytest.approx(b["confidence"], abs=1e-4)
    assert torch_run["model"]["params"] == fp32["model"]["params"] > 0


def test_unknown_label_in_a_test_row_names_the_line(
    setup: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, onnx, _ = setup
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hello", "label": "balance"}\n{"text": "hi", "label": "refund"}\n', encoding="utf-8")
    assert main(["eval", "--task", "tiny-intent", "--model", str(onnx), "--backend", "onnx", "--data", str(bad),
                 "--out", str(tmp_path / "r.json")]) != 0
    err = capsys.readouterr().err
    assert f"{bad}:2" in err and "refund" in err
