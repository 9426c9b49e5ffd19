"""The realistic render styles: values verbatim, distractors of the same type but never the gold value, and
no trace of an optional field the record lacks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from maaza.data import realistic
from maaza.data.realistic import render_any
from maaza.data.records import RecordGenerator
from maaza.data.render import Labeler, build_tree, surface
from maaza.data.validate import occurrences, record_leaves, ungrounded_leaves
from maaza.schemas import load_schema_folder

SCHEMAS = load_schema_folder(Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "edgejson_real" / "schemas")
CASES = [(schema_id, style) for schema_id in sorted(SCHEMAS) for style in realistic.REALISTIC_STYLES]


def _records(schema_id: str, count: int) -> list[tuple[dict, random.Random]]:
    out = []
    for seed in range(count):
        rng = random.Random(seed)
        record, error = RecordGenerator(SCHEMAS[schema_id]).generate_valid(rng)
        assert error is None
        out.append((record, rng))
    return out


@pytest.mark.parametrize(("schema_id", "style"), CASES)
def test_every_value_is_written_verbatim_as_often_as_the_gold_holds_it(schema_id: str, style: str) -> None:
    written = 0
    for record, rng in _records(schema_id, 25):
        text = render_any(record, SCHEMAS[schema_id], style, rng)
        if not text:  # no clean try: the grounding validator rejects the empty text, nothing is written
            continue
        written += 1
        assert ungrounded_leaves(record, text) == [], text
        forms = [surface(value) for _, value in record_leaves(record)]
        joined = "\n".join(forms)
        for form in forms:
            assert occurrences(form, text) == occurrences(form, joined), (form, text)
    assert written >= 20  # the fallback (no text: a filler word equals a gold value) is rare


def test_distractors_have_the_fields_type_and_never_its_value() -> None:
    seen = 0
    for schema_id in sorted(SCHEMAS):
        for record, rng in _records(schema_id, 20):
            decoy, _ = RecordGenerator(SCHEMAS[schema_id]).generate_valid(random.Random(rng.random()))
            tree = build_tree(record, SCHEMAS[schema_id], Labeler(rng, "lower"))
            gold = [surface(value) for _, value in record_leaves(record)]
            for block in realistic.collect_blocks(tree, decoy, rng, decoy_prob=1.0):
                for fact in block.facts:
                    if fact.decoy is None:
                        continue
                    seen += 1
                    assert type(fact.decoy) is type(fact.value)
                    assert fact.decoy != fact.value
                    assert all(occurrences(form, surface(fact.decoy)) == 0 for form in gold), (fact, gold)
    assert seen > 200


def test_distractors_appear_in_the_text() -> None:
    """Most texts of the styles hold at least one distractor value next to the gold ones."""
    with_decoy = total = 0
    for record, rng in _records("expense_claim", 40):
        state = rng.getstate()
        decoy, _ = RecordGenerator(SCHEMAS["expense_claim"]).generate_valid(random.Random(rng.random()))
        rng.setstate(state)
        text = render_any(record, SCHEMAS["expense_claim"], "thread", rng)
        decoy_forms = {surface(value) for _, value in record_leaves(decoy)} - {
            surface(value) for _, value in record_leaves(record)}
        total += 1
        with_decoy += any(occurrences(form, text) for form in decoy_forms if len(form) > 3)
    assert with_decoy / total > 0.5


@pytest.mark.parametrize("style", realistic.REALISTIC_STYLES)
def test_an_optional_field_the_record_lacks_is_not_in_the_text(style: str) -> None:
    schema = SCHEMAS["restaurant_reservation"]
    for seed in range(30):
        rng = random.Random(seed)
        record = {"guest_name": "Ines Carvalho", "party_size": 4, "date": "2026-05-02", "time": "19:30"}
        text = render_any(record, schema, style, rng)
        lowered = text.lower()
        for label in ("special", "request", "seating", "phone"):
            assert label not in lowered, (label, text)
        for value in ("indoor", "outdoor", "private_room", "bar"):
            assert occurrences(value, lowered) == 0, (value, text)


def test_list_items_keep_their_order() -> None:
    schema = SCHEMAS["flight_booking"]
    record = {"booking_reference": "QX7P2L", "passengers": ["Ana Ruiz", "Tomas Ruiz"], "segments": [
        {"flight_number": "TP1351", "from_airport": "LIS", "to_airport": "FRA", "departure": "2026-06-01T07:05:00"},
        {"flight_number": "LH0454", "from_airport": "FRA", "to_airport": "SFO", "departure": "2026-06-01T10:40:00"}]}
    for style in realistic.REALISTIC_STYLES:
        for seed in range(10):
            text = render_any(record, schema, style, random.Random(seed))
            assert text.index("TP1351") < text.index("LH0454"), text
            assert text.index("Ana Ruiz") < text.index("Tomas Ruiz"), text


def test_unknown_realistic_style_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown realistic style 'memo'"):
        realistic.render_realistic({"a": 1}, {"type": "object"}, "memo", random.Random(0))
