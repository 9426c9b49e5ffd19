"""EdgeIntent (maaza.tasks.intent): rows and their ids, every input error, the validation carve-out, scores of
answers and of distributions, aggregates against hand computations, the OOS threshold, reports, registry."""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from maaza.errors import MaazaError
from maaza.paths import data_root
from maaza.tasks import get_task
from maaza.tasks.base import ClassificationTask, Task, is_classification_task
from maaza.tasks.intent import IntentRow, IntentTask, carve_validation, plot_confused_pairs, row_ids, text_id

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def write_labels(path: Path, labels: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(labels), encoding="utf-8")
    return path


def sha_id(text: str) -> str:
    return "r" + hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.fixture
def abc(tmp_path: Path) -> IntentTask:
    """A task over labels a, b, c read from tmp/task/labels.json."""
    return IntentTask.from_labels_file(
        write_labels(tmp_path / "task" / "labels.json", ["a", "b", "c"]), name="abc"
    )


def oos_task() -> IntentTask:
    return IntentTask(name="t-oos", dataset=None, labels=["a", "b", "oos"], oos_label="oos")


# --------------------------------------------------------------------------------------------- rows


def test_row_ids_are_content_hashes_with_suffixes_for_repeats(abc: IntentTask, tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "task" / "train.jsonl",
        [
            {"text": "hello", "label": "a"},
            {"text": "hello", "label": "b"},
            "",
            {"text": "world", "label": "c"},
            {"text": "hello", "label": "a"},
        ],
    )
    rows = abc.load_rows(data, {})
    assert [r.id for r in rows] == [
        sha_id("hello"),
        sha_id("hello") + "-2",
        sha_id("world"),
        sha_id("hello") + "-3",
    ]
    assert [r.source_line for r in rows] == [1, 2, 4, 5]  # the blank line is skipped, numbering kept
    assert rows[0] == IntentRow(sha_id("hello"), "hello", "a", 1, "train", "in")
    assert rows[0].groups == {"label": "a", "scope": "in"}
    assert text_id("world") == sha_id("world") and row_ids(["x", "y", "x"]) == [
        sha_id("x"),
        sha_id("y"),
        sha_id("x") + "-2",
    ]
    with pytest.raises(AttributeError):
        rows[0].label = "b"  # type: ignore[misc]  # frozen


def test_scope_is_oos_only_with_an_oos_label(tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "d" / "val.jsonl", [{"text": "hi", "label": "a"}, {"text": "?", "label": "oos"}]
    )
    assert [r.scope for r in oos_task().load_rows(data, {})] == ["in", "oos"]
    plain = IntentTask(name="plain", dataset=None, labels=["a", "oos"])
    assert [r.groups["scope"] for r in plain.load_rows(data, {})] == ["in", "in"]
    assert plain.group_keys == ("label",) and oos_task().group_keys == ("scope",)


def test_limit_takes_a_slice_stratified_by_label(abc: IntentTask, tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "task" / "test.jsonl", [{"text": f"t{i}", "label": "aaabbc"[i]} for i in range(6)]
    )
    assert [r.label for r in abc.load_rows(data, {}, limit=3)] == ["a", "b", "c"]
    assert len(abc.load_rows(data, {}, limit=10)) == 6


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"label": "a"}, ":2: field 'text' is missing"),
        ({"text": 7, "label": "a"}, ":2: field 'text' must be a string, got int"),
        ({"text": "", "label": "a"}, ":2: field 'text' is empty"),
        ({"text": " \t ", "label": "a"}, ":2: field 'text' is empty"),
        ({"text": "hi"}, ":2: field 'label' is missing"),
        ({"text": "hi", "label": 3}, ":2: field 'label' must be a string, got int"),
        ("[1, 2]", ":2: expected a JSON object, got list"),
        ("{oops", ":2: malformed JSON line"),
    ],
)
def test_bad_rows_name_file_line_and_field(abc: IntentTask, tmp_path: Path, line: Any, message: str) -> None:
    data = write_jsonl(tmp_path / "task" / "bad.jsonl", [{"text": "fine", "label": "a"}, line])
    with pytest.raises(MaazaError) as info:
        abc.load_rows(data, {})
    assert str(info.value).startswith(f"{data}{message}")


