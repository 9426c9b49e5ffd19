"""`maaza card RUN_DIR`: a Hugging Face model card built only from the files a run wrote.

Inputs (each optional; a missing one drops its sections and the card says which command makes it):
`training_summary.json` (maaza train), results JSONs (maaza eval), `sizes.json` (maaza export),
`maaza.json`, `config.json` and `adapter_config.json` of the adapter/merged folders. Every number in
the card is read from one of them, except published reference figures, which are labelled *published*.

This module writes the generic parts (front matter, architecture, method, training data, hyperparameters,
hardware, evaluation tables, sizes, sources). The task the model was trained or evaluated for (the
training config's or maaza.json's `task`, else the results' `task`) adds its own, through
`maaza.tasks.get_task(name)`: `card_sections(results)` (the Task protocol's; placed after the
evaluation, given `context=` when it accepts it) and the optional hooks `card_tags()`, `card_label()`,
`card_usage(context)` and `card_limitations(results)` (see `maaza.tasks.edgejson.card` for the EdgeJSON
ones and what `context` holds). A task that is not registered here gets the generic card and a note.

A sequence classifier (`model_kind: sequence_classifier` in the training summary or maaza.json, or results
written by `maaza.eval.classifier`) is described as one: pipeline tag `text-classification`, its loss over
the labels, its batch-1 latency and batched inferences/s instead of decoding speed.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError
from maaza.io import atomic_write_text, read_json
from maaza.report.markdown import cell as _cell
from maaza.report.markdown import kv_table as _kv_table
from maaza.report.markdown import num as _num
from maaza.report.markdown import short_path as _short_path
from maaza.report.markdown import table as _table
from maaza.report.results import (
    LEGACY_TASK,
    METRIC_KEYS,
    METRIC_NAMES,
    dataset_label,
    describe_variant,
    fmt_metric,
    fmt_params,
    is_classifier_results,
    is_fine_tuned,
    is_results,
    load_results,
)
from maaza.tasks import get_task, task_names

SUMMARY_FILE = "training_summary.json"
SIZES_FILE = "sizes.json"
METADATA_FILE = "maaza.json"
# Where a run folder keeps things: `maaza train` writes at its output_dir; `maaza pipeline` nests stages.
SUBDIRS: tuple[str, ...] = ("", "train", "export", "eval", "results")
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
CLASSIFIER_KIND = "sequence_classifier"
MAX_GROUP_ROWS = 20  # an evaluation table breaks down by the task's first group only up to this many values


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
        """A path as seen from the card's folder (the run folder): `../results/x.json` for a file beside it, so
        a committed card names no machine's absolute paths."""
        try:
            return Path(os.path.relpath(path.resolve(), self.root.resolve())).as_posix()
        except ValueError:  # another drive (Windows)
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


def _mb(size: Any) -> str:
    return f"{size / 1e6:.1f} MB" if isinstance(size, int | float) else "-"


def _variant_key(results: dict[str, Any]) -> str:
    config = results.get("config") or {}
    if is_classifier_results(results):  # no decoding: what ran tells runs apart (onnxruntime-int8)
        model = results.get("model") or {}
        key = "-".join(str(model[k]) for k in ("backend", "precision") if model.get(k)) or "classifier"
        return f"{config['variant']}-{key}" if config.get("variant") else key
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


# ------------------------------------------------------------------------------------------- the task


