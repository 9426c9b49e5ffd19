"""Prompt-lookup drafting (``draft_tokens`` or $MAAZA_LLAMACPP_DRAFT; default 0, off: measured slower on a
2-core CPU, see benchmarks/results/edge_speed.md).

An extraction copies spans of its input, so after each chosen token the loop looks for the last 3 (else 2)
tokens of prompt + output earlier in that text and, on a match, proposes the tokens that followed it there.
The chosen token and the draft go through one ``llama_decode`` with logits at every position; each draft
token is kept while it equals the token the loop would have chosen anyway (argmax, grammar mask and loop
guard included, in order), the first mismatch becomes the next token, and the rejected tail leaves the KV
cache (the verify loop is in ``backend.py``, the batch in ``context.py``). The output is the greedy output
(up to float rounding between batched and single-token kernels); only the number of model calls drops.
The method is prompt lookup decoding (Saxena 2023; transformers' ``prompt_lookup_num_tokens``).
"""

from __future__ import annotations

import numpy as np

DRAFT_ENV = "MAAZA_LLAMACPP_DRAFT"  # prompt-lookup draft length override (0 turns drafting off)
DRAFT_TOKENS = 0  # off by default: measured slower on a 2-core CPU (benchmarks/results/edge_speed.md)


def lookup_draft(history: list[int], count: int, ngrams: tuple[int, ...] = (3, 2)) -> list[int]:
    """Up to `count` tokens that followed the earliest earlier occurrence of the last n tokens of `history`."""
    if count <= 0:
        return []
    tokens = np.asarray(history, dtype=np.int64)
    for n in ngrams:
        if len(tokens) <= n:
            continue
        tail = tokens[-n:]
        starts = np.flatnonzero(tokens[: len(tokens) - n] == tail[0])
        for offset in range(1, n):
            if not starts.size:
                break
            starts = starts[tokens[starts + offset] == tail[offset]]
        if starts.size:
            begin = int(starts[0]) + n
            return tokens[begin : begin + count].tolist()
    return []