def test_an_unknown_label_names_file_line_field_and_the_labels_file(abc: IntentTask, tmp_path: Path) -> None:
    labels = tmp_path / "task" / "labels.json"
    data = write_jsonl(
        tmp_path / "task" / "test.jsonl", [{"text": "fine", "label": "a"}, {"text": "hm", "label": "x"}]
    )
    with pytest.raises(MaazaError) as info:
        abc.load_rows(data, {})
    assert str(info.value) == (
        f"{data}:2: field 'label': unknown label 'x'; not one of the task's 3 labels (labels.json at {labels})"
    )
    alone = write_jsonl(
        tmp_path / "alone" / "test.jsonl", [{"text": "hm", "label": "x"}]
    )  # no labels.json beside
    given = IntentTask(name="given", dataset=None, labels=["a"])
    with pytest.raises(
        MaazaError,
        match=r"unknown label 'x'; not one of the task's 1 labels \(the labels given to task given\)",
    ):
        given.load_rows(alone, {})


def test_a_labels_file_beside_the_data_must_match_the_tasks(abc: IntentTask, tmp_path: Path) -> None:
    ours = tmp_path / "task" / "labels.json"
    rows = [{"text": "fine", "label": "a"}]
    reordered = write_labels(tmp_path / "other" / "labels.json", ["a", "c", "b"])
    data = write_jsonl(tmp_path / "other" / "test.jsonl", rows)
    with pytest.raises(MaazaError) as info:
        abc.load_rows(data, {})
    assert str(info.value) == (
        f"{reordered}: the labels beside test.jsonl differ from the task's (labels.json at {ours}): the same 3 "
        "labels in a different order (position 1: 'c' there, 'b' in the task's)"
    )
    write_labels(reordered, ["a", "b", "d"])
    with pytest.raises(MaazaError) as info:
        abc.load_rows(data, {})
    assert str(info.value).startswith(
        f"{reordered}: the labels beside test.jsonl differ from the task's (labels.json at {ours}): "
    )
    assert "1 not in the task's ('d'); 1 of the task's missing ('c')" in str(info.value)
    write_labels(reordered, ["a", "b", "c"])
    assert len(abc.load_rows(data, {})) == 1  # the same list: fine
    assert len(abc.load_rows(write_jsonl(tmp_path / "task" / "test.jsonl", rows), {})) == 1  # its own file


def test_label_sources_and_their_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAZA_DATA_DIR", str(tmp_path / "root"))
    lazy = IntentTask(name="lazy", dataset="mine")
    assert lazy.default_data("test") is None  # nothing there yet; no labels needed to say so
    with pytest.raises(
        MaazaError,
        match=re.escape(f"task lazy: labels file not found: {tmp_path / 'root' / 'mine' / 'labels.json'}"),
    ):
        _ = lazy.labels
    write_labels(tmp_path / "root" / "mine" / "labels.json", ["x", "y"])
    write_jsonl(tmp_path / "root" / "mine" / "test.jsonl", [{"text": "a", "label": "y"}])
    assert lazy.labels == ("x", "y") and is_classification_task(lazy)
    assert lazy.default_data("test").rows == tmp_path / "root" / "mine" / "test.jsonl"  # type: ignore[union-attr]
    assert lazy.default_data("train") is None
    assert lazy.load_rows(lazy.default_data().rows, {})[0].label == "y"  # type: ignore[union-attr]
    bad = write_labels(tmp_path / "bad.json", ["a", "a"])
    with pytest.raises(MaazaError, match=re.escape(f"{bad}: label 'a' is listed twice")):
        IntentTask.from_labels_file(bad)
    with pytest.raises(MaazaError, match=re.escape(f"labels file not found: {tmp_path / 'none.json'}")):
        IntentTask.from_labels_file(tmp_path / "none.json")
    with pytest.raises(MaazaError, match="the out-of-scope label 'oos' is not one of the labels"):
        IntentTask(name="t", dataset=None, labels=["a"], oos_label="oos")


