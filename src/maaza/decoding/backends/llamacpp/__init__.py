"""The llama.cpp backend: a GGUF file through llama-cpp-python's low-level API, one row after another.

One idea per file:

- ``backend.py``: ``LlamaCppBackend`` (load, the row loop, close), built from the mixins below;
- ``runtime.py``: importing llama-cpp-python, quieting its logs, threads (physical cores);
- ``gguf.py``: finding the GGUF, its header and maaza.json, LoRA adapters as LoRA GGUFs;
- ``tokenizer.py``: llama.cpp tokenization, and which Hugging Face tokenizer matches the GGUF;
- ``context.py``: the llama.cpp context, its KV cache (prefix cache, draft rollback) and decode calls;
- ``masking.py``: grammar-constrained token choice (llguidance, as ``SchemaLogitsProcessor``);
- ``drafting.py``: prompt-lookup drafts;
- ``describe.py``: what ``describe()`` reports.

Nothing here imports torch or transformers until a model loads or a constraint is used: llama.cpp's
OpenMP wait policy must be set before any OpenMP runtime loads (``maaza.openmp``).
"""

from __future__ import annotations

from maaza.decoding.backends.llamacpp.backend import LlamaCppBackend
from maaza.decoding.backends.llamacpp.drafting import DRAFT_ENV, DRAFT_TOKENS, lookup_draft
from maaza.decoding.backends.llamacpp.gguf import (
    MERGED_DIR,
    gguf_llama_shape,
    gguf_metadata,
    lora_gguf_for,
    resolve_gguf,
)
from maaza.decoding.backends.llamacpp.runtime import (
    INSTALL_HINT,
    THREADS_ENV,
    default_threads,
    physical_cores,
)
from maaza.decoding.backends.llamacpp.tokenizer import tokenizer_candidates

__all__ = [
    "DRAFT_ENV",
    "DRAFT_TOKENS",
    "INSTALL_HINT",
    "MERGED_DIR",
    "THREADS_ENV",
    "LlamaCppBackend",
    "default_threads",
    "gguf_llama_shape",
    "gguf_metadata",
    "lookup_draft",
    "lora_gguf_for",
    "physical_cores",
    "resolve_gguf",
    "tokenizer_candidates",
]
