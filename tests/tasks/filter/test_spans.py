"""Character spans <-> BIO tags, merging, span metrics and redaction (maaza.tasks.filter.spans)."""

from __future__ import annotations

import itertools
import random

import pytest

from maaza.errors import MaazaError
from maaza.tasks.filter.spans import (
    BIO_TAGS,
    IGNORE_INDEX,
    PII_LABELS,
    TAG_IDS,
    Span,
    bio_tag_ids,
    constrained_tags,
    decode_bio,
    glued_boundaries,
    merge_overlapping,
    redact,
    span_scores,
)

OUT, B_PER, I_PER, B_EMAIL, I_EMAIL = 0, 1, 2, 3, 4
B_PHONE, I_PHONE = 5, 6

# "Hi John Smith, mail jo@ex.com now" as a tokenizer would split it, with [CLS] and [SEP].
TEXT = "Hi John Smith, mail jo@ex.com now"
OFFSETS = [(0, 0), (0, 2), (3, 7), (8, 11), (11, 13), (13, 14), (15, 19), (20, 22), (22, 23), (23, 25),
           (25, 29), (30, 33), (0, 0)]  # fmt: skip
GOLD = [Span(3, 13, "PERSON"), Span(20, 29, "EMAIL_ADDRESS")]
TAGS = [
    IGNORE_INDEX,
    OUT,
    B_PER,
    I_PER,
    I_PER,
    OUT,
    OUT,
    B_EMAIL,
    I_EMAIL,
    I_EMAIL,
    I_EMAIL,
    OUT,
    IGNORE_INDEX,
]


def test_tag_set_order() -> None:
    assert len(BIO_TAGS) == 1 + 2 * len(PII_LABELS) == 17
    assert BIO_TAGS[:5] == ("O", "B-PERSON", "I-PERSON", "B-EMAIL_ADDRESS", "I-EMAIL_ADDRESS")
    assert BIO_TAGS[-2:] == ("B-IP_ADDRESS", "I-IP_ADDRESS")
    assert IGNORE_INDEX == -100


def test_bio_tags_multi_token_spans_and_special_tokens() -> None:
    assert TEXT[3:13] == "John Smith" and TEXT[20:29] == "jo@ex.com"
    assert bio_tag_ids(OFFSETS, GOLD) == TAGS
    assert bio_tag_ids(OFFSETS, list(reversed(GOLD))) == TAGS  # order of the spans does not matter
    assert bio_tag_ids(OFFSETS, []) == [IGNORE_INDEX, *[OUT] * 11, IGNORE_INDEX]


def test_bio_tags_adjacent_same_label_spans() -> None:
    offsets = [(0, 2), (2, 4), (5, 8), (8, 10)]  # "Anna Bobby": An|na Bob|by
    assert bio_tag_ids(offsets, [Span(0, 4, "PERSON"), Span(5, 10, "PERSON")]) == [B_PER, I_PER, B_PER, I_PER]
    touching = [(0, 2), (2, 4), (4, 7), (7, 10)]
    assert bio_tag_ids(touching, [Span(0, 4, "PERSON"), Span(4, 10, "PERSON")]) == [
        B_PER,
        I_PER,
        B_PER,
        I_PER,
    ]


def test_bio_tags_special_mask() -> None:
    offsets = [(0, 3), (0, 3), (4, 7)]
    assert bio_tag_ids(offsets, [Span(0, 7, "PERSON")], special_mask=[1, 0, 0]) == [
        IGNORE_INDEX,
        B_PER,
        I_PER,
    ]
    with pytest.raises(ValueError, match="special_mask"):
        bio_tag_ids(offsets, [], special_mask=[0])


def test_bio_tags_straddling_token_counts_as_inside() -> None:
    offsets = [(0, 4), (4, 8), (8, 10)]
    assert bio_tag_ids(offsets, [Span(2, 6, "PERSON")]) == [B_PER, I_PER, OUT]
    assert bio_tag_ids(offsets, [Span(5, 9, "PHONE_NUMBER")]) == [OUT, B_PHONE, I_PHONE]
    # a token touching two spans belongs to the earlier one
    assert bio_tag_ids([(0, 6), (6, 9)], [Span(0, 3, "PERSON"), Span(3, 9, "PHONE_NUMBER")]) == [
        B_PER,
        B_PHONE,
    ]


