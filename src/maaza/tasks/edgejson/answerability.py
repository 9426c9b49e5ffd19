"""Does a row's text allow exactly its gold answer? The classes of EdgeJSON v3 rows under the `listing` layout.

Every v3 prompt is a listing of its answer (the `listing` style re-renders all 415 v3 train template rows
byte for byte), so a row's text determines its answer when the gold, rendered as a listing, is the text and a
reader groups its unmarked list items as the gold does (`listing_reading`). Rows that fail either test can be
exact only by a guess against the text: `benchmarks/answerability.py` measures the ceiling this sets, and
training runs drop such rows (`benchmarks/qat_q4_0.py --run long_clean`). Written by hand: it inverts our own
renderer, which no library knows.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from maaza.data.render import listing_reading, render
from maaza.schemas import flatten_leaves

ANSWER_CLASSES = ("determined", "empty item", "other grouping", "text differs")


def holds_empty_item(leaves: Mapping[tuple[Any, ...], Any]) -> bool:
    """Whether an answer, as its `flatten_leaves` map, holds an empty list item: a `{}` leaf at a list index.
    A listing prints nothing for such an item, so no text in that layout shows it."""
    return any(leaf == {} and path and isinstance(path[-1], int) for path, leaf in leaves.items())


def answer_class(prompt: str, gold: Any, schema: dict[str, Any]) -> str:
    """The row's class (ANSWER_CLASSES), comparing below the title line (v3 varies a few titles: "New ...").

    - `determined`: the text allows this one answer;
    - `empty item`: the gold holds an empty list item `{}`, which a listing does not print;
    - `other grouping`: the gold splits list items a reader reads as one;
    - `text differs`: the gold, rendered, is not the text (a value or field the text does not have).
    """
    listing = render(gold, schema, "listing", random.Random(0))
    if listing.split("\n", 1)[-1] != prompt.split("\n", 1)[-1]:
        return "text differs"
    if holds_empty_item(flatten_leaves(gold)):
        return "empty item"
    return "determined" if listing_reading(gold, schema) == gold else "other grouping"
