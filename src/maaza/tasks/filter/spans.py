"""Character spans of personal data <-> token BIO tags, span metrics and redaction.

A `Span` is `[start, end)` in characters with one of `PII_LABELS` (this module holds the one definition of
the label set and of the tag set). The token classifier sees BIO tags: `bio_tag_ids` turns gold spans and a
tokenizer's `encoding.offsets` into training targets, `decode_bio` turns predicted tags back into spans,
`merge_overlapping` reconciles the spans of overlapping windows of a long text, `span_scores` scores
predicted spans against gold ones, and `redact` masks spans in a text.

Offsets are the HuggingFace `tokenizers` ones: `(start, end)` characters per token, `(0, 0)` for special
tokens; a word may be several tokens, and a word's first token carries the whitespace before it (the filter's
tokenizer keeps it so word boundaries are visible), which `decode_bio` trims when given the text.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from maaza.errors import MaazaError

PII_LABELS = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "STREET_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
)
BIO_TAGS = ("O", *(f"{prefix}-{label}" for label in PII_LABELS for prefix in ("B", "I")))
TAG_IDS = {tag: index for index, tag in enumerate(BIO_TAGS)}
IGNORE_INDEX = -100  # the label id cross-entropy skips (PyTorch's default ignore_index)
OUTSIDE = TAG_IDS["O"]


@dataclass(frozen=True, order=True)
class Span:
    """Characters `[start, end)` of `label`; `score` (a confidence, if any) is not part of equality/order."""

    start: int
    end: int
    label: str
    score: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"span {self.start}-{self.end}: need 0 <= start < end")
        if self.label not in PII_LABELS:
            raise ValueError(f"span label {self.label!r} is not one of {', '.join(PII_LABELS)}")

    def to_dict(self) -> dict[str, Any]:
        """`{start, end, label}`, plus `score` when there is one (the JSONL row form)."""
        out: dict[str, Any] = {"start": self.start, "end": self.end, "label": self.label}
        if self.score is not None:
            out["score"] = self.score
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Span:
        """Read `{start, end, label[, score]}`; every problem is a `MaazaError` naming `where` and the field."""
        if not isinstance(data, Mapping):
            raise MaazaError(
                f"{where}: a span must be an object {{start, end, label}}, got {type(data).__name__}"
            )
        for name in ("start", "end"):
            value = data.get(name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise MaazaError(f"{where}: field '{name}' must be an integer, got {value!r}")
        start, end = data["start"], data["end"]
        if start < 0:
            raise MaazaError(f"{where}: field 'start' must be >= 0, got {start}")
        if end <= start:
            raise MaazaError(f"{where}: field 'end' ({end}) must be greater than 'start' ({start})")
        label = data.get("label")
        if label not in PII_LABELS:
            raise MaazaError(f"{where}: field 'label' must be one of {', '.join(PII_LABELS)}, got {label!r}")
        score = data.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            raise MaazaError(f"{where}: field 'score' must be a number or null, got {score!r}")
        return cls(start, end, label, None if score is None else float(score))

    def overlaps(self, other: Span) -> bool:
        """True when the two share at least one character (touching spans do not overlap)."""
        return self.start < other.end and other.start < self.end

    def __len__(self) -> int:
        return self.end - self.start


def _tag_id(prefix: str, label: str) -> int:
    return TAG_IDS[f"{prefix}-{label}"]


def _sorted_disjoint(spans: Sequence[Span]) -> list[Span]:
    """The spans sorted; overlapping gold spans are an error (which tag a shared token gets is ambiguous)."""
    ordered = sorted(spans)
    for previous, span in itertools.pairwise(ordered):
        if span.start < previous.end:
            raise MaazaError(
                f"spans {previous.start}-{previous.end} ({previous.label}) and {span.start}-{span.end} "
                f"({span.label}) overlap"
            )
    return ordered


def _is_ignored(offset: Sequence[int], special: int) -> bool:
    return bool(special) or offset[1] <= offset[0]


def bio_tag_ids(
    offsets: Sequence[tuple[int, int]],
    spans: Sequence[Span],
    special_mask: Sequence[int] | None = None,
) -> list[int]:
    """One tag id per token (ids into `BIO_TAGS`): the training targets of the token classifier.

    A token overlapping a span gets `B-<label>` if it is that span's first such token, else `I-<label>`;
    tokens outside every span get `O`; special tokens (`special_mask` 1, or a zero-width offset such as
    `(0, 0)`) get `IGNORE_INDEX`. A token that straddles a span boundary (partly inside) counts as inside,
    so the tags over-cover rather than drop characters; a token touching two spans belongs to the earlier.
    The generator puts spans on word boundaries, so straddling is rare. Spans must not overlap.
    """
    if special_mask is not None and len(special_mask) != len(offsets):
        raise ValueError(f"special_mask has {len(special_mask)} entries for {len(offsets)} tokens")
    ordered = _sorted_disjoint(spans)
    ends = [span.end for span in ordered]  # disjoint and sorted by start, so sorted by end too
    started = [False] * len(ordered)
    tags: list[int] = []
    for index, (start, end) in enumerate(offsets):
        if _is_ignored((start, end), special_mask[index] if special_mask is not None else 0):
            tags.append(IGNORE_INDEX)
            continue
        found = bisect.bisect_right(ends, start)  # the first span ending after the token starts
        if found < len(ordered) and ordered[found].start < end:
            span = ordered[found]
            tags.append(_tag_id("I" if started[found] else "B", span.label))
            started[found] = True
        else:
            tags.append(OUTSIDE)
    return tags


def decode_bio(
    offsets: Sequence[tuple[int, int]],
    tag_ids: Sequence[int],
    scores: Sequence[float] | None = None,
    text: str | None = None,
) -> list[Span]:
    """The spans predicted tags describe (the inverse of `bio_tag_ids` for spans on token boundaries).

    `B-X` starts a span; `I-X` continues it when the previous kept token was `B-X` or `I-X`, and otherwise
    starts a new span (lenient: the model's `O I-X` or `B-Y I-X` still yields an X span); `B-X B-X` gives
    two spans. A span runs from its first token's start to its last token's end. Ignored tokens
    (`IGNORE_INDEX` or a zero-width offset, i.e. special tokens) are skipped and do not break a span.
    `scores` (the probability of each token's chosen tag) gives each span the mean over its tokens.
    With `text`, each span is trimmed of the whitespace at its ends (a token carries the whitespace before
    its word, `maaza.train.filter_tokenizer`); a span of whitespace only is dropped.
    """
    if len(tag_ids) != len(offsets) or (scores is not None and len(scores) != len(offsets)):
        raise ValueError("offsets, tag_ids and scores must have one entry per token")
    spans: list[Span] = []
    current: tuple[str, int, int, list[float]] | None = None  # label, start, end, token scores

    def close() -> None:
        if current is not None:
            label, start, end, values = current
            if text is not None:
                while start < end and text[start].isspace():
                    start += 1
                while end > start and text[end - 1].isspace():
                    end -= 1
                if start == end:
                    return
            spans.append(Span(start, end, label, sum(values) / len(values) if scores is not None else None))

    for index, ((start, end), tag_id) in enumerate(zip(offsets, tag_ids, strict=True)):
        if tag_id == IGNORE_INDEX or end <= start:
            continue
        if not 0 <= tag_id < len(BIO_TAGS):
            raise ValueError(f"token {index}: tag id {tag_id} is not an index into BIO_TAGS")
        value = [float(scores[index])] if scores is not None else []
        if tag_id == OUTSIDE:
            close()
            current = None
            continue
        prefix, label = BIO_TAGS[tag_id].split("-", 1)
        if prefix == "I" and current is not None and current[0] == label:
            current = (label, current[1], end, current[3] + value)
        else:
            close()
            current = (label, start, end, value)
    close()
    return spans


@functools.cache
def _word_probes() -> tuple[Any, Any]:
    from tokenizers import Regex, pre_tokenizers

    return (
        pre_tokenizers.Split(Regex(r"\s+"), behavior="merged_with_next"),
        pre_tokenizers.Punctuation(behavior="isolated"),
    )


@functools.cache
def is_word_character(char: str) -> bool:
    """True when the filter's pre-tokenizer (`maaza.train.filter_tokenizer`) treats `char` as part of a word:
    neither whitespace (the `\\s+` split) nor punctuation (the `Punctuation` pre-tokenizer), asked of
    `tokenizers` itself, so Python and the browser's tokenizer.js (which carries the same classes, probed from
    it) agree on every code point. Letters, digits, marks and symbols other than ASCII punctuation are word
    characters."""
    whitespace, punctuation = _word_probes()
    probe = f"a{char}a"
    if len(whitespace.pre_tokenize_str(probe)) > 1:
        return False
    return len(punctuation.pre_tokenize_str(probe)) == 1


def glued_boundaries(offsets: Sequence[tuple[int, int]], text: str) -> list[bool]:
    """Per token: True when no span edge may fall between it and the token before it.

    That is the case when the two are pieces of one character (byte-fallback tokens share its offsets) or
    touch inside a word: word characters on both sides of the junction (`is_word_character`: neither
    whitespace nor punctuation to the filter's pre-tokenizer), as in "M|ire|la" or "4|5|3|2". Punctuation
    ("-", "@", ".") and whitespace are edges a span may start or end at. Zero-width (special) tokens are
    never glued and do not glue their neighbours."""

    glued: list[bool] = []
    previous: tuple[int, int] | None = None
    for start, end in offsets:
        if end <= start:
            glued.append(False)
            continue
        if previous is None:
            glued.append(False)
        elif start < previous[1]:
            glued.append(True)
        else:
            glued.append(
                start == previous[1] and is_word_character(text[start]) and is_word_character(text[start - 1])
            )
        previous = (start, end)
    return glued


_NEVER = -1e30  # the log-score of a forbidden transition (finite: no inf - inf arithmetic)


@functools.cache
def _transition_tables() -> tuple[Any, Any, Any]:
    """(free, glued, first): log-score tables of tag transitions (rows: previous tag, columns: this tag) at an
    ordinary token boundary and at a glued one, and the start scores: 0 allowed, `_NEVER` forbidden."""
    import numpy as np

    count = len(BIO_TAGS)
    labels = [tag.split("-", 1)[1] if tag != "O" else None for tag in BIO_TAGS]
    inside = [tag.startswith("I-") for tag in BIO_TAGS]
    free = np.zeros((count, count))
    glued = np.full((count, count), _NEVER)
    for before in range(count):
        for after in range(count):
            continues = labels[before] is not None and labels[before] == labels[after] and inside[after]
            if inside[after] and not continues:
                free[before, after] = _NEVER  # I-X only after B-X or I-X
            if (before == OUTSIDE and after == OUTSIDE) or continues:
                glued[before, after] = 0.0  # inside a word: O stays O, a span goes on with I-X
    first = np.array([_NEVER if flag else 0.0 for flag in inside])
    return free, glued, first


def constrained_tags(log_probs: Any, glued: Sequence[bool]) -> list[int]:
    """The most probable valid tag sequence (Viterbi) given per-token tag log-probabilities.

    Valid: `I-X` only after `B-X` or `I-X`, never first; at a glued boundary (`glued_boundaries`) the tag
    continues the word (O after O, `I-X` after X), so a span never starts or ends inside a word. The score of
    a sequence is the sum of its tags' log-probabilities, so where the per-token argmax is valid it is the
    answer. Hand-written: it is the BIO-constrained decoding of CRF taggers, without learned transitions,
    over 17 tags; the libraries that have it want a trained CRF layer or torch. Ties go to the lower tag id.
    `log_probs`: an array (tokens, len(BIO_TAGS)); `glued`: one flag per token (the first one's is ignored).
    """
    import numpy as np

    if len(glued) == 0 and len(log_probs) == 0:
        return []
    log_p = np.asarray(log_probs, dtype=np.float64)
    if log_p.ndim != 2 or log_p.shape[1] != len(BIO_TAGS) or len(glued) != log_p.shape[0]:
        raise ValueError("log_probs must be (tokens, len(BIO_TAGS)) with one glued flag per token")
    free, glued_table, first = _transition_tables()
    score = first + log_p[0]
    back = []
    for index in range(1, log_p.shape[0]):
        candidates = score[:, None] + (glued_table if glued[index] else free)
        best = candidates.argmax(axis=0)
        back.append(best)
        score = candidates[best, np.arange(len(BIO_TAGS))] + log_p[index]
    path = [int(score.argmax())]
    for best in reversed(back):
        path.append(int(best[path[-1]]))
    return path[::-1]


def _rank(span: Span) -> tuple[bool, float, int, int]:
    """Higher wins: has a score, the score, the longer, the earlier."""
    return (span.score is not None, span.score if span.score is not None else 0.0, len(span), -span.start)


def _max_score(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def merge_overlapping(spans: Iterable[Span]) -> list[Span]:
    """One non-overlapping, sorted set from candidate spans (e.g. of overlapping windows of a long text).

    Spans of the same label that overlap (identical ones included) become their union with the higher
    score; touching spans (`a.end == b.start`) stay apart, they are two entities. Then among overlapping
    spans of different labels the higher score wins (a span without a score loses to one with), then
    the longer, then the earlier; the loser is dropped whole.
    """
    by_label: dict[str, list[Span]] = {}
    for span in spans:
        by_label.setdefault(span.label, []).append(span)
    unions: list[Span] = []
    for label, members in by_label.items():
        members.sort()
        start, end, score = members[0].start, members[0].end, members[0].score
        for span in members[1:]:
            if span.start < end:
                end, score = max(end, span.end), _max_score(score, span.score)
            else:
                unions.append(Span(start, end, label, score))
                start, end, score = span.start, span.end, span.score
        unions.append(Span(start, end, label, score))
    kept: list[Span] = []
    for span in sorted(unions, key=_rank, reverse=True):
        if not any(span.overlaps(other) for other in kept):
            kept.append(span)
    return sorted(kept)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | None]:
    """Precision, recall and F1 = 2tp / (2tp + fp + fn); None where the denominator is 0."""
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def span_scores(gold: Sequence[Sequence[Span]], predicted: Sequence[Sequence[Span]]) -> dict[str, Any]:
    """Span metrics over texts (`gold[i]` and `predicted[i]` are the spans of text i).

    Exact: a predicted span is a true positive when a gold span of the same text has the same start, end and
    label (each gold span matches once). Micro `precision`, `recall`, `f1` with `tp`, `fp`, `fn`;
    `per_label` {label: precision, recall, f1, support (gold count), tp, fp, fn} for every label.
    Precision is None without predictions, recall None without gold spans, F1 None with neither (nothing
    to score); predictions but no gold spans give F1 0, as do gold spans but no predictions.
    `partial_precision` / `partial_recall` / `partial_f1`: a predicted span counts when it overlaps a gold
    span of the same label, a gold span is found when some such predicted span overlaps it (so boundary
    errors are forgiven, label errors not); F1 is their harmonic mean, None/0 as above.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold texts but {len(predicted)} predicted")
    counts = {label: Counter[str]() for label in PII_LABELS}
    partial = Counter[str]()
    for gold_spans, predicted_spans in zip(gold, predicted, strict=True):
        gold_keys = Counter((s.start, s.end, s.label) for s in gold_spans)
        predicted_keys = Counter((s.start, s.end, s.label) for s in predicted_spans)
        for (_, _, label), n in (gold_keys & predicted_keys).items():
            counts[label]["tp"] += n
        for span in gold_spans:
            counts[span.label]["gold"] += 1
            partial["found"] += any(p.label == span.label and p.overlaps(span) for p in predicted_spans)
        for span in predicted_spans:
            counts[span.label]["predicted"] += 1
            partial["hit"] += any(g.label == span.label and g.overlaps(span) for g in gold_spans)
    per_label: dict[str, dict[str, Any]] = {}
    for label, c in counts.items():
        tp, fp, fn = c["tp"], c["predicted"] - c["tp"], c["gold"] - c["tp"]
        per_label[label] = {**_prf(tp, fp, fn), "support": c["gold"], "tp": tp, "fp": fp, "fn": fn}
    tp = sum(v["tp"] for v in per_label.values())
    fp = sum(v["fp"] for v in per_label.values())
    fn = sum(v["fn"] for v in per_label.values())
    n_gold = sum(c["gold"] for c in counts.values())
    n_predicted = sum(c["predicted"] for c in counts.values())
    partial_precision = _ratio(partial["hit"], n_predicted)
    partial_recall = _ratio(partial["found"], n_gold)
    if partial_precision is None and partial_recall is None:
        partial_f1 = None
    elif not partial_precision or not partial_recall:
        partial_f1 = 0.0
    else:
        partial_f1 = 2 * partial_precision * partial_recall / (partial_precision + partial_recall)
    return {
        **_prf(tp, fp, fn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "per_label": per_label,
        "partial_precision": partial_precision,
        "partial_recall": partial_recall,
        "partial_f1": partial_f1,
    }


def _default_mask(span: Span) -> str:
    return f"[{span.label}]"


def redact(text: str, spans: Iterable[Span], mask: str | Callable[[Span], str] = _default_mask) -> str:
    """`text` with each span replaced by `mask` (a string, or a function of the span: `[LABEL]` by default).

    Overlapping spans (of any labels) are first joined into their union, labelled like the span that ranks
    highest in `merge_overlapping` (score, then length, then the earlier), so no character of any span stays
    visible (`merge_overlapping` itself drops a losing span whole); touching spans are masked separately. Replacement runs from the end backwards so earlier offsets stay valid.
    """
    ordered = sorted(spans)
    if ordered and max(span.end for span in ordered) > len(text):
        raise ValueError(f"a span ends past the text ({len(text)} characters)")
    groups: list[list[Span]] = []
    ends: list[int] = []  # the end of each group's union
    for span in ordered:
        if groups and span.start < ends[-1]:
            groups[-1].append(span)
            ends[-1] = max(ends[-1], span.end)
        else:
            groups.append([span])
            ends.append(span.end)
    out = text
    for end, group in zip(reversed(ends), reversed(groups), strict=True):
        best = max(group, key=_rank)
        union = Span(group[0].start, end, best.label, best.score)
        replacement = mask(union) if callable(mask) else mask
        out = out[: union.start] + replacement + out[union.end :]
    return out
