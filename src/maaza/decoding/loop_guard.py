"""Loop guard for schema-constrained decoding: steer a row that loops or runs out of budget to close its JSON.

A grammar mask guarantees every emitted token keeps the JSON valid, not that the JSON ever ends: a small
model that repeats a sentence inside a string, or an item inside an array, is cut by the token budget and
its output is invalid (measured: 27 of 158 EdgeJSON v3 rows before this guard). The guard watches each
row and switches it to *closing mode* when

- its recent tokens are an exact repetition (a period of 1..`max_period` tokens repeated `min_repeats`
  times over at least `min_span` tokens), or
- fewer than `reserve` tokens of its budget are left.

In closing mode the grammar still decides which tokens are allowed; among them, the guard adds a large
bonus to the tokens that finish what is open, from where the decoded text stands in the JSON
(`JsonPosition`, a small scanner: open containers, keys seen, key or value string):

- inside a value string: a quote that closes it and opens nothing; where the grammar does not allow the
  quote yet (a `format: email` string needs `@host.tld`), a smaller bonus for pieces starting with `@` or `.`;
- inside a key string: the pieces that spell the rest of a required key the object still lacks (found by
  walking the schema's `properties`/`items` along the open containers), so a loop cannot fill an object
  with made-up keys; when no required key fits what is typed, the key is closed as it is;
- elsewhere: a piece starting with `]` or `}` (and EOS), or, with a smaller bonus, `,` when the grammar
  does not allow closing yet (a required key or minItems missing). The value after a key is the model's
  own choice (a string value is then closed at once).

Required keys, enums, formats and minItems are kept by the grammar, so the output stays valid; among
equally ranked tokens the model still chooses by its own logits.

No library offers this: llguidance and xgrammar mask tokens but do not plan a shortest completion, and
repetition penalties change every token's score instead of only the degenerate rows'.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

CLOSE_BONUS = 1.0e4  # larger than any logit gap: a closer wins whenever the grammar allows one
COMMA_BONUS = 5.0e3  # below a closer: ',' only when nothing can close here (a required key is missing)


@dataclass(frozen=True)
class ClosingVocab:
    """Per-token text, the bonus vectors closing mode uses, and tokens indexed by their first character."""

    pieces: tuple[str, ...]
    in_string: np.ndarray  # inside a value string: close it
    structural: np.ndarray  # outside strings: close the container (or ',' towards a required key)
    by_first_char: dict[str, list[int]]

    def spelling(self, rest: str) -> np.ndarray:
        """Bonus for the tokens whose text is a non-empty prefix of `rest` (spelling a required key)."""
        bonus = np.zeros(len(self.pieces), dtype=np.float32)
        for token in self.by_first_char.get(rest[:1], ()):
            if rest.startswith(self.pieces[token]):
                bonus[token] = CLOSE_BONUS
        return bonus


_CLOSES_STRING = re.compile(r'"[\]}\s]*')  # a quote, then only closers: ends the string, opens nothing
_CLOSES = re.compile(r"\s*[\]}][\]}\s]*")  # only closers
_COMMA = re.compile(r'\s*[\]}]*,\s*"?')  # on to the next item or key (the key is spelled separately)


def closing_vocab(pieces: Sequence[str], eos_token_ids: Sequence[int]) -> ClosingVocab:
    """Bonuses from each token's decoded text. Only pieces that close and open nothing count: a token
    like `"},{"` starts with a quote but would begin another array item."""
    in_string = np.zeros(len(pieces), dtype=np.float32)
    structural = np.zeros(len(pieces), dtype=np.float32)
    by_first_char: dict[str, list[int]] = {}
    for token, piece in enumerate(pieces):
        if piece:
            by_first_char.setdefault(piece[0], []).append(token)
        if _CLOSES_STRING.fullmatch(piece):
            in_string[token] = CLOSE_BONUS
        elif piece[:1] in ("@", ".") and '"' not in piece:  # towards the end a format holds open: user@host.tld
            in_string[token] = COMMA_BONUS if piece[0] == "@" else COMMA_BONUS / 2
        if _CLOSES.fullmatch(piece):
            structural[token] = CLOSE_BONUS
        elif _COMMA.fullmatch(piece):
            structural[token] = COMMA_BONUS
    eos = [t for t in eos_token_ids if 0 <= t < len(pieces)]
    structural[eos] = CLOSE_BONUS
    return ClosingVocab(tuple(pieces), in_string, structural, by_first_char)


class JsonPosition:
    """Where a stream of JSON text stands: open containers, keys seen per object, key or value string."""

    def __init__(self) -> None:
        self.stack: list[dict[str, Any]] = []  # {"object": bool, "keys": set, "key": str | None, "expect_key": bool}
        self.in_string = False
        self.string_is_key = False
        self.text = ""  # the current key's text so far
        self._escape = False
        self.closed = False

    def feed(self, chunk: str) -> None:
        for char in chunk:
            if self.closed:
                return
            self._char(char)

    def _char(self, char: str) -> None:
        if self.in_string:
            if self._escape:
                self._escape = False
            elif char == "\\":
                self._escape = True
                return
            elif char == '"':
                self.in_string = False
                if self.string_is_key:
                    top = self.stack[-1]
                    top["key"], top["expect_key"] = self.text, False
                    top["keys"].add(self.text)
                return
            if self.string_is_key:
                self.text += char
            return
        if not self.stack and char != "{":
            return  # text before the top-level object
        if char == '"':
            self.in_string = True
            self.string_is_key = self.stack[-1]["object"] and self.stack[-1]["expect_key"]
            self.text = ""
        elif char in "{[":
            self.stack.append({"object": char == "{", "keys": set(), "key": None, "expect_key": char == "{"})
        elif char in "}]":
            self.stack.pop()
            self.closed = not self.stack
        elif char == "," and self.stack[-1]["object"]:
            self.stack[-1]["expect_key"] = True

    def container_schema(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        """The schema node of the innermost open container, by the schema's `properties`/`items` along the
        open containers (None when the schema does not say)."""
        node: Any = schema
        for parent in self.stack[:-1]:
            node = node.get("properties", {}).get(parent["key"]) if parent["object"] else node.get("items")
            if not isinstance(node, dict):
                return None
        return node

    def missing_required(self, schema: dict[str, Any] | None) -> list[str]:
        """Required keys of the innermost open object that it does not have yet ([] when the schema does
        not say)."""
        if not schema or not self.stack or not self.stack[-1]["object"]:
            return []
        node = self.container_schema(schema)
        if node is None:
            return []
        required = node.get("required") or []
        return [key for key in required if isinstance(key, str) and key not in self.stack[-1]["keys"]]


@lru_cache(maxsize=4)
def _cached_vocab(tokenizer: Any, vocab_size: int, eos: tuple[int, ...]) -> ClosingVocab:
    n = min(vocab_size, len(tokenizer))
    pieces = tokenizer.batch_decode([[t] for t in range(n)])
    return closing_vocab([*pieces, *[""] * (vocab_size - n)], eos)


def vocab_for_tokenizer(tokenizer: Any, vocab_size: int, eos_token_ids: Sequence[int]) -> ClosingVocab:
    """`closing_vocab` over a transformers tokenizer's vocabulary, padded to the logits width (cached)."""
    return _cached_vocab(tokenizer, int(vocab_size), tuple(sorted(int(t) for t in eos_token_ids)))


