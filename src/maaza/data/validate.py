"""Checks on every generated sample: schema-valid record, grounded text, no duplicates, no test text.

- Grounding: every leaf value of the record appears in the text in its JSON output form
  (`maaza.data.render.surface`), on word boundaries, so a teacher rewrite that drops or alters a
  value is rejected with the reason `ungrounded:<key>`.
- Near-duplicates: normalised text (case, whitespace) for exact repeats plus MinHash over character
  shingles with LSH buckets for near repeats: a query costs O(shingles + candidates), not O(corpus).
- Exclusion: the same index pre-filled with held-out texts (e.g. the EdgeJSON test prompts).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from maaza.data.engine import Sample
from maaza.data.render import surface
from maaza.schemas import LeafPath, flatten_leaves, format_leaf_path, schema_valid

# ---------------------------------------------------------------------------------------- grounding


def record_leaves(record: Any) -> list[tuple[LeafPath, Any]]:
    """(path, value) of every leaf that must be grounded: nulls and empty containers are skipped."""
    return [
        (path, value)
        for path, value in flatten_leaves(record).items()
        if value is not None and not (isinstance(value, dict | list) and not value)
    ]


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _count(form: str, text: str, number: bool) -> int:
    """How often `form` occurs in `text` on word boundaries (plain `str.find`, no regex: this runs per leaf)."""
    count = 0
    start = text.find(form)
    while start != -1:
        before = text[start - 1] if start else ""
        end = start + len(form)
        after, after2 = text[end:end + 1], text[end + 1:end + 2]
        if number:
            # 5 must not match inside 15, 5.5, 2025-05 or -5; 12.5 must not match the start of 12.50.
            ok = not (before and (_word_char(before) or before in ".-")) and not (
                after and (_word_char(after) or (after == "." and after2.isdigit())))
        else:
            ok = not (form[:1].isalnum() and before and _word_char(before)) and not (
                form[-1:].isalnum() and after and _word_char(after))
        count += ok
        start = text.find(form, start + 1)
    return count


def occurrences(form: str, text: str) -> int:
    """How often the text form of a leaf (`surface(value)`) is written in `text` on word boundaries; a form
    that looks like a number is matched as one (5 is not inside 15 or 2025-05)."""
    if not form:
        return 0
    return _count(form, text, bool(re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", form)))


def is_grounded(value: Any, text: str) -> bool:
    """Whether `value` is written in `text` as its output form (booleans: true/false, any case)."""
    form = surface(value)
    if not form:
        return True
    if isinstance(value, bool):
        return _count(form, text.lower(), False) > 0
    return _count(form, text, isinstance(value, int | float)) > 0


def ungrounded_leaves(record: Any, text: str) -> list[LeafPath]:
    """Paths of the record's leaves that do not appear in `text`."""
    return [path for path, value in record_leaves(record) if not is_grounded(value, text)]


def leaf_reason_key(path: LeafPath) -> str:
    """The last key name on a leaf path (`items[2].price` -> `price`), for counting reject reasons."""
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return format_leaf_path(path) or "$"


class GroundingValidator:
    """Rejects a sample whose text lacks one of the record's leaf values (`ungrounded:<key>`)."""

    name = "grounding"

    def check(self, sample: Sample) -> str | None:
        missing = ungrounded_leaves(sample.record, sample.text)
        if missing:
            return f"ungrounded:{leaf_reason_key(missing[0])}"
        return None

    def accept(self, sample: Sample) -> None:
        return None


class SchemaValidator:
    """Rejects a record that does not validate against its schema (`schema_invalid`)."""

    name = "schema"

    def check(self, sample: Sample) -> str | None:
        ok, _ = schema_valid(sample.record, sample.spec.payload, lenient_datetime=True)
        return None if ok else "schema_invalid"

    def accept(self, sample: Sample) -> None:
        return None


# ---------------------------------------------------------------------------------------- near-duplicates

_SHIFT = np.uint64(32)


def normalise_text(text: str) -> str:
    """Lower-case with all whitespace runs collapsed to one space: the identity used for duplicates."""
    return " ".join(text.lower().split())