def test_a_dataset_without_a_test_split_serves_val_as_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAAZA_DATA_DIR", str(tmp_path))
    for split in ("train", "val"):
        write_jsonl(tmp_path / "clinc150" / f"{split}.jsonl", [{"text": "a", "label": "oos"}])
    task = IntentTask(name="c", dataset="clinc150", oos_label="oos")
    assert task.default_data("test").rows == tmp_path / "clinc150" / "val.jsonl"  # type: ignore[union-attr]
    assert task.default_data("train").rows == tmp_path / "clinc150" / "train.jsonl"  # type: ignore[union-attr]
    assert task.default_data("validation") is None


# -------------------------------------------------------------------------------------- validation


def carve_rows() -> list[IntentRow]:
    counts = {"a": 10, "b": 5, "c": 2, "d": 1}
    return [
        IntentRow(sha_id(f"{label}{i}"), f"{label}{i}", label, 0)
        for label, n in counts.items()
        for i in range(n)
    ]


def test_carve_validation_is_stratified_disjoint_and_deterministic() -> None:
    rows = carve_rows()
    train, val = carve_validation(rows, fraction=0.2, seed=0)
    # round(0.2 n) per label: a 2, b 1, c 0.4 -> at least 1, d (one row) none
    assert {label: sum(r.label == label for r in val) for label in "abcd"} == {"a": 2, "b": 1, "c": 1, "d": 0}
    assert not {r.id for r in train} & {r.id for r in val}
    assert sorted(train + val, key=rows.index) == rows  # together exactly the input, each part in input order
    assert train == [r for r in rows if r in train] and val == [r for r in rows if r in val]
    assert carve_validation(rows, 0.2, 0) == (train, val)
    shuffled = rows[:]
    random.Random(5).shuffle(shuffled)
    assert {r.id for r in carve_validation(shuffled, 0.2, 0)[1]} == {r.id for r in val}  # order-free
    assert any(
        {r.id for r in carve_validation(rows, 0.2, seed)[1]} != {r.id for r in val} for seed in (1, 2, 3)
    )
    assert carve_validation(rows, 0.0) == (rows, [])
    with pytest.raises(MaazaError, match=r"validation fraction must be in \[0, 1\), got 1.0"):
        carve_validation(rows, 1.0)
    assert IntentTask(name="t", dataset=None, labels=list("abcd")).carve_validation(rows, 0.2) == (train, val)


# --------------------------------------------------------------------------------------------- model i/o


def test_prompts_target_and_constraint(abc: IntentTask) -> None:
    row = IntentRow("r1", "I lost my card", "b")
    assert abc.prompt_formats == ("text", "instruct") and abc.default_prompt_format == "text"
    assert abc.prompt(row, "text", None) == "I lost my card"
    instruct = abc.prompt(row, "instruct", None)
    assert instruct.endswith("Message: I lost my card\n\nAnswer:") and '{"intent": "<intent>"}' in instruct
    assert not any(label in instruct.split("Message:")[0] for label in ("a,", "b,"))  # no label list
    with pytest.raises(MaazaError, match="unknown prompt format 'chat'; choose one of text, instruct"):
        abc.prompt(row, "chat", None)
    assert abc.target(row) == '{"intent":"b"}'
    assert abc.constraint(row) == {
        "type": "object",
        "properties": {"intent": {"enum": ["a", "b", "c"]}},
        "required": ["intent"],
        "additionalProperties": False,
    }
    assert abc.label_of(row) == "b"


@pytest.mark.parametrize(
    ("output", "predicted"),
    [
        ('{"intent": "b"}', "b"),
        ('Sure: {"intent":"c"} done', "c"),
        ('```json\n{"intent": "a"}\n```', "a"),
        ("b", "b"),
        (' "b"\n', "b"),
        ('{"intent": "zzz"}', "zzz"),
        ("no idea", None),
        ('{"label": "b"}', None),
    ],
)
def test_score_reads_json_or_a_bare_label(abc: IntentTask, output: str, predicted: str | None) -> None:
    score = abc.score(IntentRow("r1", "t", "b"), output)
    assert score == {
        "predicted": predicted,
        "correct": predicted == "b",
        "top5_correct": predicted == "b",
        "parsed_ok": predicted is not None,
        "label": "b",
        "scope": "in",
    }


