"""The regular-expression PII peer (maaza.tasks.filter.pii_rules) and the checksum helpers it shares."""

from __future__ import annotations

import pytest

from maaza.tasks.filter.checksums import iban_check_digits, iban_is_valid, luhn_is_valid
from maaza.tasks.filter.pii_rules import RULE_SCORES, detect_pii_rules, with_rules
from maaza.tasks.filter.spans import Span


def test_email_and_phone_with_exact_offsets() -> None:
    text = "Mail jane.doe+work@mail.example.co.uk or call +44 7700 900123 today."
    spans = detect_pii_rules(text)
    assert spans == [Span(5, 37, "EMAIL_ADDRESS"), Span(46, 61, "PHONE_NUMBER")]
    assert text[5:37] == "jane.doe+work@mail.example.co.uk" and text[46:61] == "+44 7700 900123"
    assert [span.score for span in spans] == [RULE_SCORES["EMAIL_ADDRESS"], RULE_SCORES["PHONE_NUMBER"]]


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("(555) 123-4567", "PHONE_NUMBER"),
        ("555-123-4567", "PHONE_NUMBER"),
        ("1-800-555-0199", "PHONE_NUMBER"),
        ("+1 (555) 123-4567", "PHONE_NUMBER"),
        ("07700 900123", "PHONE_NUMBER"),
        ("020 7946 0958", "PHONE_NUMBER"),
        ("+44 (0)20 7946 0958", "PHONE_NUMBER"),
        ("+49 30 1234567", "PHONE_NUMBER"),
        ("030 12345678", "PHONE_NUMBER"),
        ("01 23 45 67 89", "PHONE_NUMBER"),
        ("4111 1111 1111 1111", "CREDIT_CARD"),
        ("4111-1111-1111-1111", "CREDIT_CARD"),
        ("5500000000000004", "CREDIT_CARD"),
        ("GB82 WEST 1234 5698 7654 32", "IBAN_CODE"),
        ("DE89370400440532013000", "IBAN_CODE"),
        ("536-22-8741", "US_SSN"),
        ("192.168.1.10", "IP_ADDRESS"),
        ("2001:db8::ff00:42:8329", "IP_ADDRESS"),
        ("::ffff:10.0.0.1", "IP_ADDRESS"),
        ("fe80::1", "IP_ADDRESS"),
        ("ops@example.org", "EMAIL_ADDRESS"),
    ],
)
def test_each_pattern_found_with_exact_offsets(value: str, label: str) -> None:
    text = f"Please note {value}, thanks."
    assert detect_pii_rules(text) == [Span(12, 12 + len(value), label)]


def test_several_kinds_in_one_text() -> None:
    text = "IBAN DE89 3704 0044 0532 0130 00 CASH; card 4111111111111111; ip 10.0.0.1; ssn 536-22-8741."
    assert [(text[s.start : s.end], s.label) for s in detect_pii_rules(text)] == [
        ("DE89 3704 0044 0532 0130 00", "IBAN_CODE"),  # the trailing word CASH is not part of it
        ("4111111111111111", "CREDIT_CARD"),
        ("10.0.0.1", "IP_ADDRESS"),
        ("536-22-8741", "US_SSN"),
    ]


def test_checksum_beats_phone_reading() -> None:
    # "0000 0000 0004" alone would read as a phone number; the Luhn-valid card wins the overlap
    text = "card 5500 0000 0000 0004 ok"
    assert detect_pii_rules(text) == [Span(5, 24, "CREDIT_CARD")]


@pytest.mark.parametrize(
    "text",
    [
        "Your order ORD-2024-118273 has shipped.",
        "Upgrade to v2.14.3 before Friday.",
        "Logged at 2024-03-05 14:22:10 by the server.",
        "Total: $1,299.99 (incl. 20% VAT), was €12,499.00.",
        "Request id 550e8400-e29b-41d4-a716-446655440000 failed.",
        "Card 4111 1111 1111 1112 was declined.",  # Luhn fails
        "Pay to GB82 WEST 1234 5698 7654 33 please.",  # mod 97 fails
        "SSN 000-12-3456 is not valid.",
        "Host 999.1.1.1 is unreachable.",
        "Meeting on 05.03.2024 at 10:30:00.",
        "Use std::vector and a :: b in C++.",
    ],
)
def test_hard_negatives_not_found(text: str) -> None:
    assert detect_pii_rules(text) == []


def test_not_inside_longer_tokens() -> None:
    assert detect_pii_rules("ref AB5551234567 and x555-123-4567y and 4111111111111111X") == []


def test_checksum_helpers_known_values() -> None:
    assert iban_is_valid("GB82WEST12345698765432")
    assert iban_is_valid("GB82 WEST 1234 5698 7654 32")
    assert iban_is_valid("DE89370400440532013000")
    assert not iban_is_valid("DE88370400440532013000")
    assert not iban_is_valid("DE89 3704")  # too short
    assert iban_check_digits("DE", "370400440532013000") == "89"
    assert iban_check_digits("GB", "WEST12345698765432") == "82"
    with pytest.raises(ValueError, match="country"):
        iban_check_digits("D1", "370400440532013000")
    assert luhn_is_valid("4111111111111111")
    assert not luhn_is_valid("4111111111111112")
    assert luhn_is_valid("79927398713")
    assert not luhn_is_valid("4111 1111 1111 1111")  # digits only
    assert not luhn_is_valid("")


def test_with_rules_keeps_rule_spans_and_the_models_names_addresses_and_other_phones() -> None:
    text = "Ann Lee, ann@example.com, +44 7700 900123, 5550 1234, ref 4417 2291, Main St 5"
    at = {value: (text.index(value), text.index(value) + len(value)) for value in (
        "Ann Lee", "ann@example.com", "+44 7700 900123", "5550 1234", "4417 2291", "Main St 5")}
    rules = detect_pii_rules(text)
    assert [(text[s.start : s.end], s.label) for s in rules] == [
        ("ann@example.com", "EMAIL_ADDRESS"), ("+44 7700 900123", "PHONE_NUMBER"),
    ]
    model = [
        Span(*at["Ann Lee"], "PERSON", 0.9),  # kept: no rule for names
        Span(at["ann@example.com"][0], at["ann@example.com"][0] + 3, "EMAIL_ADDRESS", 0.9),  # inside the rule's
        Span(at["+44 7700 900123"][0] + 4, at["+44 7700 900123"][1], "PHONE_NUMBER", 0.8),  # overlaps: dropped
        Span(*at["5550 1234"], "PHONE_NUMBER", 0.7),  # a phone the rules do not know: kept
        Span(*at["4417 2291"], "CREDIT_CARD", 0.6),  # a label the rules own, no rule hit: dropped
        Span(*at["Main St 5"], "STREET_ADDRESS", 0.9),  # kept
    ]
    combined = with_rules(model, rules)
    assert [(text[s.start : s.end], s.label) for s in combined] == [
        ("Ann Lee", "PERSON"), ("ann@example.com", "EMAIL_ADDRESS"), ("+44 7700 900123", "PHONE_NUMBER"),
        ("5550 1234", "PHONE_NUMBER"), ("Main St 5", "STREET_ADDRESS"),
    ]
    assert with_rules([], []) == [] and with_rules(model[:1], []) == model[:1]
