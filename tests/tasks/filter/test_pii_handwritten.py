"""The hand-written PII dev set (benchmarks/data/pii_handwritten.jsonl): well-formed and held out."""

from __future__ import annotations

import re
from pathlib import Path

from maaza.io import iter_jsonl
from maaza.tasks.filter.checksums import iban_is_valid, luhn_is_valid
from maaza.tasks.filter.pii_generator import generate_pii_rows
from maaza.tasks.filter.spans import PII_LABELS

HAND_SET = Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "pii_handwritten.jsonl"


def hand_rows() -> list[dict]:
    return [row for _, row in iter_jsonl(HAND_SET)]


def test_the_file_parses_and_is_big_enough() -> None:
    rows = hand_rows()
    assert len(rows) >= 40
    for row in rows:
        assert set(row) == {"text", "spans", "genre", "note"}
        assert isinstance(row["text"], str) and row["text"].strip()
    assert sum(not row["spans"] for row in rows) >= 8
    assert {span["label"] for row in rows for span in row["spans"]} == set(PII_LABELS)


def test_spans_are_in_bounds_sorted_non_overlapping_and_trimmed() -> None:
    for row in hand_rows():
        text, previous_end = row["text"], 0
        for span in row["spans"]:
            assert span["label"] in PII_LABELS, span
            assert previous_end <= span["start"] < span["end"] <= len(text), (span, text)
            previous_end = span["end"]
            value = text[span["start"] : span["end"]]
            assert value == value.strip(), (value, text)


def test_iban_and_card_spans_are_valid() -> None:
    for row in hand_rows():
        for span in row["spans"]:
            value = row["text"][span["start"] : span["end"]]
            if span["label"] == "IBAN_CODE":
                assert iban_is_valid(value), value
            elif span["label"] == "CREDIT_CARD":
                assert luhn_is_valid(re.sub(r"[ -]", "", value)), value


def test_no_hand_text_is_in_the_generated_data() -> None:
    generated = [row["text"] for row in generate_pii_rows(3000, seed=0)]
    for row in hand_rows():
        text = row["text"]
        assert not any(text in other for other in generated), text