LABELS7 = ["a", "b", "c", "d", "e", "f", "oos"]
PROBS7 = [0.05, 0.30, 0.20, 0.10, 0.15, 0.05, 0.15]  # order: b c e oos(tie with e: the earlier first) d a f


def test_score_distribution_top1_top5_rank_and_threshold() -> None:
    task = IntentTask(name="t7", dataset=None, labels=LABELS7, oos_label="oos")
    scored = task.score_distribution(IntentRow("r", "t", "c"), PROBS7)
    assert scored == {
        "predicted": "b",
        "confidence": 0.30,
        "correct": False,
        "top5_correct": True,
        "rank": 2,
        "label": "c",
        "scope": "in",
        "top5": [
            {"label": "b", "prob": 0.30},
            {"label": "c", "prob": 0.20},
            {"label": "e", "prob": 0.15},
            {"label": "oos", "prob": 0.15},
            {"label": "d", "prob": 0.10},
        ],
    }
    far = task.score_distribution(IntentRow("r", "t", "f"), PROBS7)
    assert (far["rank"], far["top5_correct"]) == (7, False)
    assert task.score_distribution(IntentRow("r", "t", "b"), PROBS7)["correct"] is True
    below = task.score_distribution(IntentRow("r", "t", "oos", scope="oos"), PROBS7, threshold=0.35)
    assert (below["predicted"], below["correct"], below["rank"]) == ("oos", True, 4)
    at = task.score_distribution(IntentRow("r", "t", "b"), PROBS7, threshold=0.30)  # not below: kept
    assert at["predicted"] == "b"
    no_oos = IntentTask(name="t", dataset=None, labels=LABELS7)  # no oos label: the threshold is ignored
    assert no_oos.score_distribution(IntentRow("r", "t", "b"), PROBS7, threshold=0.9)["predicted"] == "b"
    with pytest.raises(MaazaError, match="got 3 probabilities for the task's 7 labels"):
        task.score_distribution(IntentRow("r", "t", "b"), [0.1, 0.2, 0.7])


# ------------------------------------------------------------------------------------------- aggregate

# (gold, predicted, top5_correct): labels a, b, oos
HANDMADE = [
    ("a", "a", True),
    ("a", "b", True),
    ("b", "b", True),
    ("b", "oos", False),
    ("oos", "oos", True),
    ("oos", "a", True),
    ("a", "a", True),
    ("b", None, False),
    ("oos", "oos", True),
    ("a", "oos", True),
]


def handmade_examples() -> list[dict[str, Any]]:
    return [
        {
            "label": gold,
            "predicted": pred,
            "correct": gold == pred,
            "top5_correct": top5,
            "scope": "oos" if gold == "oos" else "in",
        }
        for gold, pred, top5 in HANDMADE
    ]


def test_aggregate_against_a_hand_computation() -> None:
    metrics = oos_task().aggregate(handmade_examples())
    overall = metrics["overall"]
    assert overall["n"] == 10 and overall["top1"] == 0.5 and overall["top5"] == 0.8
    # a: P 2/3 R 2/4 -> F1 4/7; b: P 1/2 R 1/3 -> 0.4; oos: P 2/4 R 2/3 -> 4/7 (an unreadable answer is no class)
    assert overall["macro_f1"] == pytest.approx((4 / 7 + 0.4 + 4 / 7) / 3)  # 18/35
    assert overall["per_class"]["a"] == pytest.approx(
        {"precision": 2 / 3, "recall": 0.5, "f1": 4 / 7, "support": 4}
    )
    assert overall["per_class"]["b"] == pytest.approx(
        {"precision": 0.5, "recall": 1 / 3, "f1": 0.4, "support": 3}
    )
    assert list(overall["per_class"]) == ["a", "b", "oos"]
    assert overall["in_scope_accuracy"] == pytest.approx(3 / 7)  # rows 1, 3, 7 of the 7 in scope
    assert overall["oos_recall"] == pytest.approx(2 / 3) and overall["oos_precision"] == 0.5
    assert overall["confused_pairs"] == [
        {"gold": g, "predicted": p, "count": 1}
        for g, p in (("a", "b"), ("a", "oos"), ("b", None), ("b", "oos"), ("oos", "a"))
    ]
    assert list(metrics) == ["overall", "by_scope"] and list(metrics["by_scope"]) == ["in", "oos"]
    inside, outside = metrics["by_scope"]["in"], metrics["by_scope"]["oos"]
    assert (inside["n"], inside["top1"], inside["oos_recall"]) == (7, pytest.approx(3 / 7), None)
    assert (outside["n"], outside["top1"], outside["oos_recall"], outside["in_scope_accuracy"]) == (
        3,
        pytest.approx(2 / 3),
        pytest.approx(2 / 3),
        None,
    )
    assert "per_class" not in inside and "confused_pairs" not in outside
    task = oos_task()
    assert task.headline_metric == "top1" and task.metric_names[0] == "top1"
    assert set(task.metric_names) <= set(overall)