def test_bio_tags_reject_overlapping_spans() -> None:
    with pytest.raises(MaazaError, match="overlap"):
        bio_tag_ids([(0, 4)], [Span(0, 4, "PERSON"), Span(2, 6, "EMAIL_ADDRESS")])


def test_decode_round_trip() -> None:
    assert decode_bio(OFFSETS, TAGS) == GOLD
    spans = [Span(0, 4, "PERSON"), Span(5, 10, "PERSON"), Span(11, 14, "IP_ADDRESS")]
    offsets = [(0, 0), (0, 2), (2, 4), (5, 8), (8, 10), (11, 14), (15, 17), (0, 0)]
    tags = bio_tag_ids(offsets, spans)
    assert tags == [IGNORE_INDEX, B_PER, I_PER, B_PER, I_PER, 15, OUT, IGNORE_INDEX]
    assert decode_bio(offsets, tags) == spans
    assert all(span.score is None for span in decode_bio(offsets, tags))


def test_decode_lenient_and_label_changes() -> None:
    offsets = [(0, 2), (3, 5), (6, 8), (9, 11)]
    assert decode_bio(offsets, [OUT, I_PER, I_PER, OUT]) == [Span(3, 8, "PERSON")]
    assert decode_bio(offsets, [B_PER, I_EMAIL, I_EMAIL, OUT]) == [
        Span(0, 2, "PERSON"),
        Span(3, 8, "EMAIL_ADDRESS"),
    ]
    assert decode_bio(offsets, [B_PER, B_PER, I_PER, OUT]) == [Span(0, 2, "PERSON"), Span(3, 8, "PERSON")]
    assert decode_bio(offsets, [I_PER, OUT, I_PER, I_PER]) == [Span(0, 2, "PERSON"), Span(6, 11, "PERSON")]
    assert decode_bio(offsets, [OUT, OUT, OUT, OUT]) == []


def test_decode_skips_ignored_tokens_and_averages_scores() -> None:
    offsets = [(0, 3), (0, 0), (4, 7), (8, 9)]
    spans = decode_bio(offsets, [B_PER, OUT, I_PER, B_EMAIL], scores=[0.9, 0.1, 0.7, 0.6])
    assert spans == [Span(0, 7, "PERSON"), Span(8, 9, "EMAIL_ADDRESS")]
    assert spans[0].score == pytest.approx(0.8)
    assert spans[1].score == pytest.approx(0.6)
    assert decode_bio([(0, 3), (4, 7)], [B_PER, IGNORE_INDEX]) == [Span(0, 3, "PERSON")]
    with pytest.raises(ValueError, match="tag id 17"):
        decode_bio([(0, 3)], [17])
    with pytest.raises(ValueError, match="one entry per token"):
        decode_bio([(0, 3)], [OUT, OUT])


def test_merge_overlapping() -> None:
    merged = merge_overlapping([Span(0, 5, "PERSON", 0.5), Span(0, 5, "PERSON", 0.9)])
    assert merged == [Span(0, 5, "PERSON")] and merged[0].score == 0.9
    merged = merge_overlapping([Span(3, 9, "PERSON", 0.8), Span(0, 5, "PERSON", 0.6)])
    assert merged == [Span(0, 9, "PERSON")] and merged[0].score == 0.8
    assert merge_overlapping([Span(0, 5, "PERSON", 0.6), Span(3, 9, "EMAIL_ADDRESS", 0.8)]) == [
        Span(3, 9, "EMAIL_ADDRESS")
    ]
    # equal scores: the longer wins, then the earlier
    assert merge_overlapping([Span(0, 5, "PERSON", 0.7), Span(3, 9, "EMAIL_ADDRESS", 0.7)]) == [
        Span(3, 9, "EMAIL_ADDRESS")
    ]
    assert merge_overlapping([Span(0, 5, "PERSON", 0.7), Span(3, 8, "EMAIL_ADDRESS", 0.7)]) == [
        Span(0, 5, "PERSON")
    ]
    # touching spans are two entities; a scored span beats an unscored one
    assert merge_overlapping([Span(4, 8, "PERSON"), Span(0, 4, "PERSON")]) == [
        Span(0, 4, "PERSON"),
        Span(4, 8, "PERSON"),
    ]
    assert merge_overlapping([Span(0, 9, "PERSON"), Span(2, 4, "US_SSN", 0.1)]) == [Span(2, 4, "US_SSN")]
    assert merge_overlapping([]) == []


