"""The llama.cpp context: its KV cache and the ``llama_decode`` calls that fill it.

A prompt is evaluated with one ``llama_decode`` (``n_batch`` = the context size; split into ``n_ubatch``
inside), then every step feeds one token through a reused single-token batch and reads the last row of
logits straight from llama.cpp's buffer as a numpy view. A draft is fed with its chosen token in one
multi-token batch with logits at every position; the rejected tail leaves the KV cache again.

Prefix cache: the KV cache of the previous row is kept, and a prompt that starts with the same tokens
(same system prompt, same schema) only evaluates its new suffix (``prefix_cache=False`` turns this off).
TTFT is measured as it happens, so it includes that saving.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np

from maaza.errors import MaazaError


class ContextMixin:
    """LlamaCppBackend's KV-cache plumbing (the attributes below are set by its __init__)."""

    _lib: Any  # the llama_cpp module
    _model: Any
    _ctx: Any
    _memory: Any
    _lora: Any
    _one: Any  # the single-token array behind `_one_batch`
    _one_batch: Any
    _batch: Any  # the draft batch (None when drafting is off)
    _cached_tokens: list[int]  # the tokens whose KV entries the context holds, in order
    path: Path
    lora_path: Path | None
    threads: int
    prefix_cache: bool
    vocab_size: int
    n_ctx: int
    n_ctx_train: int

    def _new_context(self, n_ctx: int) -> None:
        lib = self._lib
        if self._ctx is not None:
            lib.llama_free(self._ctx)
            self._ctx = None
        params = lib.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_ctx  # a whole prompt in one llama_decode call (split into n_ubatch inside)
        params.n_ubatch = min(512, n_ctx)
        params.n_seq_max = 1
        params.n_threads = self.threads
        params.n_threads_batch = self.threads
        params.no_perf = True
        ctx = lib.llama_init_from_model(self._model, params)
        if not ctx:
            raise MaazaError(f"llama.cpp could not create a context of {n_ctx} tokens for {self.path}")
        self._ctx = ctx
        if self._lora is not None:
            adapters = (lib.llama_adapter_lora_p_ctypes * 1)(self._lora)
            scales = (ctypes.c_float * 1)(1.0)
            if lib.llama_set_adapters_lora(ctx, adapters, 1, scales) != 0:
                raise MaazaError(f"llama.cpp could not apply the LoRA adapter {self.lora_path}")
        self._memory = lib.llama_get_memory(ctx)
        self.n_ctx = int(lib.llama_n_ctx(ctx))
        self._cached_tokens = []

    def _ensure_context(self, needed: int) -> None:
        """Grow the context (up to the model's training length) when a prompt + budget would not fit."""
        if needed <= self.n_ctx:
            return
        limit = max(self.n_ctx, self.n_ctx_train)
        if self.n_ctx < limit:
            self._new_context(min(limit, -(-needed // 1024) * 1024))

    def _decode(self, tokens: list[int]) -> None:
        lib = self._lib
        step = self.n_ctx  # n_batch
        for start in range(0, len(tokens), step):
            chunk = tokens[start : start + step]
            array = (lib.llama_token * len(chunk))(*chunk)
            code = lib.llama_decode(self._ctx, lib.llama_batch_get_one(array, len(chunk)))
            if code != 0:
                self._cached_tokens = []
                raise MaazaError(f"llama_decode failed (code {code}) on a {len(chunk)}-token batch")

    def _step(self, token: int) -> None:
        self._one[0] = token
        code = self._lib.llama_decode(self._ctx, self._one_batch)
        if code != 0:
            self._cached_tokens = []
            raise MaazaError(f"llama_decode failed (code {code}) on one token")

    def _decode_all(self, tokens: list[int]) -> list[np.ndarray]:
        """Feed `tokens` (after the cached ones) in one call; logits after each of them, as numpy views."""
        lib, batch, start = self._lib, self._batch, len(self._cached_tokens)
        batch.n_tokens = len(tokens)
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = start + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1
        code = lib.llama_decode(self._ctx, batch)
        if code != 0:
            self._cached_tokens = []
            raise MaazaError(f"llama_decode failed (code {code}) on a {len(tokens)}-token draft batch")
        self._cached_tokens.extend(tokens)
        return [
            np.ctypeslib.as_array(lib.llama_get_logits_ith(self._ctx, i), shape=(self.vocab_size,))
            for i in range(len(tokens))
        ]

    def _forget_after(self, keep: int) -> None:
        """Drop KV entries (and cached tokens) from position `keep` on: the rejected draft tokens."""
        if keep < len(self._cached_tokens):
            if not self._lib.llama_memory_seq_rm(self._memory, 0, keep, -1):
                self._cached_tokens = []
                raise MaazaError("llama.cpp could not drop rejected draft tokens from the KV cache")
            del self._cached_tokens[keep:]

    def _logits(self) -> np.ndarray:
        pointer = self._lib.llama_get_logits_ith(self._ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.vocab_size,))

    def _prefill(self, ids: list[int]) -> None:
        """Evaluate a prompt, reusing the KV cache of the longest common prefix with the previous row."""
        lib = self._lib
        keep = 0
        if self.prefix_cache and self._cached_tokens:
            cached = self._cached_tokens
            limit = min(len(cached), len(ids) - 1)  # the last prompt token is always evaluated (its logits)
            while keep < limit and cached[keep] == ids[keep]:
                keep += 1
        if keep == 0 or not lib.llama_memory_seq_rm(self._memory, 0, keep, -1):
            lib.llama_memory_clear(self._memory, True)
            keep = 0
        self._cached_tokens = list(ids[:keep])
        self._decode(ids[keep:])
        self._cached_tokens = list(ids)
