"""Constraints: the same llguidance grammar as the hf backend (``constrained.compile_grammar`` for the
row's schema, one ``LLMatcher`` per row), with the same semantics as ``SchemaLogitsProcessor``: the chosen
token is the argmax over the tokens the grammar allows, our EOS ids are allowed exactly when the JSON may
end, llguidance's other EOS ids never (``constrained.allow_eos_when_accepting``, shared with it). Fast path:
when the unmasked argmax is a token the matcher accepts (``try_consume_tokens``), it is also the masked
argmax, so the full 49k-token mask is only computed when the model's first choice is not allowed.

``maaza.decoding.constrained`` (torch, transformers) is imported only when a constraint is used: importing
this backend must not load an OpenMP runtime before llama.cpp does (see ``runtime.py``).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from maaza.decoding.backends.base import ConstraintStats
from maaza.decoding.loop_guard import LoopGuard
from maaza.decoding.repeat_items import RepeatedItemWatcher

_MATCHER_CACHE_SIZE = 64


class MaskingMixin:
    """LlamaCppBackend's grammar-constrained token choice (the attributes below are set by its __init__)."""

    tokenizer: Any
    vocab_size: int
    eos_token_ids: list[int]
    _eos_set: set[int]
    _llg_eos: list[int]  # llguidance's EOS ids that are not ours: never allowed
    _matchers: OrderedDict[str, Any]  # pristine matchers by (schema, lenient_datetime), least recent first
    _bitmask: np.ndarray
    fast_mask: bool
    # and TokenizerMixin's `_piece(token)`: the token's text

    def _matchers_for(
        self, schemas: list[dict[str, Any]], lenient_datetime: bool, stats: ConstraintStats
    ) -> list[Any]:
        """One fresh llguidance matcher per row; compiled grammars are cached by schema."""
        from maaza.decoding.constrained import TokenizerInfo, new_matcher, other_eos_ids

        info = TokenizerInfo.for_tokenizer(self.tokenizer, self.vocab_size)  # built once, not compile time
        self._llg_eos = other_eos_ids(info.llg, self._eos_set, self.vocab_size)
        started = time.perf_counter()
        matchers = []
        for row, schema in enumerate(schemas):
            if schema is None:
                matchers.append(None)
                continue
            key = json.dumps([schema, lenient_datetime], sort_keys=True, default=str)
            pristine = self._matchers.get(key)
            if pristine is None:
                pristine = new_matcher(info.llg, schema, row, lenient_datetime=lenient_datetime)
                self._matchers[key] = pristine
                if len(self._matchers) > _MATCHER_CACHE_SIZE:
                    self._matchers.popitem(last=False)
            else:
                self._matchers.move_to_end(key)
            matchers.append(pristine.deep_copy())
        stats.compile_seconds += time.perf_counter() - started
        return matchers

    def _constrained_choice(
        self, matcher: Any, logits: np.ndarray, row: int, guard: LoopGuard | None,
        watcher: RepeatedItemWatcher | None = None,
    ) -> int:
        """The argmax over the tokens the grammar allows (consumed into `matcher` unless it is an EOS id).

        A closing `guard` adds its bonus first (and skips the top-choice shortcut, which ignores it). A
        sealed `watcher` (repeat rewinds) vetoes tokens that would add an item to the array it sealed.
        """
        from maaza.decoding.constrained import ConstraintError, allow_eos_when_accepting, matcher_error

        eos = self.eos_token_ids
        if matcher.is_stopped():
            return eos[int(np.argmax(logits[eos]))]
        closing = guard is not None and guard.closing
        if closing:
            logits = guard.steer(logits)
        sealed = watcher is not None and watcher.sealed_depth is not None
        if self.fast_mask and not closing and not sealed:
            token = int(logits.argmax())
            if token in self._eos_set:
                if matcher.is_accepting():
                    return token
            elif token not in self._llg_eos and matcher.try_consume_tokens([token]) == 1:
                return token
        bitmask = self._bitmask
        bitmask.fill(-1)
        matcher.unsafe_compute_mask_ptr(bitmask.ctypes.data, bitmask.nbytes)
        if matcher.is_error():
            raise ConstraintError(f"row {row}: {matcher_error(matcher)}")
        allowed = np.unpackbits(bitmask.view(np.uint8), count=self.vocab_size, bitorder="little").view(np.bool_)
        allow_eos_when_accepting(allowed, matcher, eos, self._llg_eos)
        token = int(np.where(allowed, logits, -np.inf).argmax())
        if sealed and token not in self._eos_set and not watcher.allows(self._piece(token)):
            token = self._unvetoed_choice(allowed, logits, watcher, token)
        if token not in self._eos_set and not matcher.consume_token(token):
            message = matcher_error(matcher, "no token allowed")
            raise ConstraintError(f"row {row}: token {token} rejected by the grammar: {message}")
        return token

    def _unvetoed_choice(self, allowed: np.ndarray, logits: np.ndarray, watcher: RepeatedItemWatcher,
                         best: int) -> int:
        """The best allowed token that adds no item to the watcher's sealed array. When the grammar allows
        none (a `minItems` not reached yet) the seal is lifted, repeats are kept from here on, and `best`
        stands."""
        candidates = np.flatnonzero(allowed)
        for token in candidates[np.argsort(-logits[candidates], kind="stable")]:
            if int(token) in self._eos_set or watcher.allows(self._piece(int(token))):
                return int(token)
        watcher.sealed_depth, watcher.detect = None, False
        return best
