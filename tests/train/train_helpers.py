"""Helpers for the training tests: a tiny EdgeJSON training set and small recipes on the tiny random Llama.

Every config here trains the session's `tiny_model_dir` (2 layers, hidden 64) on short rows, with one
torch thread, so a run takes seconds even on a contended 2-core machine.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from maaza.config import from_dict
from maaza.train.config import TrainConfig

CONTACT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "email": {"type": "string"}},
    "required": ["name", "email"],
    "additionalProperties": False,
}

NAMES = [
    "Ann",
    "Bob",
    "Cy",
    "Dee",
    "Eve",
    "Fay",
    "Gus",
    "Hal",
    "Ida",
    "Jo",
    "Kai",
    "Lu",
    "Max",
    "Ned",
    "Oz",
    "Pam",
    "Quin",
    "Rae",
    "Sam",
    "Tia",
    "Uma",
    "Vic",
    "Wes",
    "Xia",
]


def contact_row(index: int, name: str) -> dict[str, Any]:
    email = f"{name.lower()}@x{index % 3}.io"
    return {
        "id": f"r{index:02d}",
        "schema_id": "contact",
        "complexity": "simple",
        "prompt": f"Name: {name}\nEmail: {email}",
        "expected_output": {"name": name, "email": email},
    }


ROWS: list[dict[str, Any]] = [contact_row(i, name) for i, name in enumerate(NAMES)]


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@dataclass(frozen=True)
class TrainData:
    root: Path
    train: Path  # train.jsonl (24 rows)
    schemas: Path


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in, section by section (a copy)."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def config_dict(model_dir: Path, dataset: TrainData, out: Path, **changes: Any) -> dict[str, Any]:
    """A small LoRA recipe: 24 rows (5 held out), batch 4, 8 steps, checkpoints and eval every 2 steps."""
    base = {
        "name": "tiny-test",
        "output_dir": str(out),
        "model": {"base": str(model_dir), "method": "lora", "lora": {"r": 8, "alpha": 16, "dropout": 0.0}},
        "data": {
            "train": [str(dataset.train)],
            "schemas": str(dataset.schemas),
            "prompt_format": "seed",
            "val_fraction": 0.2,
            "max_length": 128,
        },
        "train": {
            "epochs": 3,
            "max_steps": 8,
            "lr": 5e-3,
            "batch_size": 4,
            "micro_batch_tokens": 128,
            "warmup_ratio": 0.1,
            "seed": 7,
            "threads": 1,
        },
        "checkpoint": {"every_steps": 2, "keep_last": 3},
        "eval": {"every_steps": 2, "max_examples": 8},
        "logging": {"tensorboard": False, "progress": False},
    }
    return merge(base, changes)


def make_config(model_dir: Path, dataset: TrainData, out: Path, **changes: Any) -> TrainConfig:
    return from_dict(TrainConfig, config_dict(model_dir, dataset, out, **changes))


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def subprocess_env() -> dict[str, str]:
    """The environment for `python -m maaza` children: offline, unbuffered, one torch thread, CPU only."""
    env = dict(os.environ)
    env.update(
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        CUDA_VISIBLE_DEVICES="",
    )
    return env


@contextlib.contextmanager
def reaped(child: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """Kill and reap `child` (started with start_new_session=True: its whole process group, so that the
    workers of `accelerate launch` go too) if the block fails: never leave a training process behind."""
    try:
        yield child
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        raise


# --- a second task for the slot tests: three-label sentiment, registered at run time -----------------------
# The toy task of tests/tasks/toy_sentiment.py (a ClassificationTask), registered here as `sentiment`.

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))
import toy_sentiment  # noqa: E402

SENTIMENT_LABELS = toy_sentiment.LABELS

REVIEWS = [
    ("loved it", "positive"),
    ("awful", "negative"),
    ("it was fine", "neutral"),
    ("great fun", "positive"),
    ("too slow", "negative"),
    ("okay I guess", "neutral"),
    ("superb", "positive"),
    ("broken", "negative"),
    ("average", "neutral"),
    ("wonderful", "positive"),
    ("boring", "negative"),
    ("so-so", "neutral"),
]
SENTIMENT_ROWS: list[dict[str, Any]] = [
    {"id": f"s{i:02d}", "text": text, "label": label} for i, (text, label) in enumerate(REVIEWS)
]


def SentimentTask() -> toy_sentiment.SentimentTask:
    """The toy sentiment task under the name tests/train registers and configures: `sentiment`."""
    return toy_sentiment.SentimentTask(name="sentiment")
