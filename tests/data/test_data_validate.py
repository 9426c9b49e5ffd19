"""Validation (maaza.data.validate): grounding, near-duplicates, exclusion of held-out texts."""

from __future__ import annotations

from typing import Any

from maaza.data.engine import Sample, Spec
from maaza.data.validate import (
    DedupeValidator,
    ExclusionValidator,
    GroundingValidator,
    NearDuplicateIndex,
    SchemaValidator,
    is_grounded,
    ungrounded_leaves,
)

RECORD: dict[str, Any] = {
    "order_id": "ORD-1042",
    "customer": {"name": "Ann Lee", "vip": True},
    "items": [{"sku": "K9", "qty": 2, "price": 12.5}, {"sku": "P1", "qty": 15, "price": 3.0}],
    "tags": ["gift", "express"],
}
TEXT = (
    "Order ORD-1042 for Ann Lee (vip: true)\n"
    "Items:\n  - SKU: K9\n    Qty: 2\n    Price: 12.5\n  - SKU: P1\n    Qty: 15\n    Price: 3.0\n"
    "Tags: gift, express"
)


def _sample(text: str, record: Any = RECORD, schema: Any = None) -> Sample:
    return Sample(0, 0, Spec("order", "medium", schema or {"type": "object"}), record, "kv", text, text)


def test_verbatim_nested_rendering_is_grounded() -> None:
    assert ungrounded_leaves(RECORD, TEXT) == []
    assert GroundingValidator().check(_sample(TEXT)) is None


def test_altered_value_is_caught() -> None:
    altered = TEXT.replace("Price: 12.5", "Price: 12.50")
    assert ungrounded_leaves(RECORD, altered) == [("items", 0, "price")]
    assert GroundingValidator().check(_sample(altered)) == "ungrounded:price"
    renamed = TEXT.replace("Ann Lee", "Anne Lee")
    assert GroundingValidator().check(_sample(renamed)) == "ungrounded:name"


def test_dropped_value_is_caught() -> None:
    dropped = TEXT.replace(", express", "")
    assert GroundingValidator().check(_sample(dropped)) == "ungrounded:tags"


def test_word_and_number_boundaries() -> None:
    assert not is_grounded(5, "qty 15, year 2025-05-01, ratio 0.5, delta -5")
    assert is_grounded(5, "qty: 5.")
    assert is_grounded(-5, "delta -5 today")
    assert not is_grounded(12.5, "price 12.55") and not is_grounded(12.5, "price 112.5")
    assert not is_grounded("Ann", "Annual report") and is_grounded("Ann", "(Ann)")
    assert is_grounded("Inc.", "Acme Inc.") and is_grounded(True, "Power: True")
    assert not is_grounded(False, "enabled: true")


def test_schema_validator() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert SchemaValidator().check(_sample("a 1", {"a": 1}, schema)) is None
    assert SchemaValidator().check(_sample("a x", {"a": "x"}, schema)) == "schema_invalid"


def test_dedupe_removes_near_duplicates_and_keeps_distinct_texts() -> None:
    dedupe = DedupeValidator()
    first = _sample(TEXT)
    assert dedupe.check(first) is None
    dedupe.accept(first)
    assert dedupe.check(_sample(TEXT.upper().replace("\n", "  \n"))) == "duplicate"
    near = TEXT.replace("express", "expres") + " "
    assert dedupe.check(_sample(near)) == "near_duplicate"
    other = "Invoice INV-77 for Bob Stone: 3 x desk lamp at 19.99, paid by card on 2024-03-01."
    assert dedupe.check(_sample(other)) is None


def test_exclusion_removes_held_out_texts() -> None:
    held_out = ["Push Notification\n\nTitle: Payment received\nBody: Tap to view.\n\nPlease extract it as JSON.",
                TEXT]
    exclusion = ExclusionValidator(held_out)
    assert exclusion.size == 2
    assert exclusion.check(_sample(TEXT)) == "test_overlap"
    assert exclusion.check(_sample(held_out[0].replace("Tap", "tap"))) == "test_overlap"
    assert exclusion.check(_sample(held_out[0] + "!")) == "test_near_duplicate"
    assert exclusion.check(_sample("Something else entirely, with values 1, 2 and 3.")) is None


def test_minhash_estimate_tracks_jaccard() -> None:
    index = NearDuplicateIndex(threshold=0.5)
    base = "the quick brown fox jumps over the lazy dog " * 3
    index.add(base)
    hit = index.query(base.replace("lazy", "sleepy", 1))
    assert hit is not None and 0.5 <= hit[1] < 1.0
    assert index.query("completely unrelated sentence about invoices and shipping") is None