@dataclass
class CardTask:
    """The card's task: its name, the task object (None when not registered here) and what it adds."""

    name: str
    task: Any = None
    note: str | None = None  # why the task's own sections are missing

    @classmethod
    def find(cls, name: str) -> CardTask:
        try:
            return cls(name, get_task(name, key="card task"))
        except MaazaError:
            return cls(
                name,
                note=f"The `{name}` task is not registered in this maaza (registered: {', '.join(task_names())}), "
                "so the sections it would add (comparison, usage, task limitations) are left out.",
            )

    def hook(self, member: str, *args: Any, default: Any = None, **kwargs: Any) -> Any:
        """Call the task's optional card hook `member`, or return `default` when it has none."""
        method = getattr(self.task, member, None)
        return default if method is None else method(*args, **kwargs)

    @property
    def tags(self) -> list[str]:
        return list(self.hook("card_tags", default=[]))

    @property
    def label(self) -> str | None:
        return self.hook("card_label")

    def metric_keys(self, results: Sequence[dict[str, Any]] = ()) -> tuple[str, ...]:
        """The metrics a card reports: the task's, or (task unknown) the known ones the results hold."""
        if self.task is not None:
            return tuple(self.task.metric_names)
        held = {k for r in results for k in ((r.get("metrics") or {}).get("overall") or {})}
        return tuple(k for k in METRIC_KEYS if k in held) or tuple(sorted(held - {"n"}))

    @property
    def group_key(self) -> str | None:
        """The aggregate group the evaluation tables break down by (the task's first group key)."""
        keys = tuple(getattr(self.task, "group_keys", ()) or ())
        return keys[0] if keys else None

    def sections(self, results: list[dict[str, Any]], context: dict[str, Any]) -> list[str]:
        """The task's own sections (`card_sections`), given `context` when the task takes it."""
        if self.task is None:
            return []
        method = self.task.card_sections
        try:
            params = inspect.signature(method).parameters.values()
        except (TypeError, ValueError):
            params = []
        if any(p.name == "context" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return list(method(results, context=context))
        return list(method(results))


def _section_lines(sections: Sequence[str]) -> list[str]:
    """Markdown sections (one string each) as card body lines, each followed by a blank line."""
    lines: list[str] = []
    for section in sections:
        if section.strip():
            lines += [section.rstrip("\n"), ""]
    return lines


# -------------------------------------------------------------------------------------- front matter


def front_matter(
    name: str,
    *,
    hub_id: str | None,
    library: str,
    tags: list[str],
    datasets: list[str],
    results: list[dict[str, Any]],
    task_label: str | None = None,
    metric_keys: Sequence[str] = METRIC_KEYS,
    pipeline_tag: str = "text-generation",
) -> Any:
    """ModelCardData with a model-index entry per results file (one dataset config per variant).

    `task_label` names the task in the model-index (default: the results' task name); `metric_keys` are
    the metrics reported, in order; a classifier's results are `text-classification` entries.
    """
    from huggingface_hub import EvalResult, ModelCardData

    evals = []
    for item in results:
        overall = (item.get("metrics") or {}).get("overall") or {}
        task = str(item.get("task") or LEGACY_TASK)
        for key in metric_keys:
            value = overall.get(key)
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            evals.append(
                EvalResult(
                    task_type="text-classification" if is_classifier_results(item) else "text-generation",
                    task_name=task_label or task,
                    dataset_type=task,
                    dataset_name=dataset_label(item),
                    dataset_config=_variant_key(item),
                    dataset_split=_split(item),
                    dataset_args={
                        "prompt_format": (item.get("config") or {}).get("prompt_format"),
                        "constrained": bool((item.get("config") or {}).get("constrained")),
                        "rows": overall.get("n"),
                    },
                    metric_type=key,
                    metric_name=f"{METRIC_NAMES.get(key, key)} ({describe_variant(item)})",
                    metric_value=value,
                )
            )
    return ModelCardData(
        license="apache-2.0",
        base_model=hub_id,
        library_name=library,
        pipeline_tag=pipeline_tag,
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


def _is_classifier_run(summary: dict[str, Any], metadata: dict[str, Any]) -> bool:
    kinds = (
        summary.get("model_kind"),
        ((summary.get("config") or {}).get("model") or {}).get("kind"),
        metadata.get("model_kind"),
    )
    return CLASSIFIER_KIND in kinds


def _classifier_loss(summary: dict[str, Any]) -> str:
    """A classifier's loss: cross-entropy on the label, or distillation (teacher, temperature, alpha)."""
    train = (summary.get("config") or {}).get("train") or {}
    loss = summary.get("loss") or train.get("loss")
    if loss == "distill":
        settings = train.get("distill") or {}
        teacher = (summary.get("distill") or {}).get("teacher")
        parts = [f"teacher `{teacher}`"] if teacher else []
        parts += [
            f"{label} {_num(settings[key])}"
            for key, label in (("temperature", "T ="), ("alpha", "alpha ="))
            if settings.get(key) is not None
        ]
        return "distillation from cached teacher logits over the labels" + (
            f" ({', '.join(parts)})" if parts else ""
        )
    return "cross-entropy on the label" if loss in (None, "completion_ce") else f"`{loss}`"


def _method(files: RunFiles, summary: dict[str, Any], classifier: bool = False) -> list[str]:
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
    if classifier:
        pairs.append(("model kind", "sequence classifier (a classification head over the task's labels)"))
    data_cfg = (summary.get("config") or {}).get("data") or {}
    if data_cfg.get("prompt_format"):
        pairs.append(("prompt format", f"`{data_cfg['prompt_format']}`"))
    if "minify_targets" in data_cfg and not classifier:
        pairs.append(("targets", "minified JSON" if data_cfg["minify_targets"] else "indented JSON"))
    pairs.append(("loss", _classifier_loss(summary) if classifier else "completion tokens only"))
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


def _hardware(summary: dict[str, Any], classifier: bool = False) -> list[str]:
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
        ("completion_tokens_per_s", "labelled examples/s" if classifier else "completion tokens/s"),
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


def _metrics_table(item: dict[str, Any], keys: Sequence[str], group_key: str | None) -> list[str]:
    """One results file's metrics: overall, then by the task's first group (EdgeJSON: complexity)."""
    metrics = item.get("metrics") or {}
    buckets = [("overall", metrics.get("overall") or {})]
    groups = list((metrics.get(f"by_{group_key}") or {}).items()) if group_key else []
    if len(groups) <= MAX_GROUP_ROWS:
        buckets += groups
    rows = [
        [_cell(name), str(b.get("n", "-")), *(fmt_metric(k, b.get(k)) for k in keys)] for name, b in buckets
    ]
    lines = _table(["group", "n", *(METRIC_NAMES.get(k, k) for k in keys)], rows)
    if len(groups) > MAX_GROUP_ROWS:
        lines += [
            "",
            f"By {group_key}: {len(groups)} groups, in the results JSON (`metrics.by_{group_key}`).",
        ]
    return lines


def _evaluation(files: RunFiles, results: list[tuple[Path, dict[str, Any]]], task: CardTask) -> list[str]:
    lines = ["## Evaluation", ""]
    keys = task.metric_keys([item for _, item in results])
    for path, item in results:
        config = item.get("config") or {}
        env = item.get("environment") or {}
        timing = item.get("timing") or {}
        model = item.get("model") or {}
        lines += [f"### {_cell(dataset_label(item))}: {_cell(describe_variant(item))}", ""]
        facts = [
            f"results `{_cell(files.rel(path))}`",
            f"status `{item.get('status')}`",
            f"{model.get('backend')} {model.get('precision')}",
        ]
        if config.get("decoding") is not None or not is_classifier_results(item):
            facts.append(f"decoding `{config.get('decoding')}`")
        if config.get("max_new_tokens"):
            facts.append(f"max new tokens {config['max_new_tokens']}")
        if env.get("machine"):
            facts.append(f"measured on {env['machine']}")
        lines += [", ".join(facts) + ".", ""]
        lines += _metrics_table(item, keys, task.group_key)
        speed = []
        if timing.get("tokens_per_s") is not None:
            speed.append(f"{timing['tokens_per_s']} tokens/s (batch {timing.get('batch_size')})")
        if (timing.get("ttft_s") or {}).get("mean") is not None:
            speed.append(f"TTFT mean {timing['ttft_s']['mean']} s")
        if (timing.get("latency_s") or {}).get("p50") is not None:
            speed.append(f"latency p50 {timing['latency_s']['p50']} s")
        latency_ms = timing.get("latency_ms") or {}
        if latency_ms.get("p50") is not None:
            p95 = f", p95 {latency_ms['p95']} ms" if latency_ms.get("p95") is not None else ""
            speed.append(f"batch-1 latency p50 {latency_ms['p50']} ms{p95}")
        if timing.get("batched_per_s") is not None:
            speed.append(f"{timing['batched_per_s']} inferences/s batched")
        if timing.get("peak_rss_mb") is not None:
            speed.append(f"peak RSS {timing['peak_rss_mb']} MiB")
        if timing.get("file_mb") is not None:
            speed.append(f"file {timing['file_mb']} MB")
        if speed:
            lines += ["", "Speed: " + ", ".join(speed) + "."]
        lines.append("")
    return lines


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


def _limitations(summary: dict[str, Any], results: list[dict[str, Any]], task: CardTask) -> list[str]:
    """The task's limitation items (`card_limitations`), then partial results, dropped data, scope."""
    items = list(task.hook("card_limitations", results, default=[]))
    for item in results:
        if item.get("status") != "complete":
            overall = (item.get("metrics") or {}).get("overall") or {}
            items.append(
                f"The results for {describe_variant(item)} are partial ({overall.get('n')} of "
                f"{(item.get('data') or {}).get('rows')} rows)."
            )
    dropped = (summary.get("data") or {}).get("dropped_overlength")
    if dropped:
        limit = ((summary.get("config") or {}).get("data") or {}).get("max_length")
        items.append(
            f"{dropped} training examples longer than {limit} tokens were dropped: long inputs were never trained on."
        )
    if results:
        tasks = sorted({str(r.get("task")) for r in results})
        sets = list(dict.fromkeys(dataset_label(r) for r in results))
        items.append(
            f"Evaluated only on {', '.join(tasks)} rows ({'; '.join(sets)}); inputs unlike these may score "
            "differently."
        )
    if not items:
        return []
    return ["## Limitations", "", *(f"- {text}" for text in items), ""]


def _sources(files: RunFiles, task: str) -> list[str]:
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
            f"`maaza eval --adapter RUN_DIR/adapter --out RUN_DIR/eval/{task}.json`"
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


def _is_own(model: dict[str, Any], root: Path) -> bool:
    """Whether a results file scores this run's model: an adapter or a renamed merge on top of a base, or a
    model folder inside the run folder (a classifier's `merged/` or exported ONNX has no base recorded)."""
    if is_fine_tuned(model):
        return True
    path = model.get("path")
    if not path:
        return False
    try:
        Path(path).resolve().relative_to(root.resolve())
    except (OSError, ValueError):
        return False
    return True


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
    own = [(p, item) for p, item in loaded if not tuned or _is_own(item.get("model") or {}, files.root)]
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
    task = CardTask.find(
        str(
            summary.get("config", {}).get("task")
            or metadata.get("task")
            or next((r.get("task") for _, r in loaded), None)
            or LEGACY_TASK
        )
    )
    classifier = _is_classifier_run(summary, metadata) or bool(
        loaded and all(is_classifier_results(item) for _, item in loaded)
    )
    pipeline = "text-classification" if classifier else "text-generation"
    tags = ["maaza", *task.tags, task.name]
    tags += [pipeline] if pipeline not in tags else []
    tags.append("lora" if method == "lora" else "full-fine-tune" if method == "full" else "evaluation")
    datasets = sorted({Path(p).parent.name for p in ((summary.get("data") or {}).get("files") or {})} - {""})
    data = front_matter(
        name,
        hub_id=hub_id,
        library=library,
        tags=tags,
        datasets=datasets,
        results=measured,
        task_label=task.label,
        metric_keys=task.metric_keys(measured),
        pipeline_tag=pipeline,
    )
    # What the task's card hooks may read (see maaza.tasks.edgejson.card); paths as seen from the card.
    context: dict[str, Any] = {
        "name": name,
        "hub_id": hub_id,
        "summary": summary,
        "metadata": metadata,
        "own": own,
        "baseline": baseline,
        "adapter_dir": files.rel(files.adapter_dir) if files.adapter_dir is not None else None,
        "merged_dir": files.rel(files.merged_dir) if files.merged_dir is not None else None,
        "adapter_tokenizer": files.adapter_dir is not None
        and (files.adapter_dir / "tokenizer_config.json").is_file(),
    }
    task_sections = task.sections(measured, context)
    # the sentence about published figures only where the task's sections quote some (EdgeJSON: the Maaza card)
    quoted = any("*published*" in section for section in task_sections)
    body = [f"# {name}", ""]
    label = f" ({task.label})" if task.label else ""
    if tuned:
        intro = (
            f"Fine-tuned{f' from `{hub_id}`' if hub_id else ''} with maaza for the `{task.name}` task{label}."
        )
    else:
        intro = (
            f"`{hub_id or name}` as it is (no fine-tuning), evaluated with maaza on the `{task.name}` task."
        )
    body += [
        intro,
        "Every number in this card is read from the run's files (listed under *Sources*)"
        + ("; figures from the published Maaza card are marked *published*." if quoted else "."),
        "",
    ]
    if task.note:
        body += [task.note, ""]
    body += _architecture(files, summary, measured or [item for _, item in loaded])
    if summary:
        body += (
            _method(files, summary, classifier)
            + _data(summary)
            + _hyperparameters(summary)
            + _hardware(summary, classifier)
        )
    if own:
        body += _evaluation(files, own, task)
    body += _section_lines(task_sections)
    body += _sizes(files, measured)
    body += _section_lines(task.hook("card_usage", context, default=[]))
    body += _limitations(summary, measured, task)
    files.baseline = [p for p, _ in baseline]
    body += _sources(files, task.name)
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
