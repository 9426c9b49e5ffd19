"""The llama.cpp backend: a GGUF file through llama-cpp-python's low-level API, one row after another.

Decoding loop (lowest overhead llama-cpp-python offers): the prompt is tokenized by llama.cpp (special
tokens parsed, nothing added: the chat template already wrote them, exactly like the hf backend's
``add_special_tokens=False``), evaluated with one ``llama_decode``, then every step feeds one token through
a reused single-token batch and reads the last row of logits straight from llama.cpp's buffer as a numpy
view (``context.py``); greedy is ``argmax`` there (no sampler chain, no detokenizer in the loop). A row
stops at an EOS id, when its top-level JSON closes (``JsonObjectTracker``, as in hf) or after
``max_new_tokens``. With a schema the choice is masked by the grammar (``masking.py``); with
``draft_tokens`` the loop verifies prompt-lookup drafts (``drafting.py``); with ``rewind_repeats`` a
repeated array item is dropped and the row goes on (``maaza.decoding.repeat_items``).

Timing (all measured): rows run one after another, so a row's `seconds` runs from its own start
(tokenization) to its last token and its TTFT from that start to its first chosen token (prompt eval +
first step); the batch's `seconds` is the wall time of all its rows.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from maaza.decoding.backends.base import Backend, BackendBatch, ConstraintStats
from maaza.decoding.backends.llamacpp.context import ContextMixin
from maaza.decoding.backends.llamacpp.describe import DescribeMixin
from maaza.decoding.backends.llamacpp.drafting import DRAFT_ENV, DRAFT_TOKENS, lookup_draft
from maaza.decoding.backends.llamacpp.gguf import gguf_metadata, lora_gguf_for, resolve_gguf
from maaza.decoding.backends.llamacpp.masking import MaskingMixin
from maaza.decoding.backends.llamacpp.runtime import _init_backend, _llama_cpp, default_threads
from maaza.decoding.backends.llamacpp.tokenizer import TokenizerMixin
from maaza.decoding.generate import BatchTiming, Generation
from maaza.decoding.json_parse import JsonObjectTracker
from maaza.decoding.loop_guard import LoopGuard, vocab_for_tokenizer
from maaza.decoding.repeat_items import MAX_REWINDS, RepeatedItemWatcher
from maaza.errors import MaazaError


class LlamaCppBackend(TokenizerMixin, ContextMixin, MaskingMixin, DescribeMixin, Backend):
    name = "llamacpp"
    batched = False
    can_rewind = True

    def __init__(
        self,
        gguf_path: Path,
        *,
        bundled: str | None = None,
        threads: int | None = None,
        n_ctx: int = 4096,
        prefix_cache: bool = True,
        fast_mask: bool = True,
        lora: Path | None = None,
        lora_source: str | None = None,
        draft_tokens: int | None = None,
    ) -> None:
        llama_cpp = _llama_cpp()
        self._lib = llama_cpp
        self.path = Path(gguf_path)
        self.bundled = bundled
        self.metadata = gguf_metadata(self.path, lora_source)
        self.threads = int(threads) if threads else default_threads()
        self.prefix_cache = prefix_cache
        self.fast_mask = fast_mask
        self._model: Any = None
        self._ctx: Any = None
        _init_backend(llama_cpp)

        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = 0
        model = llama_cpp.llama_model_load_from_file(str(self.path).encode("utf-8"), params)
        if not model:
            raise MaazaError(f"llama.cpp could not load {self.path} (not a GGUF it supports?)")
        self._model = model
        self.lora_path = Path(lora) if lora else None
        self.lora_source = lora_source or (str(lora) if lora else None)
        self._lora: Any = None
        if self.lora_path is not None:
            adapter = llama_cpp.llama_adapter_lora_init(model, str(self.lora_path).encode("utf-8"))
            if not adapter:
                raise MaazaError(
                    f"llama.cpp could not load the LoRA adapter {self.lora_path} on {self.path.name} "
                    "(not a LoRA GGUF, or written for a model of another shape)"
                )
            self._lora = adapter  # freed with the model
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self.vocab_size = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self.n_ctx_train = int(llama_cpp.llama_model_n_ctx_train(model))
        self.n_ctx = 0
        wanted = max(256, int(n_ctx))
        self._new_context(min(wanted, self.n_ctx_train) if self.n_ctx_train > 0 else wanted)
        self.tokenizer, self.tokenizer_source = self._load_tokenizer()
        self._info = self._describe_model()
        self.eos_token_ids = self._eos_ids()
        self._eos_set = set(self.eos_token_ids)
        self._pieces: dict[int, str] = {}
        self._matchers: OrderedDict[str, Any] = OrderedDict()
        self._cached_tokens: list[int] = []
        self._one = (llama_cpp.llama_token * 1)()
        self._one_batch = llama_cpp.llama_batch_get_one(self._one, 1)
        self._bitmask = np.zeros((self.vocab_size + 31) // 32, dtype=np.int32)
        self._llg_eos: list[int] = []
        if draft_tokens is None:
            draft_tokens = int(os.environ.get(DRAFT_ENV) or DRAFT_TOKENS)
        self.draft_tokens = max(0, int(draft_tokens))
        self._batch: Any = llama_cpp.llama_batch_init(self.draft_tokens + 1, 0, 1) if self.draft_tokens else None
        self.draft_stats = {"drafted": 0, "accepted": 0, "verify_calls": 0}

    @classmethod
    def load(
        cls,
        model: str | None,
        adapter: str | None = None,
        dtype: str = "float32",
        *,
        threads: int | None = None,
        n_ctx: int = 4096,
        **options: Any,
    ) -> LlamaCppBackend:
        """Load a GGUF (`dtype` is ignored: a GGUF's tensor types are fixed at export).

        `adapter`: a LoRA GGUF (`maaza export --formats gguf-lora`) or a PEFT adapter folder (converted once
        into the cache), applied by llama.cpp on top of the base GGUF at run time.
        """
        _llama_cpp()  # a clear install hint before anything else
        path, bundled = resolve_gguf(model)
        lora = lora_gguf_for(adapter, path) if adapter else None
        return cls(path, bundled=bundled, threads=threads, n_ctx=n_ctx, lora=lora, lora_source=adapter, **options)

    lookup_draft = staticmethod(lookup_draft)

    # ----------------------------------------------------------------------------------- generate

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
        if self._ctx is None:
            raise MaazaError("this llamacpp backend is closed")
        self.check_schemas(prompts, schemas)
        self.check_rewind(rewind_repeats)
        self.check_token_callback(on_token, rewind_repeats)
        stats = ConstraintStats()
        matchers = (
            self._matchers_for(schemas, lenient_datetime, stats) if schemas is not None else [None] * len(prompts)
        )
        started = time.perf_counter()  # after grammar compiles, as in hf (its processor is built first)
        generations = [
            self._generate_row(
                row, prompt, matchers[row], schemas[row] if schemas is not None else None, max_new_tokens,
                stop_on_json_close, loop_guard, rewind_repeats, stats, on_token,
            )
            for row, prompt in enumerate(prompts)
        ]
        return BackendBatch(generations, BatchTiming.of(generations, time.perf_counter() - started), stats)

    def _generate_row(
        self,
        row: int,
        prompt: str,
        matcher: Any,
        schema: dict[str, Any] | None,
        max_new_tokens: int,
        stop_on_json_close: bool,
        loop_guard: bool,
        rewind_repeats: bool,
        stats: ConstraintStats,
        on_token: Any = None,
    ) -> Generation:
        started = time.perf_counter()
        ids = self.tokenize(prompt)
        if not ids:
            raise MaazaError("empty prompt: nothing to generate from")
        self._ensure_context(len(ids) + max(1, max_new_tokens))
        if len(ids) >= self.n_ctx:
            raise MaazaError(
                f"prompt of {len(ids)} tokens does not fit the {self.n_ctx}-token context of {self.path.name}"
            )
        self._prefill(ids)
        budget = min(max_new_tokens, self.n_ctx - len(ids))
        tracker = JsonObjectTracker() if stop_on_json_close else None
        guard = None
        if matcher is not None and loop_guard:
            vocab = vocab_for_tokenizer(self.tokenizer, self.vocab_size, self.eos_token_ids)
            guard = LoopGuard(vocab, budget, schema=schema)
        watcher = RepeatedItemWatcher(schema) if matcher is not None and rewind_repeats else None
        rewinds = 0
        eos = self._eos_set
        new_ids: list[int] = []

        def choose(logits: np.ndarray) -> int:
            if matcher is None:
                return int(logits.argmax())
            mask_started = time.perf_counter()
            token = self._constrained_choice(matcher, logits, row, guard, watcher)
            stats.mask_seconds += time.perf_counter() - mask_started
            stats.mask_calls += 1
            return token

        def read(token: int) -> None:
            """Feed an output token to the row's readers (guard, repeat watcher, JSON tracker)."""
            piece = self._piece(token)
            if guard is not None:
                guard.feed(token)
            if watcher is not None:
                watcher.feed(piece)
            if tracker is not None:
                tracker.feed(piece)

        def emit(token: int) -> str | None:
            """Record a chosen token; the row's finish reason when it ends here ("rewind": see below)."""
            if token in eos:
                return "eos"  # the EOS token itself is not output
            new_ids.append(token)
            read(token)
            stop = on_token is not None and on_token(row, token)
            if watcher is not None and watcher.found is not None:
                return "rewind"
            if tracker is not None and tracker.closed:
                return "json_closed"
            if stop:
                return "stopped"
            return "length" if len(new_ids) >= budget else None

        def rewind() -> int:
            """Drop a repeated array item (maaza.decoding.repeat_items): the tokens from the comma before it
            on leave the output, the grammar matcher and the KV cache; guard, tracker and watcher re-read
            the kept tokens, the watcher sealed at the item's array. Returns the last kept token, which is
            emitted but (after this) not in the KV cache."""
            nonlocal guard, tracker, watcher, rewinds
            found = watcher.found
            keep = watcher.tokens_before(found.comma_offset)
            if not matcher.rollback(len(new_ids) - keep):
                raise MaazaError(f"row {row}: the grammar matcher could not roll back a repeated item")
            del new_ids[keep:]
            rewinds += 1
            guard = LoopGuard(guard.vocab, budget, schema=schema) if guard is not None else None
            tracker = JsonObjectTracker() if tracker is not None else None
            watcher = RepeatedItemWatcher(schema, sealed_depth=found.depth, detect=rewinds < MAX_REWINDS)
            for kept in new_ids:
                read(kept)
            self._forget_after(len(ids) + keep - 1)
            return new_ids[-1]

        reason: str | None = "length"
        first_at: float | None = None
        if budget > 0:
            token = choose(self._logits())
            first_at = time.perf_counter()
            reason = emit(token)
        while reason is None or reason == "rewind":
            if reason == "rewind":
                token, reason = rewind(), None
            # `token` is chosen and emitted but not yet in the KV cache.
            count = min(self.draft_tokens, budget - len(new_ids))
            draft = self.lookup_draft(ids + new_ids, count) if count > 0 else []  # looked up in prompt + output
            if not draft:
                self._step(token)
                self._cached_tokens.append(token)
                token = choose(self._logits())
                reason = emit(token)
                continue
            rows = self._decode_all([token, *draft])
            kept = len(self._cached_tokens) - len(draft)  # KV entries to keep: up to `token`
            self.draft_stats["drafted"] += len(draft)
            self.draft_stats["verify_calls"] += 1
            for j, logits in enumerate(rows):
                token = choose(logits)
                reason = emit(token)
                if reason is None and j < len(draft) and token == draft[j]:
                    kept += 1  # the draft token is right: its KV entry stays
                    self.draft_stats["accepted"] += 1
                    continue
                break  # `token` is the next token (a correction, the bonus after a full draft, or the last)
            self._forget_after(kept)
        ended = time.perf_counter()
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        ttft = (first_at or ended) - started
        if guard is not None:
            reason = guard.finish_reason(reason)
        if rewinds:
            reason = f"{reason}_after_rewind"  # e.g. "json_closed_after_rewind": a repeated item was dropped
        return Generation(text, len(ids), len(new_ids), ended - started, ttft, reason)

    def close(self) -> None:
        lib = self._lib
        if getattr(self, "_batch", None) is not None:
            lib.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            lib.llama_free(self._ctx)
            self._ctx = None
        if self._model is not None:
            lib.llama_model_free(self._model)
            self._model = None
        self._matchers.clear()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
