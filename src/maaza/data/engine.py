"""The task-agnostic synthetic data engine: record source -> renderer -> teacher -> validators.

A task plugs in three small pieces (EdgeJSON is the first, `maaza.tasks.edgejson.generator`; intent utterances
and function-call queries can follow the same shape):

- a `RecordSource`: spec (a schema, a label, a function) + seeded RNG -> record (the label), or a
  reject reason;
- a `Renderer`: spec + record + RNG -> (style, text) that is grounded by construction;
- `Validator`s: sample -> reject reason or None, with `accept` called once a sample is kept (so a
  dedupe index only learns accepted texts).

Determinism: sample `slot` (0..n-1) uses spec `slot % len(specs)` and, on its k-th attempt, the RNG
`random.Random(f"{seed}:{slot}:{k}")`; validation runs in slot order. The same seed (and teacher
outputs, which the teacher cache pins) gives the same rows, byte for byte.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Spec:
    """One generation target: `id` (e.g. a schema id), `group` (e.g. complexity), `payload` (the schema)."""

    id: str
    group: str
    payload: Any
    title: str = ""
    source: str = ""  # where it came from (a file path), for error messages


@dataclass
class Sample:
    """A candidate: the record (label), its rendered text, and the text after the teacher."""

    slot: int
    attempt: int
    spec: Spec
    record: Any
    style: str
    rendered: str
    text: str = ""


class RecordSource(Protocol):
    def make(self, spec: Spec, rng: random.Random) -> tuple[Any, str | None]:
        """(record, None), or (None, reject reason) when no valid record could be made."""
        ...


class Renderer(Protocol):
    def render(self, spec: Spec, record: Any, rng: random.Random) -> tuple[str, str]:
        """(style name, text) for a record; every leaf value must appear in the text."""
        ...


class Validator(Protocol):
    name: str

    def check(self, sample: Sample) -> str | None:
        """A reject reason, or None when the sample passes."""
        ...

    def accept(self, sample: Sample) -> None:
        """Called once the sample passed every validator and is kept."""
        ...


class Teacher(Protocol):
    name: str

    def rewrite(self, text: str, record: Any, schema: Any) -> str: ...

    def rewrite_many(self, jobs: Sequence[tuple[str, Any, Any]]) -> list[str | BaseException]:
        """Rewrites in input order; a per-job failure is returned as the exception (a reject)."""
        ...


@dataclass
class TaskModule:
    """Everything the engine needs from a task."""

    name: str
    specs: list[Spec]
    source: RecordSource
    renderer: Renderer
    validators: list[Validator]
    to_row: Callable[[Sample, str], dict[str, Any]]  # (sample, teacher name) -> output row
    spec_field: str = "spec"  # stats key names: by_<spec_field>, by_<group_field>
    group_field: str = "group"
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerationResult:
    samples: list[Sample]
    requested: int
    candidates: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    dropped_slots: int = 0
    seconds: float = 0.0


def run_generation(
    task: TaskModule,
    teacher: Teacher,
    *,
    n: int,
    seed: int,
    max_attempts: int = 6,
    chunk_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> GenerationResult:
    """Fill `n` slots (round-robin over specs) with validated samples; a slot gives up after `max_attempts`."""
    if not task.specs:
        raise ValueError("the task has no specs to generate from")
    started = time.perf_counter()
    result = GenerationResult([], n)
    accepted: dict[int, Sample] = {}
    for start in range(0, n, chunk_size):
        pending = list(range(start, min(n, start + chunk_size)))
        for attempt in range(max_attempts):
            if not pending:
                break
            pending = _round(task, teacher, pending, attempt, seed, result, accepted)
        result.dropped_slots += len(pending)
        if progress is not None:
            progress(len(accepted), min(n, start + chunk_size))
    result.samples = [accepted[slot] for slot in sorted(accepted)]
    result.seconds = time.perf_counter() - started
    return result


def _round(task: TaskModule, teacher: Teacher, pending: list[int], attempt: int, seed: int,
           result: GenerationResult, accepted: dict[int, Sample]) -> list[int]:
    retry: list[int] = []
    candidates: list[Sample] = []
    for slot in pending:
        spec = task.specs[slot % len(task.specs)]
        rng = random.Random(f"{seed}:{slot}:{attempt}")
        result.candidates += 1
        record, reason = task.source.make(spec, rng)
        if reason is not None:
            result.rejects[reason] += 1
            retry.append(slot)
            continue
        style, text = task.renderer.render(spec, record, rng)
        candidates.append(Sample(slot, attempt, spec, record, style, text))
    outputs = teacher.rewrite_many([(c.rendered, c.record, c.spec.payload) for c in candidates]) if candidates else []
    for sample, output in zip(candidates, outputs, strict=True):
        if isinstance(output, BaseException):
            reason = f"teacher_error:{type(output).__name__}"
        else:
            sample.text = output.strip()
            reason = "teacher_empty" if not sample.text else _first_reject(task.validators, sample)
        if reason is not None:
            result.rejects[reason] += 1
            retry.append(sample.slot)
            continue
        for validator in task.validators:
            validator.accept(sample)
        accepted[sample.slot] = sample
    return sorted(retry)


def _first_reject(validators: Sequence[Validator], sample: Sample) -> str | None:
    for validator in validators:
        reason = validator.check(sample)
        if reason is not None:
            return reason
    return None


def split_samples(samples: list[Sample], val_fraction: float, test_fraction: float,
                  seed: int) -> dict[str, list[Sample]]:
    """A seeded shuffle cut into train/val/test (each split kept in slot order)."""
    order = sorted(samples, key=lambda s: s.slot)
    random.Random(f"{seed}:split").shuffle(order)
    n_test = round(len(order) * test_fraction)
    n_val = round(len(order) * val_fraction)
    if len(order) - n_test - n_val < 1 and order:
        n_val = max(0, len(order) - n_test - 1)
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    return {name: sorted(parts[name], key=lambda s: s.slot) for name in ("train", "val", "test")}


def generate_with_progress(
    task: TaskModule, teacher: Teacher, *, n: int, seed: int, max_attempts: int, show_progress: bool
) -> GenerationResult:
    """`run_generation` behind a tqdm bar; an empty result is a user-facing error naming the top rejects."""
    import sys

    from maaza.errors import MaazaError

    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=n, desc="generating", unit="slot", file=sys.stderr)

    def progress(accepted: int, done: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)
            bar.set_postfix(kept=accepted)

    try:
        result = run_generation(task, teacher, n=n, seed=seed, max_attempts=max_attempts, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if not result.samples:
        top = ", ".join(f"{k} x{v}" for k, v in result.rejects.most_common(3))
        raise MaazaError(f"no sample passed validation ({top or 'nothing generated'})")
    return result
