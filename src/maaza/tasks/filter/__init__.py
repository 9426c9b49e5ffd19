"""The filter tasks: spam (SMS Spam Collection), toxicity (Davidson tweets) and PII spans (generated texts).

- `spam` and `toxicity` are label tasks (`LabelTask`, an `IntentTask` over a fixed label set read from
  `{text, label}` rows), so they share EdgeIntent's rows, metrics and reports; toxicity adds the
  toxic-vs-neither accuracy (toxic = hate or offensive).
- `pii` (`maaza.tasks.filter.pii.PIITask`) reads rows `{text, spans: [{start, end, label}]}` and scores
  predicted character spans by exact span and label.

Modules: `spans` (character spans <-> BIO tags, span metrics, redaction), `checksums` (Luhn, IBAN mod 97),
`pii_generator` (the PII data generator), `pii_rules` (the regular-expression peer), `pii` (the task).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from maaza.tasks.intent import IntentTask

__all__ = ["LabelTask", "pii_task", "spam_task", "toxic_accuracy", "toxicity_task"]

SPAM_LABELS = ("ham", "spam")
TOXICITY_LABELS = ("hate", "offensive", "neither")
NOT_TOXIC = "neither"


def toxic_accuracy(examples: Sequence[dict[str, Any]]) -> float | None:
    """Accuracy of the binary decision toxic (hate or offensive) vs neither."""
    scored = [e for e in examples if e.get("predicted") is not None]
    if not examples:
        return None
    hits = sum((e["label"] != NOT_TOXIC) == (e.get("predicted") not in (None, NOT_TOXIC)) for e in scored)
    return hits / len(examples)


class LabelTask(IntentTask):
    """A text-classification task over a fixed label set (`{text, label}` rows): accuracy (`top1`) and
    macro-F1 lead; the `toxicity` task adds `toxic_accuracy` (toxic vs neither)."""

    def __init__(
        self, name: str, dataset: str, labels: Sequence[str], description: str, tags: Sequence[str]
    ) -> None:
        super().__init__(name=name, dataset=dataset, labels=labels)
        self.description = description
        self.metric_names = ("top1", "macro_f1", *(("toxic_accuracy",) if name == "toxicity" else ()))
        self._tags = list(tags)

    def aggregate(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        result = super().aggregate(examples)
        if self.name == "toxicity":
            result["overall"]["toxic_accuracy"] = toxic_accuracy(examples)
        return result

    def card_tags(self) -> list[str]:
        return self._tags

    def card_label(self) -> str:
        return self.description.split(" (")[0]


def spam_task() -> LabelTask:
    """The built-in `spam` task: UCI SMS Spam Collection (ham / spam)."""
    return LabelTask(
        "spam", "sms_spam", SPAM_LABELS, "spam detection of SMS messages (ham / spam)", ["spam-detection"]
    )


def toxicity_task() -> LabelTask:
    """The built-in `toxicity` task: Davidson et al. 2017 tweets (hate / offensive / neither)."""
    return LabelTask(
        "toxicity",
        "toxicity",
        TOXICITY_LABELS,
        "toxicity of tweets (hate / offensive / neither)",
        ["toxicity-detection", "hate-speech-detection"],
    )


def pii_task() -> Any:
    """The built-in `pii` task (character spans of personal data)."""
    from maaza.tasks.filter.pii import PIITask

    return PIITask()
