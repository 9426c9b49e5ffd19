"""`maaza eval` for any registered task: generate, score, aggregate, and write a resumable results JSON.

The runner speaks only the task protocol (`maaza.tasks.base.Task`): the task reads its rows, builds each
prompt and decoding constraint, scores each output and aggregates; decoding is `maaza.decoding`'s.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maaza.decoding.backends import ConstraintStats, load_backend
from maaza.decoding.generate import BatchTiming
from maaza.decoding.options import check_decoding_options
from maaza.envinfo import environment, peak_rss_mb
from maaza.errors import MaazaError
from maaza.io import file_sha256, read_checked_json, write_checked_json
from maaza.models.loading import saved_model_metadata
from maaza.tasks import get_task
from maaza.tasks.base import answer_is_object, choose_prompt_format

RESULTS_SCHEMA_VERSION = 1
# Settings that change the answers; resuming with any of them different would mix two experiments.
IDENTITY_KEYS = (
    "task",
    "model",
    "adapter",
    "data",
    "prompt_format",
    "max_new_tokens",
    "dtype",
    "constrained",
    "lenient_datetime",
    "stop_on_json_close",
    "backend",
    "loop_guard",
    "grounded",
    "rewind_repeats",
)
# Keys added after results files were first written, with the value older files implicitly used.
IDENTITY_DEFAULTS = {"backend": "hf", "loop_guard": False, "grounded": False, "rewind_repeats": False}


@dataclass
class EvalConfig:
    data: str
    schemas: str | None = None  # the schema folder of tasks whose rows name a schema (edgejson)
    model: str | None = None
    adapter: str | None = None
    task: str = "edgejson"
    prompt_format: str | None = None  # None: the model's saved format (maaza.json), else the task's default
    limit: int | None = None
    batch_size: int = 4
    max_new_tokens: int = 512
    dtype: str = "float32"
    constrained: bool = False
    lenient_datetime: bool = True
    stop_on_json_close: bool = True
    threads: int | None = None
    backend: str = "hf"  # hf | llamacpp | onnx (see maaza.decoding.backends)
    loop_guard: bool = (
        True  # constrained rows that loop or near the budget are steered to close (loop_guard.py)
    )
    grounded: bool = False  # constrained values copied from the row's text (maaza.decoding.grounded)
    rewind_repeats: bool = False  # constrained, llamacpp: drop repeated array items (maaza.decoding.repeat_items)
    resources: dict[str, str] = field(default_factory=dict)  # more task resources by name (Task.resource_names)
    extra: dict[str, Any] = field(default_factory=dict)

    def task_resources(self) -> dict[str, str | None]:
        return {"schemas": self.schemas, **self.resources}


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summarize_timing(examples: list[dict[str, Any]], batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Throughput from batch wall times; latency/TTFT distributions from rows. All measured."""
    tokens = sum(b["new_tokens"] for b in batches)
    seconds = sum(b["seconds"] for b in batches)
    latencies = [e["seconds"] for e in examples]
    ttfts = [e["ttft_seconds"] for e in examples]
    row_rates = [e["new_tokens"] / e["seconds"] for e in examples if e["seconds"] > 0]
    return {
        "generated_tokens": tokens,
        "generation_seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / seconds, 2) if seconds else None,
        "per_row_tokens_per_s_mean": round(statistics.fmean(row_rates), 2) if row_rates else None,
        "latency_s": {f"p{int(q * 100)}": _round(_percentile(latencies, q)) for q in (0.5, 0.9, 0.99)},
        "ttft_s": {
            "mean": _round(statistics.fmean(ttfts)) if ttfts else None,
            "p50": _round(_percentile(ttfts, 0.5)),
        },
        "batches": len(batches),
        "finish_reasons": _count(e["finish_reason"] for e in examples),
    }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


