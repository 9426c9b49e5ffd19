"""Task mixtures: which examples every optimizer step draws from each task (`data.mixture`).

An epoch of a mixture is as many draws as there are training examples in all tasks together. Its draws are
shared out by weight (largest remainder: the counts sum exactly) and interleaved evenly, so every step's
batch holds each task within about one example of `weight * batch_size`. A task's draws walk through its
examples in seeded shuffles, one per pass (a small task repeats, a large one is sampled), and where an
epoch starts in each task's walk follows from the epoch number: the order stays a pure function of
(seed, epoch), as a single task's `epoch_order` is, so resume replays it exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainder, ties to the earlier task)."""
    scale = sum(weights)
    exact = [total * w / scale for w in weights]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def interleave(counts: Sequence[int]) -> list[int]:
    """Task indices, `counts[t]` of task t, spread evenly: the j-th of task t sits near (j + 1/2) / counts[t]."""
    slots = [((j + 0.5) / n, t) for t, n in enumerate(counts) for j in range(n)]
    return [t for _, t in sorted(slots)]


def _pass_order(size: int, seed: int, task: int, cycle: int) -> list[int]:
    order = list(range(size))
    random.Random(f"{seed}:mixture:{task}:{cycle}").shuffle(order)
    return order


def draws(size: int, seed: int, task: int, start: int, count: int) -> list[int]:
    """Draws start .. start+count-1 of a task's walk: pass p is a seeded shuffle of its `size` examples."""
    picked: list[int] = []
    passes: dict[int, list[int]] = {}
    for k in range(start, start + count):
        cycle, position = divmod(k, size)
        if cycle not in passes:
            passes[cycle] = _pass_order(size, seed, task, cycle)
        picked.append(passes[cycle][position])
    return picked


def mixture_order(sizes: Sequence[int], weights: Sequence[float], seed: int, epoch: int) -> list[int]:
    """The example order of one mixture epoch: indices into the tasks' examples concatenated in order."""
    counts = apportion(sum(sizes), [w if n else 0.0 for w, n in zip(weights, sizes, strict=True)])
    offsets = [sum(sizes[:t]) for t in range(len(sizes))]
    walks = [
        iter(draws(size, seed, t, epoch * counts[t], counts[t])) if counts[t] else iter(())
        for t, size in enumerate(sizes)
    ]
    return [offsets[t] + next(walks[t]) for t in interleave(counts)]