def test_merge_overlapping_is_sorted_and_disjoint() -> None:
    rng = random.Random(7)
    for _ in range(200):
        spans = []
        for _ in range(rng.randint(1, 8)):
            start = rng.randint(0, 40)
            spans.append(Span(start, start + rng.randint(1, 10), rng.choice(PII_LABELS[:3]), rng.random()))
        merged = merge_overlapping(spans)
        assert merged == sorted(merged)
        assert all(a.end <= b.start for a, b in itertools.pairwise(merged))
        assert merge_overlapping(merged) == merged


def test_span_scores_hand_computed() -> None:
    gold = [[Span(0, 4, "PERSON"), Span(10, 20, "EMAIL_ADDRESS")], [Span(5, 15, "PHONE_NUMBER")]]
    predicted = [[Span(0, 4, "PERSON"), Span(10, 19, "EMAIL_ADDRESS")], []]
    scores = span_scores(gold, predicted)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 1, 2)
    assert scores["precision"] == 0.5
    assert scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(0.4)
    per = scores["per_label"]
    assert set(per) == set(PII_LABELS)
    assert per["PERSON"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "support": 1,
        "tp": 1,
        "fp": 0,
        "fn": 0,
    }
    assert per["EMAIL_ADDRESS"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
        "tp": 0,
        "fp": 1,
        "fn": 1,
    }
    assert per["PHONE_NUMBER"] == {
        "precision": None,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
        "tp": 0,
        "fp": 0,
        "fn": 1,
    }
    assert per["IBAN_CODE"] == {
        "precision": None,
        "recall": None,
        "f1": None,
        "support": 0,
        "tp": 0,
        "fp": 0,
        "fn": 0,
    }
    # partial: both predictions overlap a gold span of their label; 2 of 3 gold spans are found
    assert scores["partial_precision"] == 1.0
    assert scores["partial_recall"] == pytest.approx(2 / 3)
    assert scores["partial_f1"] == pytest.approx(0.8)


def test_span_scores_edge_cases() -> None:
    empty = span_scores([[]], [[]])
    assert (empty["precision"], empty["recall"], empty["f1"], empty["partial_f1"]) == (None, None, None, None)
    only_predicted = span_scores([[]], [[Span(0, 3, "PERSON")]])
    assert (only_predicted["precision"], only_predicted["recall"], only_predicted["f1"]) == (0.0, None, 0.0)
    assert only_predicted["partial_f1"] == 0.0
    # a wrong label is not a partial match; a duplicate prediction is a false positive
    wrong = span_scores([[Span(0, 5, "EMAIL_ADDRESS")]], [[Span(0, 5, "PHONE_NUMBER")]])
    assert (wrong["tp"], wrong["fp"], wrong["fn"], wrong["partial_f1"]) == (0, 1, 1, 0.0)
    twice = span_scores([[Span(0, 5, "PERSON")]], [[Span(0, 5, "PERSON"), Span(0, 5, "PERSON")]])
    assert (twice["tp"], twice["fp"], twice["fn"]) == (1, 1, 0)
    with pytest.raises(ValueError, match="2 gold texts but 1 predicted"):
        span_scores([[], []], [[]])


def test_redact() -> None:
    assert redact(TEXT, GOLD) == "Hi [PERSON], mail [EMAIL_ADDRESS] now"
    assert redact(TEXT, GOLD, mask="***") == "Hi ***, mail *** now"
    assert redact(TEXT, GOLD, mask=lambda s: "#" * len(s)) == "Hi ##########, mail ######### now"
    # overlapping spans of different labels: one mask over the union, labelled by the higher score
    assert (
        redact("abcdefghij", [Span(1, 5, "PERSON", 0.9), Span(3, 8, "EMAIL_ADDRESS", 0.5)]) == "a[PERSON]ij"
    )
    assert redact("abcdef", []) == "abcdef"
    with pytest.raises(ValueError, match="past the text"):
        redact("abc", [Span(1, 4, "PERSON")])


