"""`maaza.classify`: the Classifier on ONNX (fp32, INT8) and torch, and `maaza classify`, on a tiny model."""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "export"))
from test_onnx_classifier import CONTEXT, LABELS, build_tiny_classifier

from maaza.classify import Classification, Classifier, TruncationWarning
from maaza.cli import main
from maaza.errors import MaazaError
from maaza.export.onnx_classifier import export_classifier_onnx
from maaza.models import shipped

pytest.importorskip("onnxruntime")

TEXTS = [
    "i want to check my card balance",
    "transfer money to savings please",
    "lost",
    "where is my new card",
    "why was i charged twice for the atm cash",
]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the transformers classifier folder, its ONNX export with model.onnx and model.int8.onnx)."""
    root = tmp_path_factory.mktemp("classify")
    source = build_tiny_classifier(root / "merged")
    export_classifier_onnx(source, root / "onnx")
    return source, root / "onnx"


@pytest.fixture(scope="module")
def onnx_fp32(folders: tuple[Path, Path]) -> Classifier:
    return Classifier.load(folders[1], runtime="onnx", int8=False, threads=1)


@pytest.fixture(scope="module")
def torch_clf(folders: tuple[Path, Path]) -> Classifier:
    return Classifier.load(folders[0], runtime="torch")


def _same(a: Classification, b: Classification, tol: float = 1e-5) -> None:
    assert a.label == b.label and abs(a.score - b.score) < tol
    assert [label for label, _ in a.top_k] == [label for label, _ in b.top_k]
    assert all(abs(p - q) < tol for (_, p), (_, q) in zip(a.top_k, b.top_k, strict=True))


def test_onnx_and_torch_agree(onnx_fp32: Classifier, torch_clf: Classifier) -> None:
    assert onnx_fp32.runtime == "onnx" and torch_clf.runtime == "torch"
    assert onnx_fp32.labels == torch_clf.labels == tuple(LABELS)
    assert onnx_fp32.model_file is not None and onnx_fp32.model_file.name == "model.onnx"
    for text in TEXTS:
        result = onnx_fp32.classify(text, top_k=3)
        assert isinstance(result, Classification) and len(result.top_k) == 3
        assert result.top_k[0] == (result.label, result.score)
        assert result.top_k[0][1] >= result.top_k[1][1] >= result.top_k[2][1]
        _same(result, torch_clf.classify(text, top_k=3))
    full = onnx_fp32.classify(TEXTS[0], top_k=99)  # top_k past the labels: all of them, summing to 1
    assert len(full.top_k) == len(LABELS) and abs(sum(p for _, p in full.top_k) - 1) < 1e-6


def test_int8_default_and_auto_runtime(folders: tuple[Path, Path], onnx_fp32: Classifier) -> None:
    source, exported = folders
    int8 = Classifier.load(exported)  # auto -> onnx, int8 by default, threads = physical cores
    assert int8.runtime == "onnx" and int8.model_file == exported / "model.int8.onnx" and int8.threads >= 1
    agree = sum(int8.classify(t).label == onnx_fp32.classify(t).label for t in TEXTS)
    assert agree >= len(TEXTS) - 1
    assert Classifier.load(source).runtime == "torch"  # no ONNX file: the transformers folder
    assert Classifier.load(exported / "model.onnx").model_file == exported / "model.onnx"


def test_batch_restores_order_and_equals_single_calls(onnx_fp32: Classifier, torch_clf: Classifier) -> None:
    texts = TEXTS * 3
    for clf in (onnx_fp32, torch_clf):
        batched = clf.classify_batch(texts, top_k=2, batch_size=4)
        assert len(batched) == len(texts)
        for text, result in zip(texts, batched, strict=True):
            _same(result, clf.classify(text, top_k=2))
    assert onnx_fp32.classify_batch([]) == []


def test_long_text_is_truncated_counted_and_warned_once(onnx_fp32: Classifier) -> None:
    long_text = " ".join(["my card balance"] * 20)  # 60 tokens > max_length 32
    assert onnx_fp32.max_length == CONTEXT
    before = onnx_fp32.truncated
    with pytest.warns(TruncationWarning, match="1 of 2 text") as caught:
        results = onnx_fp32.classify_batch([long_text, TEXTS[0]])
    assert len(caught) == 1 and onnx_fp32.truncated == before + 1
    kept = " ".join(long_text.split()[:CONTEXT])  # word-level tokenizer: one token per word
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exactly max_length tokens: no truncation, no warning
        _same(results[0], onnx_fp32.classify(kept))
    assert onnx_fp32.truncated == before + 1


def test_input_errors_name_the_text(onnx_fp32: Classifier) -> None:
    with pytest.raises(MaazaError, match="index 2 is empty"):
        onnx_fp32.classify_batch(["ok", "my card", "   \n"])
    with pytest.raises(MaazaError, match="index 0 is empty"):
        onnx_fp32.classify("")
    with pytest.raises(MaazaError, match="index 1 is not a string"):
        onnx_fp32.classify_batch(["ok", None])  # type: ignore[list-item]
    with pytest.raises(MaazaError, match="top_k"):
        onnx_fp32.classify("ok", top_k=0)
    with pytest.raises(MaazaError, match="not one string"):
        onnx_fp32.classify_batch("my card")  # type: ignore[arg-type]


def test_load_errors(folders: tuple[Path, Path], tmp_path: Path) -> None:
    exported = folders[1]
    with pytest.raises(MaazaError, match="unknown runtime"):
        Classifier.load(exported, runtime="tflite")
    with pytest.raises(MaazaError, match="came from"):
        Classifier.load(exported, runtime="torch")
    with pytest.raises(MaazaError, match="not found"):
        Classifier.load(tmp_path / "nothing")
    fp32_only = tmp_path / "fp32"
    shutil.copytree(exported, fp32_only)
    (fp32_only / "model.int8.onnx").unlink()
    with pytest.raises(MaazaError, match="pass int8=False"):
        Classifier.load(fp32_only)
    meta = json.loads((fp32_only / "maaza.json").read_text())
    (fp32_only / "maaza.json").write_text(json.dumps({**meta, "prompt_format": "instruct"}))
    with pytest.raises(MaazaError, match="prompt format 'instruct'"):
        Classifier.load(fp32_only, int8=False)


def test_shipped_intent_model(
    folders: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = tmp_path / "shipped.json"
    listing.write_text(json.dumps({}))
    monkeypatch.setattr(shipped, "SHIPPED_FILE", listing)
    with pytest.raises(MaazaError, match=r"benchmarks/intent_distill\.py"):
        Classifier.load()
    shutil.copytree(folders[1], tmp_path / "intent_onnx")
    entry = {"task": "intent", "path": "intent_onnx", "backend": "onnx", "summary": "tiny", "results": "-"}
    listing.write_text(json.dumps({"tiny-intent": entry}))
    clf = Classifier.load(threads=1)
    assert clf.path == tmp_path / "intent_onnx" and clf.labels == tuple(LABELS)


def test_cli_prints_one_json_line_per_text(
    folders: tuple[Path, Path], onnx_fp32: Classifier, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = str(folders[1])
    assert (
        main(["classify", "--model", exported, "--fp32", "--top-k", "2", "--threads", "1", *TEXTS[:2]]) == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["text"] for row in lines] == TEXTS[:2]
    for row in lines:
        expected = onnx_fp32.classify(row["text"], top_k=2)
        assert set(row) == {"text", "label", "score", "top_k"} and row["label"] == expected.label
        assert abs(row["score"] - expected.score) < 1e-5 and [r[0] for r in row["top_k"]] == [
            label for label, _ in expected.top_k
        ]

    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"id": 7, "text": TEXTS[3]}) + "\n\n" + json.dumps({"text": TEXTS[4]}) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["classify", "--model", exported, "--file", str(rows), "--out", str(out)]) == 0
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row.get("id") for row in written] == [7, None] and len(written[0]["top_k"]) == 5
    assert "2 text(s) classified" in capsys.readouterr().err

    text_file = tmp_path / "in.txt"
    text_file.write_text(TEXTS[0] + "\n" + " ".join(["card"] * 40) + "\n")
    assert main(["classify", "--model", exported, "--file", str(text_file)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2 and "maaza: warning: 1 of 2 text(s)" in captured.err

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"prompt": "no text"}) + "\n")
    assert main(["classify", "--model", exported, "--file", str(bad)]) == 2
    assert f"{bad}:2: field 'text' is missing" in capsys.readouterr().err
    assert main(["classify", "--model", exported]) == 2
    assert "nothing to classify" in capsys.readouterr().err
