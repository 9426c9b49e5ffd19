"""EdgeIntent metrics: per-row scores of a generative answer or of a classifier's distribution, the aggregates
(top-1, top-5, macro-F1, per class, confused pairs, out-of-scope detection) and the OOS threshold.

Examples (the per-row dicts) carry `label` (gold), `predicted` (None when nothing could be read), `correct`,
`top5_correct` and `scope` (`in` or `oos`). scikit-learn computes F1; it is imported when aggregating.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from maaza.decoding.json_parse import parse_json_output
from maaza.errors import MaazaError
from maaza.tasks.base import fraction_true
from maaza.tasks.intent.rows import OUT_OF_SCOPE, IntentRow

TOP_K = 5
CONFUSED_PAIRS = 10  # how many (gold, predicted) pairs the overall aggregate keeps
OOS_METRICS = ("in_scope_accuracy", "oos_recall", "oos_precision")


# ------------------------------------------------------------------------------------------ per row


def score_output(row: IntentRow, output: str, labels: Sequence[str]) -> dict[str, Any]:
    """A generative answer: `{"intent": ...}` (anywhere in the output), else a bare label (quotes allowed)."""
    predicted: str | None = None
    parsed = parse_json_output(output).value
    if isinstance(parsed, dict) and isinstance(parsed.get("intent"), str):
        predicted = parsed["intent"]
    else:
        bare = output.strip().strip("\"'").strip()
        if bare in set(labels):
            predicted = bare
    correct = predicted == row.label
    return {
        "predicted": predicted,
        "correct": correct,
        "top5_correct": correct,  # one answer: top-5 is top-1
        "parsed_ok": predicted is not None,
        "label": row.label,
        "scope": row.scope,
    }


def _ranked(probs: Sequence[float], labels: Sequence[str]) -> list[int]:
    if len(probs) != len(labels):
        raise MaazaError(f"got {len(probs)} probabilities for the task's {len(labels)} labels")
    values = [float(p) for p in probs]
    if not all(math.isfinite(v) for v in values):
        raise MaazaError("probabilities must be finite numbers")
    return sorted(range(len(values)), key=lambda i: (-values[i], i))  # ties: the earlier label


def score_distribution(
    row: IntentRow,
    probs: Sequence[float],
    labels: Sequence[str],
    *,
    oos_label: str | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """A classifier's probabilities over `labels` (in order): argmax, top-5, the gold label's rank.

    With `oos_label` and a `threshold`, a row whose highest in-scope probability is below the threshold is
    predicted out-of-scope. `confidence` is the highest probability of all labels.
    """
    order = _ranked(probs, labels)
    predicted = labels[order[0]]
    if oos_label is not None and threshold is not None and predicted != oos_label:
        best_in_scope = float(probs[order[0]])  # the argmax is in scope, so it is the best in-scope one
        if best_in_scope < threshold:
            predicted = oos_label
    gold = labels.index(row.label) if row.label in labels else None
    rank = order.index(gold) + 1 if gold is not None else None
    return {
        "predicted": predicted,
        "confidence": float(probs[order[0]]),
        "correct": predicted == row.label,
        "top5_correct": rank is not None and rank <= TOP_K,
        "rank": rank,
        "label": row.label,
        "scope": row.scope,
        "top5": [{"label": labels[i], "prob": float(probs[i])} for i in order[:TOP_K]],
    }


# ------------------------------------------------------------------------------------------ aggregate


def _class_order(examples: list[dict[str, Any]], labels: Sequence[str]) -> list[str]:
    """The labels present among the gold and predicted ones: the task's order first, then the rest sorted."""
    present = {e["label"] for e in examples} | {
        e["predicted"] for e in examples if e.get("predicted") is not None
    }
    known = [label for label in labels if label in present]
    return known + sorted(present.difference(labels))