def test_aggregate_without_an_oos_label_has_no_oos_metrics() -> None:
    examples = [{**e, "scope": "in"} for e in handmade_examples()]
    metrics = IntentTask(name="p", dataset=None, labels=["a", "b", "oos"]).aggregate(examples)
    assert "oos_recall" not in metrics["overall"] and list(metrics) == ["overall", "by_label"]
    assert metrics["overall"]["macro_f1"] == pytest.approx(18 / 35)
    assert metrics["by_label"]["a"]["n"] == 4


# (probs over a, b, oos; gold): the hand-computed best threshold is 0.5 (6 of 7 right; plain argmax: 4)
THRESHOLD_ROWS = [
    ([0.9, 0.05, 0.05], "a"),
    ([0.4, 0.35, 0.25], "oos"),
    ([0.6, 0.3, 0.1], "a"),
    ([0.2, 0.5, 0.3], "b"),
    ([0.45, 0.1, 0.45], "oos"),
    ([0.1, 0.2, 0.7], "oos"),
    ([0.55, 0.4, 0.05], "b"),
]


def test_choose_oos_threshold_picks_the_hand_computed_value() -> None:
    task = oos_task()
    probs, golds = [p for p, _ in THRESHOLD_ROWS], [g for _, g in THRESHOLD_ROWS]
    threshold = task.choose_oos_threshold(probs, golds)
    assert threshold == 0.5
    rows = [IntentRow(f"r{i}", "t", g, scope="oos" if g == "oos" else "in") for i, g in enumerate(golds)]
    right = [task.score_distribution(r, p, threshold)["correct"] for r, p in zip(rows, probs, strict=True)]
    assert sum(right) == 6  # the rule score_distribution applies
    # a tie (0.7 and 0.9 both give 3 of 4) goes to the lowest
    tie = IntentTask(name="tie", dataset=None, labels=["a", "oos"], oos_label="oos")
    assert (
        tie.choose_oos_threshold([[0.6, 0.4], [0.7, 0.3], [0.8, 0.2], [0.9, 0.1]], ["oos", "a", "oos", "a"])
        == 0.7
    )
    with pytest.raises(MaazaError, match="has no out-of-scope label"):
        IntentTask(name="p", dataset=None, labels=["a"]).choose_oos_threshold([[1.0]], ["a"])
    with pytest.raises(MaazaError, match="got 1 probability rows for 2 validation labels"):
        task.choose_oos_threshold([[0.1, 0.2, 0.7]], ["a", "b"])


# ----------------------------------------------------------------------------------------------- reports


def test_plot_writes_a_png_atomically(tmp_path: Path) -> None:
    metrics = oos_task().aggregate(handmade_examples())
    out = plot_confused_pairs(metrics, tmp_path / "plots" / "confused.png", top=3)
    assert out == tmp_path / "plots" / "confused.png" and out.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in out.parent.iterdir()] == ["confused.png"]  # no temp file left behind
    results = {"metrics": metrics, "examples": handmade_examples()}
    assert oos_task().plot_confused_pairs(results, tmp_path / "all.png").read_bytes()[:8] == PNG_MAGIC
    empty = plot_confused_pairs({"overall": {"confused_pairs": []}}, tmp_path / "none.png")
    assert empty.read_bytes()[:8] == PNG_MAGIC


