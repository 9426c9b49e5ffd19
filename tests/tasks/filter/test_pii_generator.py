"""The PII generator: deterministic rows whose spans are right by construction, with hard negatives."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from functools import lru_cache

import pytest

from maaza.tasks.filter.checksums import iban_check_digits, iban_is_valid, luhn_is_valid
from maaza.tasks.filter.pii_generator import GENRES, generate_pii_rows, write_pii_jsonl
from maaza.tasks.filter.spans import PII_LABELS

SSN = re.compile(r"(\d{3})([- ])(\d{2})\2(\d{4})")
PHONE = re.compile(r"\+?[\d ()./-]+")
ORDER = re.compile(r"ORD-\d{4}-\d{6}")
LAST4 = re.compile(r"ending in (\d{4})")


@lru_cache(maxsize=1)
def rows_2000() -> tuple[dict, ...]:
    return tuple(generate_pii_rows(2000, seed=0))


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    assert generate_pii_rows(50, seed=3) == generate_pii_rows(50, seed=3)
    assert generate_pii_rows(50, seed=3) != generate_pii_rows(50, seed=4)
    assert list(rows_2000()[:50]) == generate_pii_rows(50, seed=0)  # a prefix does not depend on the count


def test_row_shape() -> None:
    for row in rows_2000():
        assert set(row) == {"text", "spans", "genre", "locale"}
        assert isinstance(row["text"], str) and row["text"]
        for span in row["spans"]:
            assert set(span) == {"start", "end", "label"}


def check_value(label: str, value: str) -> None:
    assert value == value.strip() and value, (label, value)
    if label == "EMAIL_ADDRESS":
        local, _, domain = value.partition("@")
        assert local and "." in domain and " " not in value, value
    elif label == "IBAN_CODE":
        assert iban_is_valid(value), value
    elif label == "CREDIT_CARD":
        digits = re.sub(r"[ -]", "", value)
        assert len(digits) in (15, 16) and luhn_is_valid(digits), value
    elif label == "US_SSN":
        match = SSN.fullmatch(value)
        assert match, value
        area = int(match.group(1))
        assert area != 0 and area != 666 and area < 900, value
        assert match.group(3) != "00" and match.group(4) != "0000", value
    elif label == "IP_ADDRESS":
        ipaddress.ip_address(value)
    elif label == "PHONE_NUMBER":
        assert PHONE.fullmatch(value) and sum(ch.isdigit() for ch in value) >= 9, value
    elif label == "PERSON":
        assert not any(ch.isdigit() for ch in value) and "@" not in value, value
    elif label == "STREET_ADDRESS":
        assert any(ch.isdigit() for ch in value), value


def test_spans_in_bounds_sorted_non_overlapping_and_well_shaped() -> None:
    for row in rows_2000():
        text, previous_end = row["text"], 0
        for span in row["spans"]:
            assert span["label"] in PII_LABELS
            assert previous_end <= span["start"] < span["end"] <= len(text), row
            previous_end = span["end"]
            check_value(span["label"], text[span["start"] : span["end"]])


def test_coverage_of_labels_genres_locales() -> None:
    rows = rows_2000()
    labels = Counter(span["label"] for row in rows for span in row["spans"])
    assert set(labels) == set(PII_LABELS), labels
    assert all(labels[label] >= 20 for label in PII_LABELS), labels
    assert {row["genre"] for row in rows} == set(GENRES)
    assert len({row["locale"] for row in rows}) >= 8
    assert {row["locale"] for row in rows if any(s["label"] == "US_SSN" for s in row["spans"])} == {"en_US"}


def test_share_of_rows_without_pii() -> None:
    rows = rows_2000()
    share = sum(not row["spans"] for row in rows) / len(rows)
    assert 0.10 <= share <= 0.30, share


def inside_a_span(row: dict, start: int, end: int) -> bool:
    return any(span["start"] < end and start < span["end"] for span in row["spans"])


def test_hard_negatives_occur_and_are_never_spans() -> None:
    found = Counter()
    for row in rows_2000():
        for name, pattern in (("order", ORDER), ("last4", LAST4)):
            for match in pattern.finditer(row["text"]):
                found[name] += 1
                assert not inside_a_span(row, match.start(), match.end()), (name, row)
    assert found["order"] >= 20 and found["last4"] >= 20, found
    texts = "\n".join(row["text"] for row in rows_2000())
    for marker in ("1Z", "SKU", "INV-", "Total:", "https://"):
        assert marker in texts, marker
    no_pii = [row for row in rows_2000() if not row["spans"]]
    assert sum(bool(re.search(r"\d{4,}", row["text"])) for row in no_pii) > len(no_pii) / 2


def test_every_occurrence_of_a_labelled_value_is_inside_a_span() -> None:
    """A value written twice (the sender's e-mail in the header and the signature) is a span both times."""
    for row in rows_2000():
        text = row["text"]
        for span in row["spans"]:
            value = text[span["start"] : span["end"]]
            if (
                span["label"] not in ("EMAIL_ADDRESS", "IBAN_CODE", "CREDIT_CARD", "IP_ADDRESS")
                or len(value) < 8
            ):
                continue
            at = text.find(value)
            while at != -1:
                assert any(s["start"] <= at and at + len(value) <= s["end"] for s in row["spans"]), (
                    value,
                    row,
                )
                at = text.find(value, at + 1)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("GB82WEST12345698765432", True),
        ("GB82 WEST 1234 5698 7654 32", True),
        ("DE89370400440532013000", True),
        ("de89 3704 0044 0532 0130 00", True),
        ("GB82WEST12345698765433", False),
        ("DE88370400440532013000", False),
        ("DE8937040044053201300", False),  # one digit short
        ("XX", False),
        ("ORD-2024-118273", False),
    ],
)
def test_iban_is_valid(value: str, valid: bool) -> None:
    assert iban_is_valid(value) is valid


def test_iban_check_digits() -> None:
    assert iban_check_digits("GB", "WEST12345698765432") == "82"
    assert iban_check_digits("DE", "370400440532013000") == "89"


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("378282246310005", True),
        ("5555555555554444", True),
        ("4111 1111 1111 1111", False),  # separators are the caller's to strip
        ("", False),
        ("0", False),
    ],
)
def test_luhn_is_valid(digits: str, valid: bool) -> None:
    assert luhn_is_valid(digits) is valid


def test_write_pii_jsonl_round_trips(tmp_path) -> None:
    from maaza.io import iter_jsonl

    rows = generate_pii_rows(5, seed=1)
    path = tmp_path / "pii.jsonl"
    write_pii_jsonl(path, rows)
    assert [row for _, row in iter_jsonl(path)] == rows
