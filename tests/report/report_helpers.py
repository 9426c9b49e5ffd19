"""Hand-made results JSONs, training summaries and run folders for the report tests (no model runs)."""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.report import command
from maaza.report.results import EDGEJSON_V3_TEST
from maaza.tasks.edgejson.metrics import aggregate, score_example

MACHINE = "Test CPU 9000, 2 CPUs, Linux x86_64"
HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
# `results_doc(..., **V3)`: results that name EdgeJSON v3 test as their data (the published figures' test
# set), so the leaderboard ranks them beside the published rows. The hand-made examples are only 40 rows:
# the leaderboard groups by the recorded identity (sha256 + rows) and does not recount.
V3: dict[str, Any] = {
    "sha256": EDGEJSON_V3_TEST.sha256,
    "rows": EDGEJSON_V3_TEST.rows,
    "data_path": "/data/edgejson_v3/test.jsonl",
}


def run_cli(argv: Sequence[str]) -> int:
    """`maaza` with only the report subcommands, handling errors the way `maaza.cli.main` does."""
    parser = argparse.ArgumentParser(prog="maaza")
    sub = parser.add_subparsers(dest="command")
    for add in (
        command.add_card_parser,
        command.add_leaderboard_parser,
        command.add_publish_parser,
        command.add_refine_parser,
    ):
        add(sub)
    args = parser.parse_args(list(argv))
    try:
        return args.handler(args)
    except MaazaError as exc:
        print(f"maaza: error: {exc}", file=sys.stderr)
        return 2


def gold(schema_id: str, index: int) -> dict[str, Any]:
    """A deterministic expected object: flat for simple schemas, nested for the others."""
    if schema_id in ("easy", "solved"):
        return {"name": f"Person {index}", "email": f"p{index}@x.io"}
    return {
        "order_id": f"A{index}",
        "customer": {"name": f"C{index}", "age": 30 + index},
        "items": [{"sku": f"K{index}", "qty": 1 + index % 3}],
    }


def spoil(expected: dict[str, Any]) -> dict[str, Any]:
    """A near miss: one nested leaf wrong, one key missing (or a flat value wrong)."""
    wrong = copy.deepcopy(expected)
    if "customer" in wrong:
        wrong["customer"]["age"] += 1
        del wrong["items"]
    else:
        wrong["name"] = wrong["name"].upper()
    return wrong


def example(
    row_id: str, schema_id: str, complexity: str, expected: dict[str, Any], raw: str
) -> dict[str, Any]:
    """One scored results row, as `maaza eval` writes it."""
    return {
        "id": row_id,
        "schema_id": schema_id,
        "complexity": complexity,
        "raw_output": raw,
        **score_example(raw, expected, None),
        "prompt_tokens": 40,
        "new_tokens": 20,
        "seconds": 1.0,
        "ttft_seconds": 0.1,
        "finish_reason": "json_closed",
        "batch_size": 4,
    }


COMPLEXITY = {"easy": "simple", "solved": "simple", "mid": "medium", "hard": "complex"}


