"""The filter runtime (maaza.filter) and its ONNX export (maaza.export.onnx_filter): export checks, fp32/INT8
agreement, windows of long texts with exact character offsets, redaction, bad input, the CLI."""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from maaza.errors import MaazaError
from maaza.filter import Filter
from maaza.tasks.filter.spans import BIO_TAGS, Span

TEXTS = [
    "WINNER!! You have won a 1000 GBP prize. Call 09061701461 now to claim",
    "Are we still on for lunch tomorrow at noon?",
    "Hi, I'm Anna Schmidt, reach me at anna.schmidt@example.org or +49 30 1234567.",
    "shut up you stupid idiot",
    "",
    "😀 Привет 你好",
]


def test_export_writes_checked_fp32_and_smaller_int8(tiny_filter_onnx: Path) -> None:
    meta = json.loads((tiny_filter_onnx / "maaza.json").read_text())
    assert meta["kind"] == meta["task"] == "filter" and meta["runtime"] == "onnx"
    assert meta["pii_tags"] == list(BIO_TAGS) and meta["toxicity_labels"] == ["hate", "offensive", "neither"]
    assert meta["check"]["passed"] and meta["check"]["fp32_max_abs_diff_pii_logits"] < 1e-4
    assert meta["files"]["model.int8.onnx"] < meta["files"]["model.onnx"]
    assert (meta["max_length"], meta["stride"]) == (32, 8)
    assert set(meta["sha256"]) == {"model.onnx", "model.int8.onnx", "tokenizer.json"}


def test_onnx_matches_torch_and_int8_agrees_with_fp32(tiny_filter_run: Path, tiny_filter_onnx: Path) -> None:
    import torch

    from maaza.train.filter_model import load_filter_model

    fp32, int8 = Filter.load(tiny_filter_onnx, int8=False, threads=1), Filter.load(tiny_filter_onnx, threads=1)
    model = load_filter_model(tiny_filter_run / "model")
    texts = [t for t in TEXTS if t]
    for text, result in zip(texts, fp32.check_batch(texts), strict=True):
        scores = []
        for ids, _ in fp32.windows(text):  # a long text: the highest spam score of its windows
            with torch.no_grad():
                logits = model(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))[0]
            scores.append(float(torch.softmax(logits, -1)[0, 1]))
        assert result.windows == len(scores)
        assert result.spam_score == pytest.approx(max(scores), abs=1e-5)
    for a, b in zip(fp32.check_batch(texts), int8.check_batch(texts), strict=True):
        assert abs(a.spam_score - b.spam_score) < 0.05 and abs(a.toxicity_score - b.toxicity_score) < 0.05


@pytest.mark.parametrize("int8", [False, True])
def test_batching_does_not_change_results(tiny_filter_onnx: Path, int8: bool) -> None:
    """fp32: the same numbers alone or in a padded batch. INT8 quantizes activations with one scale per call
    (DynamicQuantizeLinear over the batch), so a text's neighbours move its scores slightly: within 0.02."""
    model = Filter.load(tiny_filter_onnx, int8=int8, threads=1)
    one_by_one = [model.check(text) for text in TEXTS]
    together = model.check_batch(TEXTS, batch_size=4)
    for a, b in zip(one_by_one, together, strict=True):
        assert a.spam_score == pytest.approx(b.spam_score, abs=0.02 if int8 else 1e-5)
        if not int8:
            assert a.toxicity_label == b.toxicity_label
            assert [(s.start, s.end, s.label) for s in a.pii] == [(s.start, s.end, s.label) for s in b.pii]


def test_empty_and_odd_texts_give_a_result(tiny_filter_onnx: Path) -> None:
    model = Filter.load(tiny_filter_onnx, threads=1)
    empty = model.check("")
    assert empty.pii == [] and 0.0 <= empty.spam_score <= 1.0 and empty.windows == 1
    assert model.check("😀 Привет 你好").toxicity_label in ("hate", "offensive", "neither")
    with pytest.raises(MaazaError, match=r"text 2: expected a string"):
        model.check_batch(["ok", None])  # type: ignore[list-item]


def test_windows_cover_the_text_with_exact_offsets(tiny_filter_onnx: Path) -> None:
    model = Filter.load(tiny_filter_onnx, threads=1)
    text = " ".join(f"word{i} 5551{i:03d}" for i in range(40))
    windows = model.windows(text)
    size = model.max_length - 2
    assert len(windows) > 3
    assert all(len(ids) <= model.max_length for ids, _ in windows)
    starts = [offsets[1] for _, offsets in windows]
    assert starts[0][0] == 0 and windows[-1][1][-2][1] == len(text)  # first token first, last token last
    all_offsets = model.tokenizer.encode(text, add_special_tokens=False).offsets
    begins = [all_offsets.index(offsets[1]) for _, offsets in windows]
    for begin, (_, offsets) in zip(begins, windows, strict=True):
        assert offsets[1:-1] == all_offsets[begin : begin + size]
    assert all(b - a == size - model.stride for a, b in itertools.pairwise(begins[:-1]))
    assert begins[-1] == len(all_offsets) - size  # the last window ends with the text
    assert 0 < begins[-1] - begins[-2] <= size - model.stride