class RepetitionDetector:
    """True once the generated tail is one block of tokens repeated back to back (checked every few tokens)."""

    def __init__(self, max_period: int = 128, min_repeats: int = 3, min_span: int = 64, check_every: int = 8):
        self.max_period = max_period
        self.min_repeats = min_repeats
        self.min_span = min_span
        self.check_every = check_every
        self.tokens: list[int] = []

    def feed(self, token: int) -> bool:
        self.tokens.append(int(token))
        if len(self.tokens) < self.min_span or len(self.tokens) % self.check_every:
            return False
        return self.period() is not None

    def period(self) -> int | None:
        """The shortest period of an exact repetition at the end of the tokens, if any."""
        longest = min(len(self.tokens), self.max_period * self.min_repeats + self.min_span)
        tail = np.asarray(self.tokens[-longest:], dtype=np.int64)
        for period in range(1, self.max_period + 1):
            span = max(period * self.min_repeats, self.min_span)
            if span > len(tail):
                break
            window = tail[-span:]
            if np.array_equal(window[period:], window[:-period]):
                return period
        return None


class LoopGuard:
    """One row's guard: feed it every generated token; `steer` the next logits once it is closing."""

    def __init__(self, vocab: ClosingVocab, budget: int, reserve: int | None = None,
                 detector: RepetitionDetector | None = None, schema: dict[str, Any] | None = None):
        self.vocab = vocab
        self.budget = budget
        self.reserve = min(128, max(8, budget // 8)) if reserve is None else reserve
        self.detector = detector or RepetitionDetector()
        self.schema = schema
        self.json = JsonPosition()
        self.generated = 0
        self.reason: str | None = None  # "loop" or "budget" once closing

    @property
    def closing(self) -> bool:
        return self.reason is not None

    def feed(self, token: int) -> None:
        self.generated += 1
        if 0 <= token < len(self.vocab.pieces):
            self.json.feed(self.vocab.pieces[token])
        if self.reason is None and self.detector.feed(token):
            self.reason = "loop"
        if self.reason is None and self.budget - self.generated <= self.reserve:
            self.reason = "budget"

    def bonus(self) -> np.ndarray:
        """The bonus vector for the next token, from where the JSON stands (see the module docstring)."""
        position = self.json
        if not position.in_string:
            return self.vocab.structural
        if not position.string_is_key:
            return self.vocab.in_string
        typed = position.text
        wanted = [key for key in position.missing_required(self.schema) if key.startswith(typed)]
        if not wanted:
            return self.vocab.in_string  # no required key fits what is typed: end this key as it is
        return np.maximum.reduce([self.vocab.spelling(key[len(typed):] + '"') for key in wanted])

    def steer(self, logits: np.ndarray) -> np.ndarray:
        """`logits` plus the closing bonus (a new array) in closing mode; `logits` itself otherwise."""
        if self.reason is None:
            return logits
        return logits + self.bonus()[: logits.shape[-1]]

    def finish_reason(self, reason: str) -> str:
        """The row's finish reason, marked when the guard closed it (e.g. "json_closed" -> "closed_on_loop")."""
        if self.reason is not None and reason in ("json_closed", "eos"):
            return f"closed_on_{self.reason}"
        return reason
