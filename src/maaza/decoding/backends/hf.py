"""The transformers backend: batched, left-padded greedy decoding, llguidance logits mask."""

from __future__ import annotations

from typing import Any

from maaza.decoding.backends.base import Backend, BackendBatch, ConstraintStats
from maaza.decoding.generate import eos_token_ids, generate_batch


class HFBackend(Backend):
    name = "hf"
    batched = True

    def __init__(self, loaded: Any):
        self.loaded = loaded  # maaza.models.loading.LoadedModel
        self.tokenizer = loaded.tokenizer
        self.metadata = loaded.metadata

    @classmethod
    def load(cls, model: str | None, adapter: str | None = None, dtype: str = "float32") -> HFBackend:
        from maaza.models.loading import load_model

        return cls(load_model(model, adapter=adapter, dtype=dtype))

    def generate(
        self,
        prompts: list[str],
        schemas: list[dict[str, Any]] | None = None,
        *,
        max_new_tokens: int = 512,
        stop_on_json_close: bool = True,
        lenient_datetime: bool = True,
        loop_guard: bool = True,
        rewind_repeats: bool = False,
        on_token: Any = None,
    ) -> BackendBatch:
        self.check_rewind(rewind_repeats)  # transformers' generate cannot take tokens back
        processor = None
        if schemas is not None:
            from transformers import LogitsProcessorList

            from maaza.decoding.constrained import SchemaLogitsProcessor

            processor = SchemaLogitsProcessor(
                schemas,
                self.tokenizer,
                self.loaded.vocab_size,
                eos_token_ids(self.loaded.model, self.tokenizer),
                lenient_datetime=lenient_datetime,
                loop_guard_budget=max_new_tokens if loop_guard else None,
            )
        generations, timing = generate_batch(
            self.loaded.model,
            self.tokenizer,
            prompts,
            max_new_tokens=max_new_tokens,
            stop_on_json_close=stop_on_json_close,
            logits_processor=LogitsProcessorList([processor]) if processor is not None else None,
            on_token=on_token,
        )
        stats = ConstraintStats()
        if processor is not None:
            stats = ConstraintStats(processor.compile_seconds, processor.mask_seconds, processor.calls)
            for row, generation in enumerate(generations):
                generation.finish_reason = processor.finish_reason(row, generation.finish_reason)
        return BackendBatch(generations, timing, stats)

    def describe(self) -> dict[str, Any]:
        return self.loaded.describe()
