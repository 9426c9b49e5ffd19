"""The filter's own tokenizer: a small BPE vocabulary trained on the task texts, with byte fallback.

Built with Hugging Face `tokenizers` (the field's library; the saved `tokenizer.json` loads in any runtime
that reads it). Why these choices:

- **No normalizer**: offsets are characters of the text as given, so PII spans map back exactly, and the
  browser loader (`web/filter/tokenizer.js`) has nothing to reimplement but splitting and merging.
- **Pre-tokenizer**: a run of whitespace is kept as the prefix of the word after it (`Split("\\s+",
  merged_with_next)`, as GPT-2's byte-level BPE keeps its leading space), then each punctuation character
  and each digit is isolated (`Digits(individual_digits=True)`: phone, card and IBAN groupings vary; one
  token per digit lets the PII head see every boundary and keeps the vocabulary for words). Whitespace is
  never dropped: without it "Castro 73" and "Cast ro73" would be the same tokens and no head could see where
  a word, and so a span, begins. (A span is trimmed of the whitespace its first token carries:
  `maaza.tasks.filter.spans.decode_bio` with the text.)
- **BPE with byte fallback**: a character the vocabulary lacks (an emoji, an unseen script) becomes the
  tokens `<0x..>` of its UTF-8 bytes (all 256 are in the vocabulary), so no input maps to `[UNK]` and every
  byte token still carries its character's offsets. `limit_alphabet` keeps only the most frequent
  characters as whole tokens; rarer ones go through bytes.
- **Template** `[CLS] text [SEP]`: the classification heads read `[CLS]`; both special tokens have offsets
  (0, 0) and are ignored by the PII head.

Reproducibility: `tokenizers`' BPE trainer (0.23) cuts the alphabet at `limit_alphabet` by an unstable sort
over a hash map, so characters tied at the cut were kept or dropped at random (measured: two runs on the same
texts kept `/` or `»`, which renumbers every later token). We choose the alphabet ourselves (most frequent
first, ties by code point) and hand it over as `initial_alphabet` with a limit of its own size, so the trainer
keeps exactly it. Its merges break ties between equally frequent pairs by pair ids
(huggingface/tokenizers#1794), which are fixed once the alphabet is. A run still saves its tokenizer first
and reuses it on `--resume`, the export ships it with the weights, and `tokenizer.path` in a filter config
starts a run from a saved one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
BYTE_TOKENS = tuple(f"<0x{value:02X}>" for value in range(256))
TOKENIZER_FILE = "tokenizer.json"


def train_filter_tokenizer(
    texts: Iterable[str], *, vocab_size: int = 4096, min_frequency: int = 2, limit_alphabet: int = 400
) -> Any:
    """A `tokenizers.Tokenizer` trained on `texts`: `vocab_size` BPE tokens (specials and alphabet included)
    plus the 256 byte-fallback tokens appended after them."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=UNK, byte_fallback=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\s+"), behavior="merged_with_next"),
            pre_tokenizers.Punctuation(behavior="isolated"),
            pre_tokenizers.Digits(individual_digits=True),
        ]
    )
    texts = list(texts)
    alphabet = chosen_alphabet(texts, limit_alphabet)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        initial_alphabet=alphabet,
        limit_alphabet=len(alphabet),
        special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer = _with_byte_tokens(tokenizer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        special_tokens=[(CLS, tokenizer.token_to_id(CLS)), (SEP, tokenizer.token_to_id(SEP))],
    )
    return tokenizer


def chosen_alphabet(texts: Iterable[str], limit: int) -> list[str]:
    """The `limit` most frequent characters of `texts`, ties broken by code point: the characters that become
    tokens of their own (the pre-tokenizer drops none, so these are the counts the trainer would see)."""
    counts = Counter(char for text in texts for char in text)
    ranked = sorted(counts, key=lambda char: (-counts[char], char))
    return sorted(ranked[:limit])


def _with_byte_tokens(tokenizer: Any) -> Any:
    """The same tokenizer with `<0x00>`..`<0xFF>` added to the BPE vocabulary (not as added tokens: an added
    token would also match the literal text `<0x41>` in an input)."""
    from tokenizers import Tokenizer

    data = json.loads(tokenizer.to_str())
    vocab: dict[str, int] = data["model"]["vocab"]
    for token in BYTE_TOKENS:
        if token not in vocab:
            vocab[token] = len(vocab)
    return Tokenizer.from_str(json.dumps(data))


def save_filter_tokenizer(tokenizer: Any, folder: str | Path) -> Path:
    """Write `tokenizer.json` into `folder` (atomically)."""
    from maaza.io import atomic_write_text

    path = Path(folder) / TOKENIZER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, tokenizer.to_str())
    return path


def load_filter_tokenizer(folder: str | Path) -> Any:
    """The `tokenizer.json` of a filter folder (or that file itself); a missing or unreadable file, or one
    without the special and byte tokens, is an error naming it."""
    from tokenizers import Tokenizer

    path = Path(folder) if Path(folder).is_file() else Path(folder) / TOKENIZER_FILE
    if not path.is_file():
        raise MaazaError(f"{path}: no tokenizer (a filter folder holds {TOKENIZER_FILE})")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on a malformed file
        raise MaazaError(f"{path}: not a tokenizers file: {str(exc).strip()[:200]}") from None
    missing = [token for token in (*SPECIAL_TOKENS, *BYTE_TOKENS) if tokenizer.token_to_id(token) is None]
    if missing:
        raise MaazaError(f"{path}: the tokenizer lacks {len(missing)} required tokens (e.g. {missing[0]})")
    return tokenizer