class EvalRun:
    """One evaluation writing to one results file; re-running with the same file resumes."""

    def __init__(self, config: EvalConfig, out_path: str | Path):
        check_decoding_options(constrained=config.constrained, grounded=config.grounded,
                               rewind_repeats=config.rewind_repeats, backend=config.backend)
        self.config = config
        self.out_path = Path(out_path)
        self.task = get_task(config.task)
        self.rows = self.task.load_rows(config.data, config.task_resources(), limit=config.limit)
        self.data_sha256 = file_sha256(config.data)
        self.environment = environment()
        self.resumed_environments: list[dict[str, Any]] = []

    def _identity(self, prompt_format: str) -> dict[str, Any]:
        cfg = self.config
        return {
            "task": cfg.task,
            "model": cfg.model,
            "adapter": cfg.adapter,
            "data": str(Path(cfg.data).resolve()),
            "prompt_format": prompt_format,
            "max_new_tokens": cfg.max_new_tokens,
            "dtype": cfg.dtype,
            "constrained": cfg.constrained,
            "lenient_datetime": cfg.lenient_datetime,
            "stop_on_json_close": cfg.stop_on_json_close and answer_is_object(self.task),
            "backend": cfg.backend,
            "loop_guard": cfg.loop_guard and cfg.constrained,  # it only acts on constrained rows
            "grounded": cfg.grounded,
            "rewind_repeats": cfg.rewind_repeats and cfg.constrained,  # it only acts on constrained rows
        }

    def _load_previous(self, identity: dict[str, Any]) -> dict[str, Any] | None:
        previous = read_checked_json(self.out_path, what="results file")
        if previous is None:
            return None
        stored = previous.get("config", {})
        old = {key: stored.get(key, IDENTITY_DEFAULTS.get(key)) for key in IDENTITY_KEYS}
        if old != identity:
            changed = [key for key in IDENTITY_KEYS if old.get(key) != identity.get(key)]
            raise MaazaError(
                f"{self.out_path} holds results of a different evaluation ({', '.join(changed)} differ); "
                "pass another --out or delete the file"
            )
        return previous

    def run(self, *, progress: bool = True) -> dict[str, Any]:
        import torch

        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        saved = saved_model_metadata(cfg.model, cfg.adapter)
        prompt_format = choose_prompt_format(cfg.prompt_format, saved, self.task)
        identity = self._identity(prompt_format)
        previous = self._load_previous(identity)  # before the (slow) model load: a clash fails fast
        load_started = time.perf_counter()
        options = {"threads": cfg.threads} if cfg.threads and cfg.backend != "hf" else {}
        backend = load_backend(cfg.backend, cfg.model, adapter=cfg.adapter, dtype=cfg.dtype, **options)
        load_seconds = time.perf_counter() - load_started
        examples: dict[str, dict[str, Any]] = {}
        batches: list[dict[str, Any]] = []
        constraint_stats = ConstraintStats()
        if previous:
            examples = {e["id"]: e for e in previous.get("examples", [])}
            batches = list(previous.get("timing", {}).get("batch_log", []))
            stored = previous.get("timing", {}).get("constraint", {}) or {}
            constraint_stats = ConstraintStats(
                float(stored.get("compile_seconds", 0.0)),
                float(stored.get("mask_seconds", 0.0)),
                int(stored.get("mask_calls", 0)),
            )
            # The file keeps the environment its first rows were made in; each resume is listed after it,
            # so a row is never credited to a commit that did not produce it.
            if previous.get("environment"):
                self.resumed_environments = [*previous.get("resumed_environments", []), self.environment]
                self.environment = previous["environment"]
        wanted_ids = {row.id for row in self.rows}
        examples = {key: value for key, value in examples.items() if key in wanted_ids}
        pending = [row for row in self.rows if row.id not in examples]
        prompts = {
row.id: self.task.prompt(row, prompt_format, backend.tokenizer) for row in pending
        }
        # Similar lengths in one batch: less padding, less wasted compute.
        pending.sort(key=lambda row: len(prompts[row.id]))
        results = self._results(
            backend, prompt_format, identity, load_seconds, examples, batches, constraint_stats
        )
        bar = _progress(len(self.rows), len(examples), enabled=progress)
        try:
            for start in range(0, len(pending), cfg.batch_size):
                chunk = pending[start : start + cfg.batch_size]
                batch = backend.generate(
                    [prompts[row.id] for row in chunk],
                    [self.task.constraint(row, grounded=cfg.grounded) for row in chunk] if cfg.constrained else None,
                    max_new_tokens=cfg.max_new_tokens,
                    stop_on_json_close=cfg.stop_on_json_close and answer_is_object(self.task),
                    lenient_datetime=cfg.lenient_datetime,
                    loop_guard=cfg.loop_guard,
                    rewind_repeats=cfg.rewind_repeats,
                )
                constraint_stats.add(batch.constraint)
                batches.append(asdict(batch.timing))
                for row, gen in zip(chunk, batch.generations, strict=True):
                    examples[row.id] = self._example(row, gen, batch.timing)
                results = self._results(
                    backend, prompt_format, identity, load_seconds, examples, batches, constraint_stats
                )
                write_checked_json(self.out_path, results)
                bar.update(len(chunk))
                headline = results["metrics"]["overall"].get(self.task.headline_metric)
                bar.set_postfix(tok_s=results["timing"]["tokens_per_s"], **{
                    self.task.headline_metric: "-" if headline is None else f"{headline:.2f}"})
        finally:
            bar.close()
            backend.close()
        results = self._results(
            backend, prompt_format, identity, load_seconds, examples, batches, constraint_stats
        )
        write_checked_json(self.out_path, results)
        return results

    def _example(self, row: Any, gen: Any, timing: BatchTiming) -> dict[str, Any]:
        scores = self.task.score(row, gen.text, lenient_datetime=self.config.lenient_datetime)
        return {
            "id": row.id,
            **row.groups,
            "raw_output": gen.text,
            **scores,
            "prompt_tokens": gen.prompt_tokens,
            "new_tokens": gen.new_tokens,
            "seconds": round(gen.seconds, 4),
            "ttft_seconds": round(gen.ttft_seconds, 4),
            "finish_reason": gen.finish_reason,
            "batch_size": timing.size,
        }

    def _results(
        self,
        backend: Any,
        prompt_format: str,
        identity: dict[str, Any],
        load_seconds: float,
        examples: dict[str, dict[str, Any]],
        batches: list[dict[str, Any]],
        constraint_stats: ConstraintStats,
    ) -> dict[str, Any]:
        ordered = [examples[row.id] for row in self.rows if row.id in examples]
        cfg = self.config
        timing = summarize_timing(ordered, batches)
        timing.update(
            {
                "model_load_seconds": round(load_seconds, 2),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "batch_size": cfg.batch_size,
                "batch_log": batches,
            }
        )
        if cfg.constrained:
            calls = constraint_stats.mask_calls
            timing["constraint"] = {
                **asdict(constraint_stats),
                "mask_ms_per_token": round(1000 * constraint_stats.mask_seconds / calls, 4)
                if calls
                else None,
            }
        return {
            "schema_version": RESULTS_SCHEMA_VERSION,
            "task": cfg.task,
            "status": "complete" if len(ordered) == len(self.rows) else "partial",
            "model": backend.describe(),
            "config": {
                **identity,
                **{name: str(Path(path).resolve()) for name, path in cfg.task_resources().items() if path},
                "limit": cfg.limit,
                "batch_size": cfg.batch_size,
                "decoding": "greedy",
                "threads": cfg.threads,
                **cfg.extra,
            },
            "data": {
                "path": str(Path(cfg.data).resolve()),
                "sha256": self.data_sha256,
                "rows": len(self.rows),
            },
            "environment": self.environment,
            **({"resumed_environments": self.resumed_environments} if self.resumed_environments else {}),
            "metrics": self.task.aggregate(ordered) if ordered else {},
            "timing": timing,
            "examples": ordered,
        }


def _progress(total: int, done: int, *, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc="eval", unit="row", disable=not enabled, dynamic_ncols=True)


def format_summary(results: dict[str, Any]) -> str:
    """The task's markdown table of the aggregates plus timing."""
    return get_task(results.get("task") or "edgejson", key="results task").summary_table(results)