def make_examples(plan: dict[str, tuple[int, int]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Data rows and scored examples; plan maps schema id -> (rows, exactly right rows).

    The first wrong row of the `hard` schema is unparsable text; the others are near misses.
    """
    rows, examples = [], []
    for schema_id, (count, right) in plan.items():
        for index in range(count):
            row_id = f"{schema_id}_{index:03d}"
            expected = gold(schema_id, index)
            rows.append(
                {
                    "id": row_id,
                    "schema_id": schema_id,
                    "complexity": COMPLEXITY[schema_id],
                    "prompt": f"text {row_id}",
                    "expected_output": expected,
                }
            )
            if index < right:
                raw = json.dumps(expected)
            elif schema_id == "hard" and index == right:
                raw = "Sure! Here is the order: order_id A"
            else:
                raw = json.dumps(spoil(expected))
            examples.append(example(row_id, schema_id, COMPLEXITY[schema_id], expected, raw))
    return rows, examples


TUNED_PLAN = {"easy": (10, 10), "solved": (10, 9), "mid": (10, 6), "hard": (10, 1)}
BASE_PLAN = {"easy": (10, 10), "solved": (10, 0), "mid": (10, 0), "hard": (10, 0)}


def results_doc(
    examples: list[dict[str, Any]],
    *,
    name: str = "smollm2-135m",
    base: str = "smollm2-135m",
    adapter: str | None = None,
    prompt_format: str = "schema-chat",
    constrained: bool = False,
    status: str = "complete",
    data_path: str | None = None,
    rows: int | None = None,
    sha256: str | None = None,
    task: str = "edgejson",
    limit: int | None = None,
    params: int = 134_515_008,
    file_size: int = 538_090_408,
    adapter_size: int | None = None,
    tokens_per_s: float = 21.37,
) -> dict[str, Any]:
    """A results JSON in the `maaza eval` layout, metrics aggregated from `examples`."""
    return {
        "schema_version": 1,
        "task": task,
        "status": status,
        "model": {
            "name": name,
            "base": base,
            "hub_id": HUB_ID,
            "source": "bundled",
            "path": "/cache/smollm2",
            "params": params,
            "adapter": adapter,
            "backend": "transformers",
            "precision": "float32",
            "file_size_bytes": file_size,
            "adapter_size_bytes": adapter_size,
            "source_gguf_bytes": 98_362_432,
        },
        "config": {
            "task": task,
            "model": None,
            "adapter": adapter,
            "data": data_path,
            "prompt_format": prompt_format,
            "max_new_tokens": 512,
            "dtype": "float32",
            "constrained": constrained,
            "lenient_datetime": True,
            "stop_on_json_close": True,
            "schemas": "/data/schemas",
            "limit": limit,
            "batch_size": 4,
            "decoding": "greedy",
            "threads": 1,
        },
        "data": {
            "path": data_path or "/nonexistent/test.jsonl",
            "sha256": sha256,
            "rows": rows if rows is not None else len(examples),
        },
        "environment": {"machine": MACHINE, "cpu_count": 2, "versions": {"maaza": "0.1.0"}},
        "metrics": aggregate(examples),
        "timing": {
            "tokens_per_s": tokens_per_s,
            "ttft_s": {"mean": 0.1, "p50": 0.1},
            "latency_s": {"p50": 1.0, "p90": 1.0, "p99": 1.0},
            "peak_rss_mb": 1825.4,
            "batch_size": 4,
        },
        "examples": examples,
    }


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def training_summary() -> dict[str, Any]:
    """A training_summary.json as `maaza train` writes it (values made up, but each one distinctive)."""
    return {
        "name": "mlm-135m-json-test",
        "config": {
            "name": "mlm-135m-json-test",
            "task": "edgejson",
            "model": {
                "base": "smollm2-135m",
                "method": "lora",
                "lora": {
                    "r": 16,
                    "alpha": 32,
                    "dropout": 0.1,
                    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
                },
            },
            "data": {
                "train": ["edgejson_v3/train.jsonl"],
                "prompt_format": "schema-chat",
                "minify_targets": True,
                "max_length": 1024,
            },
            "train": {
                "epochs": 3.0,
                "max_steps": None,
                "lr": 0.0005,
                "betas": [0.9, 0.999],
                "eps": 1e-08,
                "weight_decay": 0.01,
                "scheduler": "cosine",
                "warmup_ratio": 0.1,
                "batch_size": 8,
                "micro_batch_tokens": 4096,
                "max_grad_norm": 1.0,
                "precision": "auto",
                "seed": 42,
            },
        },
        "recipe_hash": "abc123",
        "base_model": {"name": "smollm2-135m", "path": "/cache/smollm2", "hub_id": HUB_ID},
        "method": "lora",
        "params": {"total": 139_349_184, "trainable": 4_884_480},
        "data": {
            "train": {
                "examples": 571,
                "tokens": 201_234,
                "completion_tokens": 99_876,
                "max_length": 1019,
                "median_length": 377,
            },
            "val": {
                "examples": 30,
                "tokens": 10_111,
                "completion_tokens": 5_055,
                "max_length": 901,
                "median_length": 355,
            },
            "dropped_overlength": 28,
            "files": {"/data/edgejson_v3/train.jsonl": "f00dfeed" * 8},
        },
        "steps": 216,
        "steps_per_epoch": 72,
        "epochs": 3.0,
        "processes": 1,
        "precision": "fp32",
        "train_seconds": 3456.78,
        "useful_tokens": 603_702,
        "padded_tokens": 700_000,
        "padding_efficiency": 0.8624,
        "useful_tokens_per_s": 174.6,
        "completion_tokens_per_s": 86.7,
        "final_train_loss": 0.1234,
        "final_val_loss": 0.2345,
        "best_val_loss": 0.2222,
        "best_step": 200,
        "exported_from": "best (step 200)",
        "outputs": {"adapter": "runs/x/adapter", "merged": "runs/x/merged"},
        "peak_rss_mb": 4321.5,
        "environment": {
            "machine": MACHINE,
            "versions": {"maaza": "0.1.0", "torch": "2.13.0"},
            "git_commit": "deadbeef",
        },
    }


def make_run_dir(
    root: Path, *, summary: bool = True, sizes: bool = False
) -> tuple[Path, list[dict[str, Any]]]:
    """A run folder: training summary, adapter metadata, two results JSONs (unconstrained, constrained)."""
    run = root / "run"
    if summary:
        write_json(run / "training_summary.json", training_summary())
    write_json(
        run / "adapter" / "maaza.json",
        {
            "name": "mlm-135m-json-test",
            "kind": "adapter",
            "base_model": "smollm2-135m",
            "method": "lora",
            "task": "edgejson",
            "prompt_format": "schema-chat",
        },
    )
    write_json(
        run / "adapter" / "adapter_config.json",
        {
            "r": 16,
            "lora_alpha": 32,
            "lora_dropout": 0.1,
            "target_modules": ["v_proj", "q_proj", "k_proj", "o_proj"],
            "peft_type": "LORA",
        },
    )
    rows, _ = make_examples(TUNED_PLAN)
    data = write_rows(root / "data" / "test.jsonl", rows)
    docs = []
    for constrained, plan in (
        (False, TUNED_PLAN),
        (True, {"easy": (10, 10), "solved": (10, 10), "mid": (10, 8), "hard": (10, 3)}),
    ):
        _, scored = make_examples(plan)
        doc = results_doc(
            scored,
            name="mlm-135m-json-test",
            adapter=str(run / "adapter"),
            constrained=constrained,
            data_path=str(data),
            adapter_size=19_554_432,
            tokens_per_s=17.25 if constrained else 23.5,
        )
        suffix = "constrained" if constrained else "unconstrained"
        write_json(run / "eval" / f"edgejson_{suffix}.json", doc)
        docs.append(doc)
    if sizes:
        write_json(
            run / "export" / "sizes.json",
            {
                "formats": {
                    "merged": {"path": "merged", "bytes": 538_123_456, "check": {"passed": True}},
                    "gguf-q8_0": {"path": "m-q8_0.gguf", "bytes": 144_987_654, "check": {"passed": True}},
                    "gguf-q4_1": {"path": "m-q4_1.gguf", "bytes": 98_765_432, "check": {"passed": False}},
                },
                "source": {"safetensors_bytes": 538_090_408},
            },
        )
    return run, docs


def write_results(folder: Path) -> dict[str, Path]:
    """Base (seed prompt) and fine-tuned (constrained) results on EdgeJSON v3 test, a partial file and a
    file that is not a results JSON, in `folder`."""
    _, base = make_examples(BASE_PLAN)
    _, tuned = make_examples(TUNED_PLAN)
    return {
        "base": write_json(folder / "base_seed.json", results_doc(base, prompt_format="seed", **V3)),
        "tuned": write_json(
            folder / "tuned.json",
            results_doc(
                tuned,
                name="mlm-135m-json",
                adapter="/runs/mlm/adapter",
                constrained=True,
                adapter_size=19_554_432,
                tokens_per_s=17.0,
                **V3,
            ),
        ),
        "partial": write_json(
            folder / "partial.json",
            results_doc(
                tuned[:8],
                name="gemma3-270m",
                base="gemma3-270m",
                status="partial",
                rows=40,
                params=268_098_176,
            ),
        ),
        "other": write_json(folder / "sizes.json", {"formats": {}}),
    }