CLASSIFIER_TIMING = {
    "latency_ms": {"p50": 1.25, "p95": 3.5},
    "batched_per_s": 880.0,
    "peak_rss_mb": 212.4,
    "file_mb": 12.8,
}


def test_summary_table_and_card_sections() -> None:
    task = oos_task()
    metrics = task.aggregate(handmade_examples())
    summary = task.summary_table({"metrics": metrics, "timing": CLASSIFIER_TIMING})
    lines = summary.splitlines()
    assert lines[0] == "| group | n | top-1 | top-5 | macro-F1 | in-scope acc | OOS recall | OOS precision |"
    assert lines[2] == "| overall | 10 | 50.0% | 80.0% | 0.514 | 42.9% | 66.7% | 50.0% |"
    assert lines[3].startswith("| in | 7 | 42.9% |") and lines[4].startswith("| oos | 3 | 66.7% |")
    assert lines[-1] == "latency p50 1.25 ms, p95 3.5 ms, batched 880 inf/s, peak RSS 212.4 MiB, file 12.8 MB"
    generative = task.summary_table({"metrics": metrics, "timing": {"tokens_per_s": 55.0, "batch_size": 4}})
    assert generative.splitlines()[-1].startswith("tokens/s 55.0 (batch 4)")

    result = {
        "metrics": metrics,
        "timing": CLASSIFIER_TIMING,
        "config": {"variant": "student"},
        "data": {"rows": 10},
    }
    sections = task.card_sections([result])
    assert len(sections) == 1 and sections[0].startswith("## Intent classification\n")
    assert (
        "| student | 10 | 50.0% | 80.0% | 0.514 | 42.9% | 66.7% | 50.0% | 1.25 ms | 880 | 12.8 MB |"
        in sections[0]
    )
    distilled = {
        **result,
        "config": {
            "variant": "distilled",
            "distill": {"teacher": "big-bert", "temperature": 2.0, "alpha": 0.5},
        },
    }
    sections = task.card_sections([result, distilled])
    assert len(sections) == 2 and sections[1].startswith("### Method")
    assert "`big-bert`" in sections[1] and "T = 2" in sections[1] and "alpha = 0.5" in sections[1]
    plain = IntentTask(name="p", dataset=None, labels=["a", "b", "oos"])
    assert "OOS" not in plain.card_sections([{"metrics": plain.aggregate(handmade_examples())}])[0]


# ----------------------------------------------------------------------------------------------- registry


def test_the_builtin_tasks_resolve() -> None:
    for name, oos in (("intent", None), ("intent-clinc150", "oos")):
        task = get_task(name)
        assert isinstance(task, IntentTask) and task.name == name and task.oos_label == oos
        assert isinstance(task, Task) and isinstance(task, ClassificationTask)
        assert task.resource_names == ()
    assert get_task("intent").dataset == "banking77" and get_task("intent-clinc150").dataset == "clinc150"


def _real(dataset: str, split: str) -> Path:
    root = data_root()
    if root is None or not (root / dataset / f"{split}.jsonl").is_file():
        pytest.skip(f"no {dataset} under the data root")
    return root / dataset / f"{split}.jsonl"


def test_real_banking77_test_loads() -> None:
    path = _real("banking77", "test")
    task = get_task("intent")
    assert task.default_data("test").rows == path  # type: ignore[union-attr]
    rows = task.load_rows(path, {})
    assert len(rows) == 3080 and len(task.labels) == 77  # type: ignore[attr-defined]
    assert {r.label for r in rows} == set(task.labels) and len({r.id for r in rows}) == 3080  # type: ignore[attr-defined]


def test_real_clinc150_val_serves_as_test() -> None:
    path = _real("clinc150", "val")
    task = get_task("intent-clinc150")
    assert task.default_data("test").rows == path  # type: ignore[union-attr]  # the test split is held out
    rows = task.load_rows(path, {})
    assert len(rows) == 3100 and len(task.labels) == 151 and task.labels[-1] == "oos"  # type: ignore[attr-defined]
    assert sum(r.scope == "oos" for r in rows) == 100
