"""Renderers (maaza.data.render): every style is grounded by construction; labels and kv layout."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from data_helpers import NESTED_SCHEMA, SHIPMENT, SHIPMENT_SCHEMA, shipped_schema_dir

from maaza.data.realistic import render_any
from maaza.data.records import RecordGenerator
from maaza.data.render import (
    DEFAULT_WEIGHTS,
    REALISTIC_STYLES,
    STYLES,
    Labeler,
    build_tree,
    listing_reading,
    pick_style,
    render,
    surface,
)
from maaza.data.validate import ungrounded_leaves
from maaza.schemas import load_schema_folder

FREE_FORM_SCHEMA: dict[str, Any] = {
    "title": "Device Event",
    "type": "object",
    "properties": {
        "device_id": {"type": "string"},
        "online": {"type": "boolean"},
        "readings": {"type": "object", "additionalProperties": True},
        "battery_level": {"type": "number", "minimum": 0, "maximum": 100},
        "temperature": {"type": "number"},
    },
    "required": ["device_id", "online", "readings", "temperature"],
}


def _record(schema: dict[str, Any], seed: int) -> Any:
    record, error = RecordGenerator(schema).generate_valid(random.Random(seed))
    assert error is None
    return record


@pytest.mark.parametrize("style", STYLES)
def test_every_style_is_grounded_for_several_schemas(style: str) -> None:
    for schema in (NESTED_SCHEMA, FREE_FORM_SCHEMA):
        for seed in range(8):
            record = _record(schema, seed)
            text = render_any(record, schema, style, random.Random(seed))
            if not text and style in REALISTIC_STYLES:  # no clean text (a label equals a value): rejected upstream
                continue
            assert ungrounded_leaves(record, text) == [], f"{style} seed {seed}:\n{text}"


def test_every_style_is_grounded_for_shipped_schemas() -> None:
    schemas = load_schema_folder(shipped_schema_dir())
    for schema_id, schema in schemas.items():
        for seed in range(3):
            record = _record(schema, seed)
            for style in STYLES:
                text = render_any(record, schema, style, random.Random(f"{schema_id}{seed}{style}"))
                if not text and style in REALISTIC_STYLES:
                    continue
                missing = ungrounded_leaves(record, text)
                assert missing == [], f"{schema_id} {style}: {missing}\n{text}"


def test_kv_style_looks_like_the_public_set() -> None:
    schema = {"title": "Push Notification", "type": "object",
              "properties": {"title": {"type": "string"}, "body": {"type": "string"},
                             "priority": {"type": "string", "enum": ["low", "high"]}},
              "required": ["title", "body", "priority"]}
    record = {"title": "Payment received", "body": "Tap to view.", "priority": "high"}
    text = render(record, schema, "kv", random.Random(3))
    lines = text.splitlines()
    assert "Push Notification" in lines[0] and lines[1] == ""
    assert "Title: Payment received" in lines and "Priority: high" in lines
    assert "JSON" in lines[-1]


def test_listing_style_is_the_edgejson_v3_layout() -> None:
    """Unmarked list items (a new item shows where a label comes back), `True`, bare labels for empties."""
    record = SHIPMENT
    text = render(record, SHIPMENT_SCHEMA, "listing", random.Random(0))
    assert text == "\n".join([
        "Shipment", "", "Shipment Id: SH-1", "Fragile: True", "Customs:", "Items:", "  Sku: A-1", "  Quantity: 2",
        "  Tags:", "    Cold", "    Glass", "  Quantity: 5", "Carrier:", "  Name: Ann Lee", "",
        "Please extract the shipment information as JSON.",
    ])
    assert ungrounded_leaves(record, text) == []


def test_listing_style_re_renders_the_v3_train_template_rows() -> None:
    """Every template row of EdgeJSON v3 train, rendered from its gold answer, is its prompt below the
    title line (v3 titles a few schemas "New ..." or "... Report")."""
    folder = shipped_schema_dir()
    schemas = load_schema_folder(folder)
    rows = [json.loads(line) for line in (folder.parent / "train.jsonl").read_text().splitlines()]
    template = [row for row in rows if row.get("teacher") == "template"]
    assert len(template) == 415
    for row in template:
        text = render(row["expected_output"], schemas[row["schema_id"]], "listing", random.Random(0))
        assert text.split("\n", 1)[1] == row["prompt"].split("\n", 1)[1], row["id"]


def test_listing_reading_groups_unmarked_items_as_a_reader_does() -> None:
    """A new item starts where a label comes back or goes back in the schema's order; an empty item is gone."""
    def read(items: list[dict[str, Any]]) -> Any:
        return listing_reading({"shipment_id": "SH-1", "items": items}, SHIPMENT_SCHEMA)["items"]

    assert read([{"sku": "A-1"}, {"quantity": 5}]) == [{"sku": "A-1", "quantity": 5}]  # the text shows one item
    kept = [{"quantity": 2}, {"sku": "B-2"}, {"sku": "C-3", "quantity": 1, "tags": ["Cold"]}, {"quantity": 4}]
    assert read(kept) == kept  # back in order, a label again, a label again
    assert listing_reading(SHIPMENT, SHIPMENT_SCHEMA) == {**SHIPMENT, "items": [SHIPMENT["items"][0], {"quantity": 5}]}
    assert listing_reading({"tags": ["a", "b"], "n": 1}, {"type": "object"}) == {"tags": ["a", "b"], "n": 1}


