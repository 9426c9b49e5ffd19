"""Batched greedy generation with measured (never estimated) timings.

Rows are left-padded into one batch; a row stops at EOS or as soon as its top-level JSON object
closes (nothing after it can change the parsed answer). Per row we record generated tokens, the
wall time until that row finished, and the time to first token (prefill + first step) of its batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from maaza.decoding.json_parse import JsonObjectTracker


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    new_tokens: int
    seconds: float
    ttft_seconds: float
    finish_reason: str  # "eos", "json_closed", "length" or "stopped" (by an `on_token` callback)

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass
class BatchTiming:
    size: int
    seconds: float
    new_tokens: int
    prompt_tokens: int

    @classmethod
    def of(cls, generations: list[Generation], seconds: float) -> BatchTiming:
        """The timing of a batch whose rows are `generations`, decoded in `seconds` of wall time."""
        return cls(
            len(generations),
            seconds,
            sum(g.new_tokens for g in generations),
            sum(g.prompt_tokens for g in generations),
        )


def eos_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every id that ends a turn: the generation config's EOS ids plus the tokenizer's EOS."""
    return merge_eos_ids(getattr(model.generation_config, "eos_token_id", None), tokenizer)


def merge_eos_ids(configured: int | list[int] | None, tokenizer: Any) -> list[int]:
    """A runtime's configured EOS id(s) (an int, a list or None) plus the tokenizer's EOS, sorted."""
    ids: set[int] = set()
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return sorted(ids)


class _RowFinishTracker:
    """A StoppingCriteria that timestamps each row's first token and finish, and stops closed JSON."""

    def __init__(
        self,
        tokenizer: Any,
        prompt_length: int,
        batch: int,
        eos_ids: list[int],
        stop_on_json: bool,
        on_token: Any = None,
    ):
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.eos_ids = set(eos_ids)
        self.stop_on_json = stop_on_json
        self.on_token = on_token  # maaza.decoding.backends.base.TokenCallback
        self.trackers = [JsonObjectTracker() for _ in range(batch)]
        self.finished: list[tuple[int, float, str] | None] = [None] * batch
        self.started = time.perf_counter()
        self.first_token_at: float | None = None

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        now = time.perf_counter()
        step = input_ids.shape[1] - self.prompt_length
        if self.first_token_at is None:
            self.first_token_at = now
        last_tokens = input_ids[:, -1].tolist()
        for row, token in enumerate(last_tokens):
            if self.finished[row] is not None:
                continue
            if token in self.eos_ids:
                self.finished[row] = (step - 1, now, "eos")  # the EOS token itself is not output
                continue
            stop = self.on_token is not None and self.on_token(row, int(token))
            if self.stop_on_json and self.trackers[row].feed(self.tokenizer.decode([token])):
                self.finished[row] = (step, now, "json_closed")
            elif stop:
                self.finished[row] = (step, now, "stopped")
        return torch.tensor([done is not None for done in self.finished], device=input_ids.device)


def generate_batch(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    *,
    max_new_tokens: int = 512,
    stop_on_json_close: bool = True,
    logits_processor: Any = None,
    on_token: Any = None,
) -> tuple[list[Generation], BatchTiming]:
    """Greedy-decode a batch of prompts; returns one Generation per prompt plus the batch's timing.

    `on_token` (`maaza.decoding.backends.base.TokenCallback`) sees every output token and may stop its row.
    """
    import torch
    from transformers import StoppingCriteriaList

    tokenizer.padding_side = "left"
    encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    prompt_length = encoded["input_ids"].shape[1]
    eos_ids = eos_token_ids(model, tokenizer)
    tracker = _RowFinishTracker(tokenizer, prompt_length, len(prompts), eos_ids, stop_on_json_close, on_token)
    kwargs: dict[str, Any] = {}
    if logits_processor is not None:
        kwargs["logits_processor"] = logits_processor
    with torch.inference_mode():
        output = model.generate(
            **encoded,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            eos_token_id=eos_ids,
            pad_token_id=tokenizer.pad_token_id,
            stopping_criteria=StoppingCriteriaList([tracker]),
            **kwargs,
        )
    ended = time.perf_counter()
    total_seconds = ended - tracker.started
    ttft = (tracker.first_token_at or ended) - tracker.started
    generations: list[Generation] = []
    prompt_lengths = encoded["attention_mask"].sum(dim=1).tolist()
    for row in range(len(prompts)):
        new_ids = output[row, prompt_length:].tolist()
        finished = tracker.finished[row]
        if finished is None:
            count, seconds, reason = len(new_ids), total_seconds, "length"
        else:
            count, at, reason = finished
            seconds = at - tracker.started
        text = tokenizer.decode(new_ids[:count], skip_special_tokens=True)
        generations.append(Generation(text, int(prompt_lengths[row]), count, seconds, ttft, reason))
    return generations, BatchTiming.of(generations, total_seconds)