def test_redact_never_leaves_a_span_character_visible() -> None:
    rng = random.Random(13)
    for _ in range(300):
        n = rng.randint(1, 60)
        text = "".join(chr(0x4E00 + i) for i in range(n))  # every character distinct and not in a mask
        spans = []
        for _ in range(rng.randint(0, 6)):
            start = rng.randrange(n)
            spans.append(Span(start, rng.randint(start + 1, n), rng.choice(PII_LABELS), rng.random()))
        out = redact(text, spans)
        covered = {i for span in spans for i in range(span.start, span.end)}
        assert not any(text[i] in out for i in covered)
        visible = [ch for ch in out if ord(ch) >= 0x4E00]
        assert visible == [text[i] for i in range(n) if i not in covered]


def test_span_dict_round_trip_and_errors() -> None:
    span = Span(3, 9, "US_SSN", 0.5)
    assert span.to_dict() == {"start": 3, "end": 9, "label": "US_SSN", "score": 0.5}
    assert Span(3, 9, "US_SSN").to_dict() == {"start": 3, "end": 9, "label": "US_SSN"}
    back = Span.from_dict(span.to_dict(), "x")
    assert back == span and back.score == 0.5
    assert Span(1, 2, "PERSON", 0.1) == Span(1, 2, "PERSON", 0.9)  # the score is not compared
    where = "rows.jsonl:3: field 'spans'[0]"
    cases = [
        ({"end": 4, "label": "PERSON"}, "field 'start' must be an integer"),
        ({"start": True, "end": 4, "label": "PERSON"}, "field 'start' must be an integer"),
        ({"start": 0, "end": "4", "label": "PERSON"}, "field 'end' must be an integer"),
        ({"start": -1, "end": 4, "label": "PERSON"}, "field 'start' must be >= 0"),
        ({"start": 4, "end": 4, "label": "PERSON"}, r"field 'end' \(4\) must be greater than 'start' \(4\)"),
        ({"start": 0, "end": 4, "label": "NAME"}, "field 'label' must be one of PERSON, "),
        ({"start": 0, "end": 4, "label": "PERSON", "score": "high"}, "field 'score' must be a number"),
        ([0, 4, "PERSON"], "a span must be an object"),
    ]
    for data, message in cases:
        with pytest.raises(MaazaError, match=message) as info:
            Span.from_dict(data, where)
        assert str(info.value).startswith(where + ": ")
    with pytest.raises(ValueError, match="start < end"):
        Span(5, 2, "PERSON")
    with pytest.raises(ValueError, match="not one of"):
        Span(0, 2, "NAME")


def test_decode_bio_with_the_text_trims_the_whitespace_a_token_carries() -> None:
    text = "Hi  Anna Lee\n, ok"
    # tokens: "Hi", "  Anna" (carries two spaces), " Lee", "\n", ",", " ok"
    offsets = [(0, 2), (2, 8), (8, 12), (12, 13), (13, 14), (14, 17)]
    tags = [TAG_IDS["O"], TAG_IDS["B-PERSON"], TAG_IDS["I-PERSON"], TAG_IDS["I-PERSON"], TAG_IDS["O"], TAG_IDS["O"]]
    assert decode_bio(offsets, tags) == [Span(2, 13, "PERSON")]  # without the text: token edges
    assert decode_bio(offsets, tags, text=text) == [Span(4, 12, "PERSON")]  # "Anna Lee"
    only_space = [TAG_IDS["O"], TAG_IDS["O"], TAG_IDS["O"], TAG_IDS["B-PERSON"], TAG_IDS["O"], TAG_IDS["O"]]
    assert decode_bio(offsets, only_space, text=text) == []  # a whitespace-only span is dropped


# --------------------------------------------------------------------------------- constrained decoding


def _log_probs(rows: list[dict[str, float]]) -> list[list[float]]:
    """Per token log-probabilities from {tag: probability} (the rest of the mass spread over the other tags)."""
    import math

    table = []
    for row in rows:
        rest = (1.0 - sum(row.values())) / (len(BIO_TAGS) - len(row))
        table.append([math.log(row.get(tag, rest)) for tag in BIO_TAGS])
    return table