def test_listing_style_is_not_in_the_default_mix() -> None:
    assert DEFAULT_WEIGHTS["listing"] == 0
    assert "listing" not in {pick_style(random.Random(seed), DEFAULT_WEIGHTS) for seed in range(300)}


def test_nested_lists_render_as_sub_sections() -> None:
    record = {"shipment_id": "SH-1", "customer": {"name": "Ann Lee", "email": "ann@x.io"},
              "items": [{"sku": "A-1", "quantity": 2, "price": 3.5}, {"sku": "B-2", "quantity": 1, "price": 10.0}]}
    text = render(record, NESTED_SCHEMA, "kv", random.Random(0))
    assert "10.0" in text and "3.5" in text
    item_lines = [line for line in text.splitlines() if "A-1" in line or "B-2" in line]
    assert len(item_lines) == 2 and all(line.startswith("  ") for line in item_lines)


def test_labels_paraphrase_and_case() -> None:
    labeler = Labeler(random.Random(0), "title", synonym_prob=0.0)
    assert labeler.label("customer_email") == "Customer Email"
    assert labeler.label("order_id") == "Order ID"
    assert labeler.label("firstName") == "First Name"
    seen = {Labeler(random.Random(seed), "sentence", synonym_prob=1.0).label("email") for seed in range(30)}
    assert {"E-mail", "Email address"} & seen
    public = Labeler(random.Random(0), "public")
    assert public.label("zip_code") == "Zip Code"


def test_free_form_keys_keep_their_raw_name() -> None:
    record = {"device_id": "DEV-1", "online": True, "readings": {"co2_ppm": 412}, "temperature": 21.5}
    tree = build_tree(record, FREE_FORM_SCHEMA, Labeler(random.Random(0), "title", synonym_prob=0.0))
    readings = next(child for child in tree.children if child.key == "readings")
    assert readings.label == "Readings" and readings.children[0].label == "co2_ppm"


def test_surface_forms() -> None:
    assert surface(True) == "true" and surface(False) == "false"
    assert surface(12.0) == "12.0" and surface(3) == "3" and surface("x y") == "x y"


def test_pick_style_follows_weights_and_unknown_style_fails() -> None:
    rng = random.Random(0)
    picks = [pick_style(rng, {"kv": 1.0, "log": 0.0, "chat": 3.0}) for _ in range(400)]
    assert "log" not in picks and picks.count("chat") > picks.count("kv")
    with pytest.raises(ValueError, match="unknown render style"):
        render({"a": 1}, {"type": "object"}, "poem", random.Random(0))
