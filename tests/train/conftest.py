"""Fixtures for the training tests (helpers live in train_helpers.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from train_helpers import CONTACT_SCHEMA, ROWS, SENTIMENT_ROWS, SentimentTask, TrainData, write_rows

from maaza.tasks import register_task, unregister_task


@pytest.fixture(scope="session")
def train_data(tmp_path_factory: pytest.TempPathFactory) -> TrainData:
    """schemas/simple/contact.json and a 24-row train.jsonl of short contact extractions."""
    root = tmp_path_factory.mktemp("edgejson-train")
    (root / "schemas" / "simple").mkdir(parents=True)
    (root / "schemas" / "simple" / "contact.json").write_text(json.dumps(CONTACT_SCHEMA), encoding="utf-8")
    return TrainData(root, write_rows(root / "train.jsonl", ROWS), root / "schemas")


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The `sentiment` test task registered for the module; yields its 12-row train.jsonl."""
    register_task(SentimentTask(), replace=True)
    path = write_rows(tmp_path_factory.mktemp("sentiment") / "train.jsonl", SENTIMENT_ROWS)
    yield path
    unregister_task("sentiment")
