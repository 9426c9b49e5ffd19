"""Fixtures for the training tests (helpers live in train_helpers.py)."""

from __future__ import annotations

import json

import pytest
from train_helpers import CONTACT_SCHEMA, ROWS, TrainData, write_rows


@pytest.fixture(scope="session")
def train_data(tmp_path_factory: pytest.TempPathFactory) -> TrainData:
    """schemas/simple/contact.json and a 24-row train.jsonl of short contact extractions."""
    root = tmp_path_factory.mktemp("edgejson-train")
    (root / "schemas" / "simple").mkdir(parents=True)
    (root / "schemas" / "simple" / "contact.json").write_text(json.dumps(CONTACT_SCHEMA), encoding="utf-8")
    return TrainData(root, write_rows(root / "train.jsonl", ROWS), root / "schemas")
