"""The NLM filter's report tables and model card, from the results JSONs `benchmarks/filter.py` writes.

Results are named `<system>_<test set>` (`nlm_5m_filter_int8_spam_test`, `tfidf_logreg_toxicity_test`,
`regex_pii_handwritten`, ...) plus `<system>_timing` and `int8_agreement`. The same tables go into
`benchmarks/results/filter.md` and into the shipped folder's README (the card, with Hugging Face front
matter from `maaza.report.card.front_matter`), so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SYSTEMS = ("nlm_5m_filter_int8", "nlm_5m_filter_int8_rules", "nlm_5m_filter_fp32", "tfidf_logreg", "regex")
LATENCY_NOTE = (
    "Batch 1: SMS test texts of 38-42 tokens ([CLS] and [SEP] included), each checked 4 times after a warm-up. "
    "Batched: all 1115 SMS test texts, 32 per call; all three heads run on every text."
)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def overall(results: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The overall metrics of results file `name`, or None when it was not measured."""
    item = results.get(name)
    return (item.get("metrics") or {}).get("overall") if item else None


def rows_of(results: Mapping[str, Any], name: str) -> int | None:
    item = results.get(name) or {}
    return (item.get("data") or {}).get("rows")


def quality_table(results: Mapping[str, Any]) -> list[str]:
    """One row per system: spam accuracy (all / minus train duplicates), toxicity, PII span F1 on both sets."""
    lines = [
        "| system | SMS spam acc. | spam acc. (test minus train dupes) | spam macro-F1 | Davidson macro-F1 | "
        "toxic-vs-neither acc. | PII span F1 (generated) | PII span F1 (hand-written) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for system in SYSTEMS:
        spam, dedup = overall(results, f"{system}_spam_test"), overall(results, f"{system}_spam_test_dedup")
        tox = overall(results, f"{system}_toxicity_test")
        pii, hand = overall(results, f"{system}_pii_test"), overall(results, f"{system}_pii_handwritten")
        if not any((spam, tox, pii, hand)):
            continue
        lines.append("| " + " | ".join([
            system, _pct(spam and spam["top1"]), _pct(dedup and dedup["top1"]), _num(spam and spam["macro_f1"]),
            _num(tox and tox["macro_f1"]), _pct(tox and tox.get("toxic_accuracy")),
            _num(pii and pii["f1"]), _num(hand and hand["f1"]),
        ]) + " |")
    return lines


def quality_notes(results: Mapping[str, Any]) -> list[str]:
    dedup = rows_of(results, "nlm_5m_filter_int8_spam_test_dedup") or rows_of(results, "tfidf_logreg_spam_test_dedup")
    total = rows_of(results, "nlm_5m_filter_int8_spam_test") or rows_of(results, "tfidf_logreg_spam_test")
    generated = rows_of(results, "nlm_5m_filter_int8_pii_test") or rows_of(results, "regex_pii_test")
    hand = rows_of(results, "nlm_5m_filter_int8_pii_handwritten") or rows_of(results, "regex_pii_handwritten")
    return [
        f"SMS spam: {total} test rows; minus train dupes: the {dedup} whose text does not occur in the training "
        f"split. Davidson: its test split. PII: {generated} generated test texts (a seed no training run uses) and "
        f"{hand} hand-written texts (benchmarks/data/pii_handwritten.jsonl); exact character span and label. The "
        "regular-expression peer has no rule for PERSON or STREET_ADDRESS (its F1 counts those as misses). "
        "nlm_5m_filter_int8_rules: the INT8 model with those rules (`Filter.load(pii_rules=True)`, `maaza filter "
        "--rules`): e-mail, IBAN, card, SSN and IP spans from the rules, names, addresses and the phones the rules "
        "miss from the model.",
    ]


def pii_label_table(results: Mapping[str, Any], system: str = "nlm_5m_filter_int8") -> list[str]:
    generated, hand = overall(results, f"{system}_pii_test"), overall(results, f"{system}_pii_handwritten")
    rules = overall(results, "regex_pii_handwritten") or {}
    if not generated or not hand:
        return []
    lines = [
        "| label | F1 generated | support | F1 hand-written | support | regex F1 hand-written |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, values in generated["per_label"].items():
        own = hand["per_label"].get(label, {})
        rule = (rules.get("per_label") or {}).get(label, {})
        lines.append(f"| {label} | {_num(values.get('f1'))} | {values.get('support')} | {_num(own.get('f1'))} | "
                     f"{own.get('support')} | {_num(rule.get('f1'))} |")
    lines.append(f"| partial-overlap F1 (all labels) | {_num(generated.get('partial_f1'))} | | "
                 f"{_num(hand.get('partial_f1'))} | | {_num(rules.get('partial_f1'))} |")
    return lines


def decoding_table(results: Mapping[str, Any]) -> list[str]:
    """PII span F1 of each file with the shipped decoding (constrained BIO) and with per-token argmax
    (results `<system>_argmax_<set>`), so the decoder's share of the score is measured, not claimed."""
    lines = [
        "| file | PII decoding | span F1 generated | partial-overlap F1 | span F1 hand-written | partial-overlap F1 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for precision in ("int8", "fp32"):
        for decoding, infix in (("constrained (shipped)", ""), ("per-token argmax", "_argmax")):
            system = f"nlm_5m_filter_{precision}{infix}"
            generated, hand = overall(results, f"{system}_pii_test"), overall(results, f"{system}_pii_handwritten")
            if not generated or not hand:
                continue
            lines.append(f"| {precision} | {decoding} | {_num(generated['f1'])} | {_num(generated.get('partial_f1'))} "
                         f"| {_num(hand['f1'])} | {_num(hand.get('partial_f1'))} |")
    return lines if len(lines) > 2 else []


DECODING_NOTE = (
    "Constrained: the most probable tag sequence of each window with `I-X` only after `B-X`/`I-X` and no span "
    "edge inside a word (`maaza.tasks.filter.spans.constrained_tags`); argmax: each token's most probable tag."
)


def speed_table(results: Mapping[str, Any]) -> list[str]:
    rows = []
    for precision in ("int8", "fp32"):
        timing = (results.get(f"nlm_5m_filter_{precision}_timing") or {}).get("timing")
        if not timing:
            continue
        one, two = timing["latency_ms_1_threads"], timing["latency_ms_2_threads"]
        rows.append(f"| {precision} | {timing['file_mb_total']} | {one['p50']} / {one['p95']} | {two['p50']} / "
                    f"{two['p95']} | {timing['batched_per_s_1_threads']} | {timing['batched_per_s_2_threads']} | "
                    f"{timing['peak_rss_mb']} |")
    if not rows:
        return []
    return [
        "| file | MB (model + tokenizer) | batch-1 p50 / p95 ms, 1 thread | 2 threads | batched inf/s, 1 thread | "
        "2 threads | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]


def agreement_line(results: Mapping[str, Any]) -> list[str]:
    agreement = (results.get("int8_agreement") or {}).get("agreement")
    if not agreement:
        return []
    return ["INT8 vs fp32 (same label / identical span list per text): "
            + ", ".join(f"{key} {_pct(value)}" for key, value in agreement.items())]


def report_body(results: Mapping[str, Any], published: Mapping[str, str]) -> list[str]:
    """The tables of the results file and the card: quality, PII per label, size and speed, agreement."""
    lines = ["## Quality (every system on the same test rows)", "", *quality_table(results), "",
             *quality_notes(results), "",
             "Published, for context (not measured here): " + "; ".join(f"{k}: {v}" for k, v in published.items())]
    labels = pii_label_table(results)
    if labels:
        lines += ["", "## PII per label (INT8 file)", "", *labels]
    decoding = decoding_table(results)
    if decoding:
        lines += ["", "## PII decoding", "", *decoding, "", DECODING_NOTE]
    speed = speed_table(results)
    if speed:
        lines += ["", "## Size and speed (onnxruntime, CPU execution provider)", "", *speed, "", LATENCY_NOTE]
    agreement = agreement_line(results)
    if agreement:
        lines += ["", *agreement]
    return lines


def build_filter_card(meta: Mapping[str, Any], summary: Mapping[str, Any] | None, results: Mapping[str, Any],
                      published: Mapping[str, str], results_path: str) -> str:
    """The shipped filter's README: front matter (model-index of the INT8 results), what it is, how to use
    it, the measured tables, how it was trained, limitations."""
    from maaza.report.card import front_matter

    measured = [results[name] for name in ("nlm_5m_filter_int8_spam_test", "nlm_5m_filter_int8_toxicity_test",
                                           "nlm_5m_filter_int8_pii_test", "nlm_5m_filter_int8_pii_handwritten")
                if name in results]
    data = front_matter(
        str(meta.get("name", "nlm-5m-filter")), hub_id=None, library="onnx",
        tags=["onnx", "int8", "spam-detection", "toxicity-detection", "pii-detection", "token-classification"],
        datasets=["sms_spam", "davidson_hate_speech"], results=measured, task_label="filter",
        metric_keys=("top1", "macro_f1", "toxic_accuracy", "f1"), pipeline_tag="text-classification",
    )
    arch = meta.get("architecture", {})
    files = meta.get("files", {})
    size_mb = sum(files.values()) / 1e6 if files else None
    lines = [
        "---", data.to_yaml(), "---", "",
        f"# {meta.get('name', 'nlm-5m-filter')}",
        "",
        f"One {arch.get('layers')}-layer, {arch.get('hidden')}-wide BERT encoder ({meta.get('parameters'):,} "
        f"parameters) with three heads: spam (ham / spam), toxicity (hate / offensive / neither) and PII spans "
        "(BIO tags over PERSON, EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS, CREDIT_CARD, IBAN_CODE, US_SSN, "
        f"IP_ADDRESS), its own {arch.get('vocab_size')}-token BPE vocabulary with byte fallback, INT8 ONNX: "
        f"{_num(size_mb, 2)} MB with the tokenizer. Windows of {meta.get('max_length')} tokens, {meta.get('stride')} "
        "tokens of overlap for longer texts.",
        "",
        "```python",
        "from maaza.filter import Filter",
        "f = Filter.load()                      # this folder (the shipped filter)",
        "r = f.check(\"Call Anna on +44 7700 900123\")",
        "r.spam_score, r.toxicity_label, r.toxicity_score, r.pii   # pii: character spans",
        "f.redact(\"mail me at jo@example.com\")  # 'mail me at [EMAIL_ADDRESS]'",
        "```",
        "",
        "CLI: `maaza filter \"some text\"` (JSON line per text), `maaza filter --redact --file notes.txt`. In the "
        "browser: `web/filter/` (onnxruntime-web, the tokenizer in plain JavaScript).",
        "",
        *report_body(results, published),
        "",
        f"Every number: `python benchmarks/filter.py` ({results_path}).",
        "",
        "## Training",
        "",
    ]
    if summary:
        rows = summary.get("rows", {})
        lines += [
            f"From random initialisation, {summary.get('steps')} steps ({summary.get('epochs')} epochs) of one mixture "
            "(each batch one task, its head's cross-entropy): " + ", ".join(
                f"{name} {value.get('train')} train / {value.get('validation')} validation rows" for name, value in rows.items()
            ) + f"; best summed validation loss {summary.get('best_val_loss')} at step {summary.get('best_step')}; "
            f"{summary.get('train_seconds')} s on the CPU named above. Config: configs/filter/nlm_5m_filter.yaml.",
            "",
        ]
    lines += [
        "Data: SMS Spam Collection (UCI, CC BY 4.0) train split; Davidson et al. 2017 tweets (MIT) train split; "
        "PII: generated texts (maaza.tasks.filter.pii_generator: tickets, e-mails with signatures, chats, CRM notes, "
        "logs, forms, invoices; Faker values in 10 locales; valid IBAN check digits, Luhn-valid cards; hard "
        "negatives such as order numbers, tracking codes, versions, prices), spans right by construction.",
        "",
        "## Limitations",
        "",
        "- PII was learned from generated texts only; the hand-written set measures how far that carries, and "
        "its per-label F1 above says where it does not (names without context, addresses in prose).",
        "- Toxicity is Davidson's tweets: US English of 2017, crowd labels; `hate` is rare there (about 6% of rows) "
        "and is the weakest class. A toxicity score is not a moderation decision.",
        "- INT8 quantizes activations per call (one scale per batch), so a text's scores move slightly with the other "
        "texts of its batch; `check()` of one text is the reference.",
        "- Not distilled from a larger teacher, and no masked-token pre-training: both are measured options the "
        "recipe has (pretrain.steps) or lacks (distillation), see docs/filter.md.",
    ]
    return "\n".join(lines) + "\n"