class NearDuplicateIndex:
    """Exact (normalised) and near-duplicate (MinHash LSH over character shingles) text lookup."""

    def __init__(self, threshold: float = 0.9, *, shingle: int = 5, num_perm: int = 128, bands: int = 16) -> None:
        if num_perm % bands:
            raise ValueError("num_perm must be a multiple of bands")
        self.threshold = threshold
        self.shingle = shingle
        self.bands = bands
        self.rows = num_perm // bands
        generator = np.random.default_rng(20240601)  # fixed: signatures must not depend on the run seed
        # Multiply-shift hashing (wrapping 64-bit multiply, keep the high bits): one hash per permutation.
        self._a = generator.integers(0, 1 << 63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self._b = generator.integers(0, 1 << 63, size=num_perm, dtype=np.uint64)
        self._exact: set[bytes] = set()
        self._buckets: dict[tuple[int, bytes], list[int]] = {}
        self._signatures: list[np.ndarray] = []
        self._last: tuple[str, np.ndarray] | None = None  # query() then add() of the same text hash once

    def __len__(self) -> int:
        return len(self._exact)

    def signature(self, normalised: str) -> np.ndarray:
        if self._last is not None and self._last[0] == normalised:
            return self._last[1]
        k = self.shingle
        grams = {normalised[i:i + k] for i in range(max(1, len(normalised) - k + 1))}
        hashes = np.fromiter((zlib.crc32(g.encode("utf-8")) for g in grams), dtype=np.uint64, count=len(grams))
        with np.errstate(over="ignore"):
            values = (np.outer(hashes, self._a) + self._b) >> _SHIFT
        signature = values.min(axis=0)
        self._last = (normalised, signature)
        return signature

    def _band_keys(self, signature: np.ndarray) -> list[tuple[int, bytes]]:
        r = self.rows
        return [(band, signature[band * r:(band + 1) * r].tobytes()) for band in range(self.bands)]

    def query(self, text: str) -> tuple[str, float] | None:
        """("duplicate", 1.0), ("near_duplicate", estimated Jaccard) or None for a new text."""
        normalised = normalise_text(text)
        if hashlib.sha1(normalised.encode("utf-8")).digest() in self._exact:
            return "duplicate", 1.0
        if not self._signatures:
            return None
        signature = self.signature(normalised)
        candidates = sorted({i for key in self._band_keys(signature) for i in self._buckets.get(key, ())})
        if not candidates:
            return None
        stacked = np.stack([self._signatures[i] for i in candidates])
        best = float((stacked == signature).mean(axis=1).max())
        return ("near_duplicate", best) if best >= self.threshold else None

    def add(self, text: str) -> None:
        normalised = normalise_text(text)
        digest = hashlib.sha1(normalised.encode("utf-8")).digest()
        if digest in self._exact:
            return
        self._exact.add(digest)
        signature = self.signature(normalised)
        index = len(self._signatures)
        self._signatures.append(signature)
        for key in self._band_keys(signature):
            self._buckets.setdefault(key, []).append(index)

    def add_all(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.add(text)


class DedupeValidator:
    """Rejects a text equal or near-equal (normalised, shingle Jaccard >= threshold) to an accepted one."""

    name = "dedupe"

    def __init__(self, threshold: float = 0.9) -> None:
        self.index = NearDuplicateIndex(threshold)

    def check(self, sample: Sample) -> str | None:
        hit = self.index.query(sample.text)
        return None if hit is None else hit[0]

    def accept(self, sample: Sample) -> None:
        self.index.add(sample.text)


class ExclusionValidator:
    """Rejects a text equal or near-equal to a held-out text (`test_overlap`, `test_near_duplicate`)."""

    name = "exclusion"

    def __init__(self, texts: Sequence[str], threshold: float = 0.9) -> None:
        self.index = NearDuplicateIndex(threshold)
        self.index.add_all(texts)
        self.size = len(self.index)

    def check(self, sample: Sample) -> str | None:
        hit = self.index.query(sample.text)
        if hit is None:
            return None
        return "test_overlap" if hit[0] == "duplicate" else "test_near_duplicate"

    def accept(self, sample: Sample) -> None:
        return None
