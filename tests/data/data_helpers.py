"""Shared helpers for the data engine tests: shipped schema lookup, small schemas, a CLI runner."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from maaza.paths import data_root

NESTED_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Shipment",
    "type": "object",
    "properties": {
        "shipment_id": {"type": "string"},
        "customer": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "email": {"type": "string", "format": "email"},
                           "vip": {"type": "boolean"}},
            "required": ["name", "email"],
        },
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1},
                               "price": {"type": "number", "minimum": 0},
                               "tags": {"type": "array", "items": {"type": "string"}}},
                "required": ["sku", "quantity", "price"],
            },
        },
        "weight_kg": {"type": "number"},
        "shipped_at": {"type": "string", "format": "date-time"},
        "notes": {"type": "string"},
    },
    "required": ["shipment_id", "customer", "items"],
    "additionalProperties": False,
}


# a small schema and record for the `listing` layout: unmarked list items, an empty object, an empty item
SHIPMENT_SCHEMA: dict[str, Any] = {"title": "Shipment", "type": "object", "properties": {
    "shipment_id": {"type": "string"}, "fragile": {"type": "boolean"}, "customs": {"type": "object"},
    "items": {"type": "array", "items": {"type": "object", "properties": {
        "sku": {"type": "string"}, "quantity": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}}}}},
    "carrier": {"type": "object", "properties": {"name": {"type": "string"}}}}}
SHIPMENT = {"shipment_id": "SH-1", "fragile": True, "customs": {},
            "items": [{"sku": "A-1", "quantity": 2, "tags": ["Cold", "Glass"]}, {}, {"quantity": 5}],
            "carrier": {"name": "Ann Lee"}}


def shipped_schema_dir() -> Path:
    """The EdgeJSON v3 schema folder under the data root, or skip the test."""
    root = data_root()
    folder = root / "edgejson_v3" / "schemas" if root is not None else None
    if folder is None or not folder.is_dir():
        pytest.skip("EdgeJSON v3 schemas not found under the data root")
    return folder


def shipped_test_file() -> Path:
    root = data_root()
    path = root / "edgejson_v3" / "test.jsonl" if root is not None else None
    if path is None or not path.is_file():
        pytest.skip("EdgeJSON v3 test.jsonl not found under the data root")
    return path


def write_schemas(folder: Path, schemas: dict[str, dict[str, Any]]) -> Path:
    """Write `{"simple/contact": {...}}` style entries as folder/simple/contact.json; returns folder."""
    for name, schema in schemas.items():
        path = folder / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2), encoding="utf-8")
    return folder


def cli(argv: list[str]) -> int:
    """Run `maaza data ...` through `add_parser` on a throwaway parser (the lead wires the real CLI)."""
    from maaza.data.command import add_parser

    parser = argparse.ArgumentParser(prog="maaza")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.handler(args))
