"""Tokens: llama.cpp's tokenization of prompts, and which Hugging Face tokenizer goes with a GGUF.

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
import json
from pathlib import Path
from typing import Any

from maaza.decoding.backends.llamacpp.gguf import MERGED_DIR
from maaza.errors import MaazaError


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


class TokenizerMixin:
    """LlamaCppBackend's token methods (the attributes below are set by its __init__)."""

    _lib: Any  # the llama_cpp module
    _vocab: Any  # the model's llama_vocab
    vocab_size: int
    path: Path
    bundled: str | None
    metadata: dict[str, Any]
    tokenizer: Any
    tokenizer_source: str
    _pieces: dict[int, str]

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
            if not getattr(tokenizer, "chat_template", None):  # the GGUF's own, else a bundled model's known one
                from maaza.models.registry import BUNDLED_CHAT_TEMPLATES

                tokenizer.chat_template = self._gguf_chat_template() or BUNDLED_CHAT_TEMPLATES.get(self.bundled or "")
            tokenizer.padding_side = "left"
            problem = self._vocab_mismatch(tokenizer, gguf_tokens)
            if problem is None:
                return tokenizer, f"{self.path} (GGUF metadata)"
            rejected.append(f"the GGUF's own metadata: {problem}")
        raise MaazaError(
            f"{self.path}: no Hugging Face tokenizer matches this GGUF's vocabulary; put the model's tokenizer "
            f"files (tokenizer.json, tokenizer_config.json) beside it. Tried: {'; '.join(rejected)}"
        )

    def _gguf_chat_template(self) -> str | None:
        """The GGUF's `tokenizer.chat_template` string (llama.cpp reports its length first), or None."""
        import ctypes

        key = b"tokenizer.chat_template"
        size = self._lib.llama_model_meta_val_str(self._model, key, None, 0)
        if size <= 0:
            return None
        buffer = ctypes.create_string_buffer(size + 1)
        self._lib.llama_model_meta_val_str(self._model, key, buffer, len(buffer))
        return buffer.value.decode("utf-8", "replace") or None

    def _vocab_mismatch(self, tokenizer: Any, gguf_tokens: list[str]) -> str | None:
        """None when every tokenizer id names the same token as the GGUF and the logits cover them all.
        SentencePiece's word-boundary mark U+2581 counts as the space it stands for: transformers' reading of
        a Gemma 3 GGUF spells a token '▁▁' that llama.cpp's vocabulary spells '  ', the same bytes."""
        size = len(tokenizer)
        if size > self.vocab_size:
            return f"tokenizer has {size} tokens but the GGUF's vocabulary (logits width) is {self.vocab_size}"
        hf_tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
        for index, (ours, theirs) in enumerate(zip(hf_tokens, gguf_tokens, strict=False)):
            if ours is not None and ours != theirs and ours.replace("\u2581", " ") != theirs.replace("\u2581", " "):
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

    def _piece(self, token: int) -> str:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = self.tokenizer.decode([token])
        return piece