def test_glued_boundaries_inside_words_and_characters_only() -> None:
    text = "Mirela <m.vo@x> 4532 ą!"
    # "M" "ire" "la" " " "<" "m" "." "vo" "@" "x" ">" " 4" "5" "3" "2" " " "ą" (2 byte tokens) "!"
    offsets = [(0, 1), (1, 4), (4, 6), (6, 7), (7, 8), (8, 9), (9, 10), (10, 12), (12, 13), (13, 14), (14, 15),
               (15, 17), (17, 18), (18, 19), (19, 20), (20, 21), (21, 22), (21, 22), (22, 23)]  # fmt: skip
    glued = glued_boundaries(offsets, text)
    assert glued == [False, True, True, False, False, False, False, False, False, False, False,
                     False, True, True, True, False, False, True, False]  # fmt: skip
    # special tokens: never glued, and the token after one is not glued through it
    assert glued_boundaries([(0, 0), (0, 1), (0, 0)], "a") == [False, False, False]


def test_constrained_tags_is_argmax_where_argmax_is_valid() -> None:
    rows = [{"O": 0.9}, {"B-PERSON": 0.8}, {"I-PERSON": 0.7}, {"O": 0.6}]
    assert constrained_tags(_log_probs(rows), [False] * 4) == [OUT, B_PER, I_PER, OUT]


def test_constrained_tags_repairs_what_argmax_breaks() -> None:
    # argmax: O I-PERSON I-EMAIL: an I without its B, then a label change inside a span
    rows = [{"O": 0.9}, {"I-PERSON": 0.5, "B-PERSON": 0.4}, {"I-EMAIL_ADDRESS": 0.45, "I-PERSON": 0.4}]
    path = constrained_tags(_log_probs(rows), [False, False, True])
    assert path == [OUT, B_PER, I_PER]  # 0.9 * 0.4 * 0.4 beats every other valid sequence
    # a span edge inside a word is not allowed: "Mi|rela" with the model unsure about the first piece
    rows = [{"O": 0.55, "B-PERSON": 0.4}, {"B-PERSON": 0.9}, {"I-PERSON": 0.9}]
    assert constrained_tags(_log_probs(rows), [False, False, True]) == [OUT, B_PER, I_PER]
    assert constrained_tags(_log_probs(rows), [False, True, True]) == [B_PER, I_PER, I_PER]


def test_constrained_tags_brute_force_on_random_scores() -> None:
    """The Viterbi path has the best total score among all valid sequences, enumerated over five tags (the
    other twelve get ~1e-4 each, far below the five, so no best sequence uses them)."""
    rng = random.Random(3)
    subset = [OUT, B_PER, I_PER, B_EMAIL, I_EMAIL]
    for _ in range(40):
        n = rng.randint(1, 5)
        rows = [{BIO_TAGS[t]: rng.uniform(0.05, 1.0) for t in subset} for _ in range(n)]
        for row in rows:
            total = sum(row.values()) * 1.001
            for tag in row:
                row[tag] /= total
        glued = [False] + [rng.random() < 0.4 for _ in range(n - 1)]
        table = _log_probs(rows)

        def valid(seq: tuple[int, ...], glued: list[bool] = glued) -> bool:
            previous = None
            for tag, stuck in zip(seq, glued, strict=True):
                name = BIO_TAGS[tag]
                same = previous is not None and previous != "O" and previous[2:] == name[2:]
                if name.startswith("I-") and not same:
                    return False
                if previous is not None and stuck and not ((previous == "O" and name == "O") or
                                                           (same and name.startswith("I-"))):
                    return False
                previous = name
            return True

        best = max(
            (seq for seq in itertools.product(subset, repeat=n) if valid(seq)),
            key=lambda seq: sum(table[i][t] for i, t in enumerate(seq)),
        )
        assert constrained_tags(table, glued) == list(best)
    assert constrained_tags([], []) == []
    with pytest.raises(ValueError):
        constrained_tags([[0.0] * 3], [False])