def _gold_pred(examples: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    # an unreadable answer is wrong for its gold class and counts as no class (the empty string is no label)
    return [e["label"] for e in examples], [e.get("predicted") or "" for e in examples]


def macro_f1(examples: list[dict[str, Any]], labels: Sequence[str]) -> float | None:
    """scikit-learn's macro-averaged F1 over the labels present in the gold or predicted ones."""
    if not examples:
        return None
    from sklearn.metrics import f1_score

    gold, pred = _gold_pred(examples)
    classes = _class_order(examples, labels)
    return float(f1_score(gold, pred, labels=classes, average="macro", zero_division=0))


def per_class(examples: list[dict[str, Any]], labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """label -> precision, recall, F1 and support (gold rows), for the labels present."""
    if not examples:
        return {}
    from sklearn.metrics import precision_recall_fscore_support

    gold, pred = _gold_pred(examples)
    classes = _class_order(examples, labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, pred, labels=classes, average=None, zero_division=0
    )
    return {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }


def confused_pairs(examples: list[dict[str, Any]], top: int = CONFUSED_PAIRS) -> list[dict[str, Any]]:
    """The `top` most frequent (gold, predicted) pairs with gold != predicted (predicted None: unreadable)."""
    counts = Counter((e["label"], e.get("predicted")) for e in examples if e.get("predicted") != e["label"])
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0][0], item[0][1] or ""))
    return [{"gold": gold, "predicted": pred, "count": count} for (gold, pred), count in ranked[:top]]


def oos_metrics(examples: list[dict[str, Any]], oos_label: str) -> dict[str, float | None]:
    """In-scope accuracy (in-scope rows exactly right), OOS recall and precision (None without rows)."""
    in_scope = [e for e in examples if e.get("scope") != OUT_OF_SCOPE]
    oos = [e for e in examples if e.get("scope") == OUT_OF_SCOPE]
    flagged = [e for e in examples if e.get("predicted") == oos_label]
    return {
        "in_scope_accuracy": fraction_true(e["correct"] for e in in_scope),
        "oos_recall": fraction_true(e.get("predicted") == oos_label for e in oos),
        "oos_precision": fraction_true(e.get("scope") == OUT_OF_SCOPE for e in flagged),
    }


def summarise(
    examples: list[dict[str, Any]], labels: Sequence[str], oos_label: str | None, *, overall: bool
) -> dict[str, Any]:
    """One bucket's metrics; the overall one adds per-class scores and the confused pairs."""
    result: dict[str, Any] = {
        "n": len(examples),
        "top1": fraction_true(e["correct"] for e in examples),
        "top5": fraction_true(e.get("top5_correct", e["correct"]) for e in examples),
        "macro_f1": macro_f1(examples, labels),
    }
    if oos_label is not None:
        result.update(oos_metrics(examples, oos_label))
    if examples and all("parsed_ok" in e for e in examples):
        result["parse_rate"] = fraction_true(e["parsed_ok"] for e in examples)
    if overall:
        result["per_class"] = per_class(examples, labels)
        result["confused_pairs"] = confused_pairs(examples)
    return result


# ------------------------------------------------------------------------------------------ threshold


def choose_oos_threshold(
    val_probs: Sequence[Sequence[float]], val_labels: Sequence[str], labels: Sequence[str], oos_label: str
) -> float:
    """The threshold on the highest in-scope probability that maximises validation accuracy.

    A row is predicted out-of-scope when its argmax is `oos_label` or its highest in-scope probability is
    below the threshold (as `score_distribution` does). The candidates are the distinct highest in-scope
    probabilities of the rows (the lowest of them overrides nothing); ties go to the lowest candidate.

    Validation rows only: a threshold chosen on test rows makes the test score optimistic.
    """
    if len(val_probs) != len(val_labels):
        raise MaazaError(f"got {len(val_probs)} probability rows for {len(val_labels)} validation labels")
    if not val_probs:
        raise MaazaError("choosing an OOS threshold needs at least one validation row")
    if oos_label not in labels:
        raise MaazaError(f"the OOS label '{oos_label}' is not one of the task's labels")
    oos_index = labels.index(oos_label)
    in_scope = [i for i in range(len(labels)) if i != oos_index]
    base = 0  # rows right with no threshold (plain argmax)
    gains: dict[float, int] = {}  # highest in-scope probability -> accuracy change when such rows go oos
    for probs, gold in zip(val_probs, val_labels, strict=True):
        if gold not in labels:
            raise MaazaError(f"validation label '{gold}' is not one of the task's labels")
        order = _ranked(probs, labels)
        argmax = labels[order[0]]
        best = max(float(probs[i]) for i in in_scope)
        base += argmax == gold
        # rows whose argmax is already oos stay oos: no change either way
        change = 0 if argmax == oos_label else int(gold == oos_label) - int(argmax == gold)
        gains[best] = gains.get(best, 0) + change
    candidates = sorted(gains)
    best_threshold, best_correct = candidates[0], base
    below = 0  # the change from every row whose best in-scope probability is below the candidate
    for previous, candidate in itertools.pairwise(candidates):
        below += gains[previous]
        if base + below > best_correct:
            best_threshold, best_correct = candidate, base + below
    return float(best_threshold)