class DigitTagger:
    """A stand-in ONNX session: tags every digit token as PHONE_NUMBER (B on a run's first digit in the window,
    I after), so the right spans of any text are known: its digit runs."""

    def __init__(self, tokenizer: Any) -> None:
        self.digit_ids = {tokenizer.token_to_id(str(d)) for d in range(10)}
        self.b, self.i = BIO_TAGS.index("B-PHONE_NUMBER"), BIO_TAGS.index("I-PHONE_NUMBER")

    def run(self, outputs: list[str], feeds: dict[str, Any]) -> list[Any]:
        ids = feeds["input_ids"]
        pii = np.zeros((*ids.shape, len(BIO_TAGS)), dtype=np.float32)
        for row in range(ids.shape[0]):
            previous = False
            for col in range(ids.shape[1]):
                digit = int(ids[row, col]) in self.digit_ids and feeds["attention_mask"][row, col] == 1
                pii[row, col, (self.i if previous else self.b) if digit else 0] = 10.0
                previous = digit
        batch = ids.shape[0]
        return [np.zeros((batch, 2), np.float32), np.zeros((batch, 3), np.float32), pii]


def test_a_100kb_text_keeps_its_spans_at_the_right_offsets(tiny_filter_onnx: Path) -> None:
    model = Filter.load(tiny_filter_onnx, threads=1)
    model.session = DigitTagger(model.tokenizer)
    rng = random.Random(0)
    parts, expected, position = [], [], 0
    while position < 100_000:
        filler = " ".join(rng.choice(["call", "me", "on", "ok", "thanks", "😀", "zoë"]) for _ in range(rng.randint(1, 9)))
        number = str(rng.randint(10**5, 10**7))
        piece = f"{filler} {number} "
        expected.append(Span(position + len(filler) + 1, position + len(filler) + 1 + len(number), "PHONE_NUMBER"))
        parts.append(piece)
        position += len(piece)
    text = "".join(parts)
    result = model.check(text)
    assert result.windows > 100
    assert [(s.start, s.end, s.label) for s in result.pii] == [(s.start, s.end, s.label) for s in expected]
    redacted = model.redact(text)
    assert not re.search(r"\d", redacted.replace("[PHONE_NUMBER]", ""))  # nothing detected stays visible


def test_load_errors_name_the_problem(tmp_path: Path, tiny_filter_onnx: Path) -> None:
    with pytest.raises(MaazaError, match="filter not found"):
        Filter.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MaazaError, match=r"no maaza\.json"):
        Filter.load(tmp_path / "empty")
    with pytest.raises(MaazaError, match="threads"):
        Filter.load(tiny_filter_onnx, threads=0)


def test_cli_prints_json_lines_and_redacts(tiny_filter_onnx: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from maaza.cli import main

    assert main(["filter", "--model", str(tiny_filter_onnx), "--threads", "1", TEXTS[0], TEXTS[2]]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == [TEXTS[0], TEXTS[2]]
    assert all(set(line) >= {"spam_score", "toxicity_label", "toxicity_score", "pii"} for line in lines)
    for line in lines:
        assert all(span["text"] == line["text"][span["start"] : span["end"]] for span in line["pii"])
    assert main(["filter", "--model", str(tiny_filter_onnx), "--threads", "1", "--redact", TEXTS[1]]) == 0
    assert capsys.readouterr().out.strip() != ""


def test_rules_add_validated_patterns_to_the_model(tiny_filter_onnx: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`pii_rules=True` (`--rules`): the rule spans are in the answer whatever the (random tiny) model says,
    and the model-only answer is `with_rules`' input."""
    from maaza.cli import main
    from maaza.tasks.filter.pii_rules import detect_pii_rules, with_rules

    text = "Mail ann@example.com or call +44 7700 900123 from 10.0.0.1"
    plain = Filter.load(tiny_filter_onnx, threads=1).check(text)
    ruled = Filter.load(tiny_filter_onnx, threads=1, pii_rules=True).check(text)
    assert ruled.pii == with_rules(plain.pii, detect_pii_rules(text))
    assert {(s.start, s.end, s.label) for s in detect_pii_rules(text)} <= {(s.start, s.end, s.label) for s in ruled.pii}
    assert main(["filter", "--model", str(tiny_filter_onnx), "--threads", "1", "--rules", text]) == 0
    (line,) = [json.loads(out) for out in capsys.readouterr().out.splitlines()]
    assert [(s["start"], s["end"], s["label"]) for s in line["pii"]] == [(s.start, s.end, s.label) for s in ruled.pii]


def test_cli_names_the_line_of_invalid_utf8(tiny_filter_onnx: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from maaza.cli import main

    bad = tmp_path / "in.jsonl"
    bad.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    assert main(["filter", "--model", str(tiny_filter_onnx), "--file", str(bad)]) != 0
    assert f"{bad}:2: not valid UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "nothing to check: give TEXT ... or --file"),
        (["fine", " "], "TEXT 2 is empty"),
        (["fine", "--file", "in.txt"], "give either TEXT ... or --file, not both"),
    ],
)
def test_cli_input_errors_are_one_line_before_loading(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same input rules as `maaza classify` (one helper, `maaza.io.text_rows_from_args`); the model
    folder does not exist, so a message about it would mean the input was not checked first."""
    from maaza.cli import main

    assert main(["filter", "--model", str(tmp_path / "missing"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "missing" not in err and "Traceback" not in err
