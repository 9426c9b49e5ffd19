"""Render a record as text a person would write: grounded by construction.

Every leaf value appears in the text exactly as its JSON output form (`surface(value)`): strings
verbatim, numbers as `json.dumps` prints them, booleans as `true`/`false` (`listing`: `True`/`False`, as
EdgeJSON v3 writes them; the grounding check ignores a boolean's case). Null leaves are omitted
from records upstream. Styles (picked with weights by a seeded RNG):

- `kv`: the public EdgeJSON listing (title line, `Label: value` lines, nested indentation, a closing
  instruction such as "Please extract the ... information as JSON."), with list items marked (`- `, `* `
  or `1. `) and labels sometimes paraphrased;
- `listing` (weight 0 by default: ask for it with `--styles listing`): that listing exactly as EdgeJSON v3
  writes it: the schema's title, every label `Title Case` of its key, list items one after another with
  no marker (a new item shows only where a label comes back: the boundary the v3 test's long lists make a
  model infer), always "Please extract the ... information as JSON.";
- `prose`: sentences; `email`: headers and a body; `chat`: a chat/SMS message; `log`: log line(s) with
  `key=value` pairs; `table`: markdown or CSV tables; `document`: headings and bullets;
- `thread`, `conversation`, `notes`, `pdf` (weight 0 by default): realistic texts with fields in free order
  and distractor values of the same type (`maaza.data.realistic`).

Field labels are paraphrased (snake_case -> "Title Case", synonyms such as "E-mail", "Tel", "Qty").
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from maaza.data import vocab
from maaza.data.semantics import tokens

STYLES = ("kv", "prose", "email", "chat", "log", "table", "document", "listing",
          "thread", "conversation", "notes", "pdf")
DEFAULT_WEIGHTS: dict[str, float] = {
    "kv": 0.24, "prose": 0.14, "email": 0.12, "chat": 0.12, "log": 0.1, "table": 0.12, "document": 0.16,
    # zero: the default mix (and every dataset generated with it) stays as it was; ask with --styles
    "listing": 0.0, "thread": 0.0, "conversation": 0.0, "notes": 0.0, "pdf": 0.0,
}

ACRONYMS = {
    "id": "ID", "url": "URL", "uri": "URI", "ip": "IP", "sku": "SKU", "api": "API", "bmi": "BMI", "icd10": "ICD-10",
    "icd": "ICD", "mac": "MAC", "uuid": "UUID", "kyc": "KYC", "aml": "AML", "roas": "ROAS", "cc": "CC",
    "dob": "DOB", "http": "HTTP", "iot": "IoT", "ssid": "SSID", "vip": "VIP", "mrn": "MRN", "co2": "CO2",
    "hpa": "hPa", "ppm": "ppm", "cm": "cm", "kg": "kg", "sms": "SMS", "os": "OS", "gps": "GPS", "utc": "UTC",
}
# Whole-key and per-word paraphrases; one is picked per key and sample (never colliding with a sibling).
KEY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "email": ("Email", "E-mail", "Email address", "Mail"),
    "phone": ("Phone", "Phone number", "Tel", "Telephone", "Contact number"),
    "zip_code": ("ZIP", "Zip code", "Postal code", "Postcode"),
    "postal_code": ("Postal code", "Postcode", "ZIP"),
    "quantity": ("Quantity", "Qty"),
    "date_of_birth": ("Date of birth", "DOB", "Birth date"),
    "first_name": ("First name", "Given name"),
    "last_name": ("Last name", "Surname", "Family name"),
    "description": ("Description", "Details", "Desc"),
    "notes": ("Notes", "Remarks", "Comments"),
    "created_at": ("Created at", "Created", "Created on"),
    "updated_at": ("Updated at", "Last updated", "Modified"),
    "timestamp": ("Timestamp", "Time", "Logged at"),
    "address": ("Address", "Addr"),
    "street": ("Street", "Street address"),
    "total_amount": ("Total amount", "Total", "Grand total"),
    "message": ("Message", "Msg"),
}
WORD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("ID", "Id", "#", "number"),
    "email": ("email", "e-mail", "email address"),
    "phone": ("phone", "phone number", "tel"),
    "number": ("number", "no.", "#"),
    "quantity": ("quantity", "qty"),
}

CLOSINGS = (
    "Please extract the {title} information as JSON.",
    "Extract this as JSON.",
    "Convert the above into a JSON object.",
    "Can you turn this into structured JSON?",
    "Return the {title} as JSON.",
    "Parse the details above into JSON.",
    "Give me the JSON for this {title}.",
    "Please output the {title} as a JSON object.",
    "Turn this into JSON, please.",
    "I need this as JSON.",
)
CASUAL_CLOSINGS = ("json pls", "can u turn this into json?", "make it json thx", "json please!", "convert to json")


def surface(value: Any) -> str:
    """The text form of a leaf value that the grounding check looks for (its JSON output form)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, dict | list) and not value:
        return "none"
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------------------------------- tree


@dataclass
class Node:
    """One element of the record: a leaf, an object (children = fields) or a list (children = items)."""

    key: str | None
    label: str
    kind: str  # "leaf" | "object" | "list"
    value: Any = None
    children: list[Node] = field(default_factory=list)


class Labeler:
    """Human labels for keys, with a casing style and paraphrases chosen once per key and sample."""

    def __init__(self, rng: random.Random, casing: str, synonym_prob: float = 0.3) -> None:
        self.rng = rng
        self.casing = casing  # "title" | "sentence" | "lower" | "public" | "raw"
        self.synonym_prob = synonym_prob
        self._cache: dict[str, str] = {}

    def labels(self, keys: list[str], known: set[str]) -> dict[str, str]:
        """Labels for the keys of one object: distinct, raw keys for keys the schema does not declare."""
        out: dict[str, str] = {}
        used: set[str] = set()
        for key in keys:
            label = self.label(key) if key in known else key
            if label.lower() in used:
                label = self.plain(key) if key in known else key
            if label.lower() in used:
                label = key
            used.add(label.lower())
            out[key] = label
        return out

    def label(self, key: str) -> str:
        if key not in self._cache:
            self._cache[key] = self._make(key)
        return self._cache[key]

    def plain(self, key: str) -> str:
        return self._case(_words(key))

    def _make(self, key: str) -> str:
        if self.casing == "raw":
            return key
        norm = "_".join(part.lower() for part in re.split(r"[^0-9A-Za-z]+", key) if part)
        if self.casing == "public":
            return " ".join(part.capitalize() for part in norm.split("_")) or key
        if norm in KEY_SYNONYMS and self.rng.random() < self.synonym_prob:
            return self._case(self.rng.choice(KEY_SYNONYMS[norm]).split(" "))
        words = _words(key)
        if len(words) > 1 and self.rng.random() < self.synonym_prob:
            last = words[-1].lower()
            if last in WORD_SYNONYMS:
                words = [*words[:-1], *self.rng.choice(WORD_SYNONYMS[last]).split(" ")]
        return self._case(words)

    def _case(self, words: list[str]) -> str:
        if not words:
            return ""
        out: list[str] = []
        for index, word in enumerate(words):
            lower = word.lower()
            if lower in ACRONYMS and word not in ("number", "no.", "#"):
                out.append(ACRONYMS[lower] if word in (lower, ACRONYMS[lower], lower.capitalize()) else word)
            elif self.casing == "title" or (self.casing == "sentence" and index == 0):
                out.append(word[:1].upper() + word[1:])
            else:
                out.append(word if word.isupper() and len(word) > 1 else lower)
        return " ".join(out)


def _words(key: str) -> list[str]:
    parts = [p for p in re.split(r"[^0-9A-Za-z]+|(?<=[a-z])(?=[A-Z])", key) if p]
    if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
        return [f"{parts[0]}-{parts[1]}"]
    if len(parts) == 2 and parts[0].isdigit() and parts[1].lower() == "plus":
        return [f"{parts[0]}+"]
    return parts or [key]


def _resolve(node: Any, root: dict[str, Any]) -> Any:
    for _ in range(20):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#")):
            break
        target: Any = root
        for part in [p for p in node["$ref"][1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
    return node if isinstance(node, dict) else {}


def _alternatives(node: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [node]
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key, []) or []:
            nodes.extend(_alternatives(_resolve(option, root), root))
    return nodes


def _properties(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for option in _alternatives(node, root):
        for key, sub in (option.get("properties") or {}).items():
            props.setdefault(key, sub)
    return props


def _items_schema(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    for option in _alternatives(node, root):
        items = option.get("items")
        if isinstance(items, dict):
            return _resolve(items, root)
    return {}


def build_tree(record: Any, schema: dict[str, Any], labeler: Labeler) -> Node:
    """The record as a labelled tree; keys the schema does not declare keep their raw name as label."""
    root = schema

    def visit(value: Any, node: dict[str, Any], key: str | None, label: str) -> Node:
        node = _resolve(node, root)
        if isinstance(value, dict) and value:
            props = _properties(node, root)
            labels = labeler.labels(list(value), set(props))
            children = [visit(v, props.get(k, {}), k, labels[k]) for k, v in value.items() if v is not None]
            return Node(key, label, "object", children=children)
        if isinstance(value, list) and value:
            item_schema = _items_schema(node, root)
            singular = label
            return Node(key, label, "list", children=[visit(v, item_schema, None, singular) for v in value])
        return Node(key, label, "leaf", value=value)

    return visit(record, schema, None, "")


# ---------------------------------------------------------------------------------------- context


@dataclass
class RenderContext:
    """What every renderer gets: the RNG, the record's title and the labelled tree."""

    rng: random.Random
    title: str
    tree: Node

    @property
    def title_lower(self) -> str:
        return self.title if self.title.isupper() else self.title.lower()

    def closing(self, prob: float = 1.0, casual: bool = False) -> str:
        if self.rng.random() >= prob:
            return ""
        if casual:
            return self.rng.choice(CASUAL_CLOSINGS)
        return self.rng.choice(CLOSINGS).format(title=self.title_lower)


def _join_and(parts: list[str], rng: random.Random) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return join_parts(parts[:-1], ", ") + (" " if _ends_sentence(parts[-2]) else rng.choice(
        (" and ", ", and ", ", "))) + parts[-1]


def _ends_sentence(text: str) -> bool:
    return text.endswith((".", "!", "?"))


def join_parts(parts: list[str], sep: str) -> str:
    """Join with `sep`, but after a part that ends a sentence ("...address.") use a plain space."""
    out = ""
    for index, part in enumerate(parts):
        if index:
            out += " " if _ends_sentence(parts[index - 1]) and sep.strip() in (",", ";") else sep
        out += part
    return out


def _end(sentence: str) -> str:
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."


def _leaves(node: Node, prefix: list[str]) -> list[tuple[list[str], Any]]:
    """(label path, value) for every leaf below `node`; list items keep their parent's label path."""
    if node.kind == "leaf":
        return [(prefix, node.value)]
    out: list[tuple[list[str], Any]] = []
    for child in node.children:
        path = prefix if child.key is None else [*prefix, child.label]
        out.extend(_leaves(child, path))
    return out


# ---------------------------------------------------------------------------------------- kv


def render_kv(ctx: RenderContext) -> str:
    """The public EdgeJSON listing: title line, `Label: value` lines, indented nesting, a closing."""
    rng = ctx.rng
    title = rng.choice((ctx.title, f"=== {ctx.title} ===", f"New {ctx.title}", f"{ctx.title} details", ctx.title))
    bullet = rng.choice(("- ", "* ", "#"))
    lines = [title, ""]
    _kv_lines(ctx.tree, 0, lines, bullet)
    closing = (f"Please extract the {ctx.title_lower} information as JSON."
               if rng.random() < 0.5 else ctx.closing())
    return "\n".join([*lines, "", closing]).strip()


def _kv_lines(node: Node, level: int, lines: list[str], bullet: str) -> None:
    pad = "  " * level
    for child in node.children:
        if child.kind == "leaf":
            lines.append(f"{pad}{child.label}: {surface(child.value)}")
        elif child.kind == "object":
            lines.append(f"{pad}{child.label}:")
            _kv_lines(child, level + 1, lines, bullet)
        else:
            lines.append(f"{pad}{child.label}:")
            for index, item in enumerate(child.children, start=1):
                mark = f"{index}. " if bullet == "#" else bullet
                _kv_item(item, pad + "  ", mark, lines, bullet)


def _kv_item(item: Node, pad: str, mark: str, lines: list[str], bullet: str) -> None:
    if item.kind == "leaf":
        lines.append(f"{pad}{mark}{surface(item.value)}")
        return
    sub: list[str] = []
    if item.kind == "object":
        _kv_lines(item, 0, sub, bullet)
    else:
        for index, inner in enumerate(item.children, start=1):
            _kv_item(inner, "", f"{index}. " if bullet == "#" else bullet, sub, bullet)
    cont = " " * len(mark)
    for offset, text in enumerate(sub):
        lines.append(f"{pad}{mark if offset == 0 else cont}{text}")


def render_listing(ctx: RenderContext) -> str:
    """The EdgeJSON v3 listing: title, `Label: value` lines, 2-space nesting, unmarked list items."""
    lines = [ctx.title, ""]
    _listing_lines(ctx.tree, 0, lines)
    return "\n".join([*lines, "", f"Please extract the {ctx.title_lower} information as JSON."])


def _listing_lines(node: Node, level: int, lines: list[str]) -> None:
    pad = "  " * level
    for child in node.children:
        if child.kind == "leaf":
            lines.append(f"{pad}{child.label}:{_listing_value(child.value)}")
            continue
        lines.append(f"{pad}{child.label}:")
        if child.kind == "object":
            _listing_lines(child, level + 1, lines)
            continue
        for item in child.children:
            if item.kind == "object":
                _listing_lines(item, level + 1, lines)
            else:  # a scalar (or, flattened, a nested list's leaves) on its own line; an empty item shows nothing
                texts = (_listing_value(value).strip() for _, value in _leaves(item, []))
                lines.extend(f"{pad}  {text}" for text in texts if text)


def _listing_value(value: Any) -> str:
    """What follows a label's colon in the v3 listing: ` True`/` False` for booleans, nothing for an empty
    object or list, else ` ` and the value's surface form."""
    if isinstance(value, bool):
        return " True" if value else " False"
    if isinstance(value, dict | list) and not value:
        return ""
    return f" {surface(value)}"


def listing_reading(record: Any, schema: dict[str, Any]) -> Any:
    """`record` as a reader of its `listing` text groups it. The items of a list of objects follow one another
    unmarked, so a new item starts only where a label comes back or goes back in the schema's order, and an
    empty item shows nothing and is gone. A record equal to its reading is the one answer its listing allows;
    one that is not (`[{"field": "A"}, {"message": "B"}]` reads as one item) no text in that layout can pin
    down. Written here, beside the renderer it inverts: no library reads this layout."""
    root = schema

    def read(value: Any, node: dict[str, Any]) -> Any:
        node = _resolve(node, root)
        if isinstance(value, dict):
            props = _properties(node, root)
            return {key: read(sub, props.get(key, {})) for key, sub in value.items()}
        if not (isinstance(value, list) and value and all(isinstance(item, dict) for item in value)):
            return value
        item_schema = _items_schema(node, root)
        order = {key: position for position, key in enumerate(_properties(item_schema, root))}
        items: list[dict[str, Any]] = []
        current: dict[str, Any] = {}
        last = -1
        for key, sub in ((key, sub) for item in value for key, sub in item.items()):
            position = order.get(key, len(order))
            if current and (key in current or position <= last):
                items.append(current)
                current = {}
            current[key] = sub
            last = position
        if current:
            items.append(current)
        return [read(item, item_schema) for item in items]

    return read(record, schema)


# ---------------------------------------------------------------------------------------- prose


def _clause(node: Node, rng: random.Random, first: bool) -> str:
    label = node.label
    if node.kind == "leaf":
        value = surface(node.value)
        options = [f"the {label} is {value}", f"{label} {value}", f"{label}: {value}"]
        if not first:
            options.append(f"with {label} {value}")
        return rng.choice(options)
    if node.kind == "object":
        inner = [_clause(child, rng, False) for child in node.children]
        return f"{label} (" + join_parts(inner, ", ") + ")"
    if all(item.kind == "leaf" for item in node.children):
        return f"{label} " + _join_and([surface(item.value) for item in node.children], rng)
    parts = []
    for index, item in enumerate(node.children, start=1):
        body = (join_parts([_clause(c, rng, False) for c in item.children], ", ") if item.kind != "leaf"
                else surface(item.value))
        parts.append(f"({index}) {body}")
    return f"{label}: " + join_parts(parts, "; ")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def render_prose(ctx: RenderContext) -> str:
    """Sentences: leaves grouped two or three to a sentence, nested parts as their own sentences."""
    rng = ctx.rng
    title = ctx.title_lower
    opener = rng.choice((f"Here are the details of the {title}.", f"{ctx.title}:", f"Please record this {title}.",
                         f"Quick summary of the {title}.", f"Some info about the {title}.", ""))
    body = _prose_body(ctx, [opener] if opener else [])
    closing = ctx.closing(0.7)
    return body + (("\n\n" if rng.random() < 0.5 else " ") + closing if closing else "")


def _prose_body(ctx: RenderContext, sentences: list[str]) -> str:
    rng = ctx.rng
    pending: list[str] = []
    for child in ctx.tree.children:
        if child.kind == "leaf":
            pending.append(_clause(child, rng, not pending))
            if len(pending) >= rng.randint(2, 3) or _ends_sentence(pending[-1]):
                sentences.append(_end(_sentence(_join_and(pending, rng))))
                pending = []
            continue
        if pending:
            sentences.append(_end(_sentence(_join_and(pending, rng))))
            pending = []
        if child.kind == "object":
            inner = [_clause(c, rng, i == 0) for i, c in enumerate(child.children)]
            sentences.append(_end(f"For the {child.label}, " + _join_and(inner, rng)))
        else:
            sentences.append(_end(_sentence(_clause(child, rng, True))))
    if pending:
        sentences.append(_end(_sentence(_join_and(pending, rng))))
    return " ".join(sentences) if rng.random() < 0.6 else "\n".join(sentences)


# ---------------------------------------------------------------------------------------- email

_HEADER_KEYS = {"from": "From", "sender": "From", "to": "To", "recipients": "To", "cc": "Cc", "bcc": "Bcc",
                "subject": "Subject", "date": "Date", "sent_at": "Date"}


def render_email(ctx: RenderContext) -> str:
    """An e-mail: header lines (record fields such as from/to/subject go there), greeting, body, sign-off."""
    rng = ctx.rng
    headers: list[str] = []
    rest: list[Node] = []
    for child in ctx.tree.children:
        name = _HEADER_KEYS.get((child.key or "").lower())
        if name and child.kind == "leaf":
            headers.append(f"{name}: {surface(child.value)}")
        elif name and child.kind == "list" and all(item.kind == "leaf" for item in child.children):
            headers.append(f"{name}: " + ", ".join(surface(item.value) for item in child.children))
        else:
            rest.append(child)
    sender = rng.choice(vocab.FIRST_NAMES)
    if not any(h.startswith("From:") for h in headers):
        headers.insert(0, f"From: {sender}")
    if not any(h.startswith("Subject:") for h in headers):
        headers.append(f"Subject: {rng.choice((ctx.title, f'Re: {ctx.title}', f'{ctx.title} - please process'))}")
    greeting = rng.choice(("Hi team,", "Hello,", f"Hi {rng.choice(vocab.FIRST_NAMES)},", "Dear colleagues,", "Hey,"))
    intro = rng.choice((f"Please find the {ctx.title_lower} details below.", "Here are the details:",
                        f"Sharing the {ctx.title_lower} we discussed.", "See below."))
    body_tree = Node(None, "", "object", children=rest)
    if rng.random() < 0.6:
        lines: list[str] = []
        _kv_lines(body_tree, 0, lines, rng.choice(("- ", "* ")))
        body = "\n".join(lines)
    else:
        body = _prose_body(RenderContext(rng, ctx.title, _lower_labels(body_tree)), [])
    closing = ctx.closing(0.5)
    sign = rng.choice(("Thanks,", "Best regards,", "Cheers,", "Kind regards,"))
    parts = ["\n".join(headers), greeting, intro, body]
    if closing:
        parts.append(closing)
    parts.append(f"{sign}\n{sender}")
    return "\n\n".join(part for part in parts if part)


def _lower_labels(node: Node) -> Node:
    """A copy of the tree with labels lower-cased for use inside sentences (acronyms kept)."""
    label = " ".join(w if (w.isupper() and len(w) > 1) or w in ACRONYMS.values() else w.lower()
                     for w in node.label.split(" "))
    return Node(node.key, label, node.kind, node.value, [_lower_labels(c) for c in node.children])


# ---------------------------------------------------------------------------------------- chat


def render_chat(ctx: RenderContext) -> str:
    """A chat/SMS message: casual opener, flat `label value` pairs, casual closing."""
    rng = ctx.rng
    sep = rng.choice((", ", " / ", "\n", "; "))
    pairs: list[str] = []
    for child in ctx.tree.children:
        pairs.append(_chat_pair(child, rng, []))
    opener = rng.choice((f"hey, can you log this {ctx.title_lower}?", "pls add:", f"new {ctx.title_lower} ->",
                         "quick one:", f"fyi {ctx.title_lower}:", "hi! details below:", ""))
    stamp = f"[{rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}] {rng.choice(vocab.FIRST_NAMES)}: " if rng.random() < 0.4 else ""
    body = join_parts(pairs, sep)
    closing = ctx.closing(0.6, casual=rng.random() < 0.7)
    text = f"{stamp}{opener}{chr(10) if sep == chr(10) else ' '}{body}".strip() if opener else f"{stamp}{body}"
    return text + (("\n" if sep == "\n" else " ") + closing if closing else "")


def _chat_pair(node: Node, rng: random.Random, prefix: list[str]) -> str:
    label = " ".join([*prefix, node.label]).strip().lower()
    if node.kind == "leaf":
        return f"{label}{rng.choice((' ', ': ', ' = '))}{surface(node.value)}"
    if node.kind == "object":
        return join_parts([_chat_pair(child, rng, [node.label]) for child in node.children], ", ")
    if all(item.kind == "leaf" for item in node.children):
        return f"{label}: " + ", ".join(surface(item.value) for item in node.children)
    items = []
    for index, item in enumerate(node.children, start=1):
        inner = (join_parts([_chat_pair(child, rng, []) for child in item.children], ", ") if item.kind != "leaf"
                 else surface(item.value))
        items.append(f"#{index} {inner}")
    return f"{label}: " + " | ".join(items)


# ---------------------------------------------------------------------------------------- log

_TS_KEYS = ("timestamp", "time", "created_at", "date", "logged_at", "last_seen", "visit_date")


def _log_value(value: Any) -> str:
    text = surface(value)
    if isinstance(value, str) and (" " in text or text == "" or "=" in text):
        if '"' not in text:
            return f'"{text}"'
        if "'" not in text:
            return f"'{text}'"
    return text


def _log_pairs(node: Node, path: str) -> list[str]:
    pairs: list[str] = []
    for child in node.children:
        key = f"{path}.{child.key}" if path else str(child.key)
        if child.kind == "leaf":
            pairs.append(f"{key}={_log_value(child.value)}")
        elif child.kind == "object":
            pairs.extend(_log_pairs(child, key))
        elif all(item.kind == "leaf" for item in child.children):
            pairs.append(f"{key}=[" + ",".join(_log_value(item.value) for item in child.children) + "]")
        else:
            for index, item in enumerate(child.children):
                item_key = f"{key}[{index}]"
                if item.kind == "leaf":
                    pairs.append(f"{item_key}={_log_value(item.value)}")
                else:
                    pairs.extend(_log_pairs(item, item_key))
    return pairs


def render_log(ctx: RenderContext) -> str:
    """Log line(s): `<timestamp> LEVEL [service] message key=value ...`, raw JSON keys as names."""
    rng = ctx.rng
    used: set[str] = set()
    by_key = {child.key: child for child in ctx.tree.children if child.kind == "leaf"}
    stamp = next((str(by_key[k].value) for k in _TS_KEYS if k in by_key and isinstance(by_key[k].value, str)), "")
    if stamp:
        used.add(next(k for k in _TS_KEYS if k in by_key and str(by_key[k].value) == stamp))

    def take(*keys: str) -> str:
        for key in keys:
            if key in by_key and isinstance(by_key[key].value, str) and by_key[key].value:
                used.add(key)
                return str(by_key[key].value)
        return ""

    level = take("level", "severity") or "INFO"
    service = take("source", "service", "logger")
    message = take("message") or "_".join(tokens(ctx.title)) or "event"
    rest = Node(None, "", "object", children=[c for c in ctx.tree.children if c.key not in used])
    pairs = _log_pairs(rest, "")
    head = " ".join(part for part in (stamp, level, f"[{service}]" if service else "", message) if part)
    if len(pairs) > 8 and rng.random() < 0.6:
        lines = [head] + ["    " + " ".join(pairs[i:i + 4]) for i in range(0, len(pairs), 4)]
        text = "\n".join(lines)
    else:
        text = " ".join([head, *pairs])
    closing = ctx.closing(0.7)
    return text + ("\n\n" + closing if closing else "")


# ---------------------------------------------------------------------------------------- table


def render_table(ctx: RenderContext) -> str:
    """A two-column field/value table plus one table per list of objects (markdown or CSV)."""
    rng = ctx.rng
    texts = [surface(v) for _, v in _leaves(ctx.tree, [])]
    can_md = not any("|" in t or "\n" in t for t in texts)
    can_csv = not any('"' in t or "\n" in t for t in texts)
    if not (can_md or can_csv):
        return render_kv(ctx)
    markdown = can_md and (not can_csv or rng.random() < 0.5)
    fmt = _md_row if markdown else _csv_row
    blocks: list[str] = [rng.choice((ctx.title, f"{ctx.title} (table)", f"# {ctx.title}"))]
    rows: list[list[str]] = []
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    for child in ctx.tree.children:
        if child.kind == "list" and any(item.kind == "object" for item in child.children):
            tables.append(_list_table(child))
        else:
            for path, value in _flat(child, []):
                rows.append([" ".join(path), _joined(value)])
    header = rng.choice((["Field", "Value"], ["Name", "Value"], ["Item", "Details"]))
    if rows:
        blocks.append(_table(header, rows, fmt, markdown))
    for label, columns, body in tables:
        blocks.append(f"{label}:\n" + _table(columns, body, fmt, markdown))
    closing = ctx.closing(0.8)
    if closing:
        blocks.append(closing)
    return "\n\n".join(blocks)


def _flat(node: Node, prefix: list[str]) -> list[tuple[list[str], Any]]:
    """(label path, value or list of values) pairs; lists of scalars stay together as one value."""
    path = [*prefix, node.label] if node.key is not None else prefix
    if node.kind == "leaf":
        return [(path, node.value)]
    if node.kind == "list" and all(item.kind == "leaf" for item in node.children):
        return [(path, [item.value for item in node.children])]
    out: list[tuple[list[str], Any]] = []
    if node.kind == "object":
        for child in node.children:
            out.extend(_flat(child, path))
        return out
    for index, item in enumerate(node.children, start=1):
        out.extend(_flat(item, [*path, f"#{index}"]))
    return out


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(surface(v) for v in value)
    return surface(value)


def _list_table(node: Node) -> tuple[str, list[str], list[list[str]]]:
    columns: list[str] = []
    rows: list[dict[str, str]] = []
    for item in node.children:
        row: dict[str, str] = {}
        children = item.children if item.kind == "object" else [item]
        for child in children:
            if child.kind == "list" and any(inner.kind == "object" for inner in child.children):
                # A list of objects inside a row: one cell, items separated by " / ".
                cells = [join_parts([f"{' '.join(p)}: {_joined(v)}" for p, v in _flat(inner, [])], ", ")
                         for inner in child.children]
                pairs: list[tuple[str, str]] = [(child.label, " / ".join(cells))]
            else:
                pairs = [(" ".join(path) or node.label, _joined(value)) for path, value in _flat(child, [])]
            for column, text in pairs:
                if column not in columns:
                    columns.append(column)
                row[column] = text if column not in row else row[column] + "; " + text
        rows.append(row)
    return node.label, columns, [[row.get(column, "") for column in columns] for row in rows]


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _csv_row(cells: list[str]) -> str:
    return ",".join(f'"{c}"' if ("," in c or c != c.strip()) else c for c in cells)


def _table(header: list[str], rows: list[list[str]], fmt: Callable[[list[str]], str], markdown: bool) -> str:
    lines = [fmt(header)]
    if markdown:
        lines.append("|" + "|".join("---" for _ in header) + "|")
    lines.extend(fmt(row) for row in rows)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- document


def render_document(ctx: RenderContext) -> str:
    """A semi-structured document: a heading, bullets for fields, sub-headings for nested parts."""
    rng = ctx.rng
    bold = rng.random() < 0.4
    lines = [rng.choice((f"# {ctx.title}", f"{ctx.title.upper()}", f"## {ctx.title}")), ""]
    intro = rng.choice(("", f"Summary of the {ctx.title_lower}.", "Details below.", "Prepared for review."))
    if intro:
        lines += [intro, ""]
    for child in ctx.tree.children:
        if child.kind == "leaf":
            lines.append(_bullet(child, "", bold))
    for child in ctx.tree.children:
        if child.kind == "leaf":
            continue
        lines += ["", f"## {child.label}"]
        _doc_block(child, "", lines, bold)
    closing = ctx.closing(0.7)
    if closing:
        lines += ["", closing]
    return "\n".join(lines).strip()


def _bullet(node: Node, pad: str, bold: bool) -> str:
    label = f"**{node.label}:**" if bold else f"{node.label}:"
    return f"{pad}- {label} {surface(node.value)}"


def _doc_block(node: Node, pad: str, lines: list[str], bold: bool) -> None:
    if node.kind == "object":
        for child in node.children:
            if child.kind == "leaf":
                lines.append(_bullet(child, pad, bold))
            else:
                lines.append(f"{pad}- {child.label}:")
                _doc_block(child, pad + "  ", lines, bold)
        return
    for index, item in enumerate(node.children, start=1):
        if item.kind == "leaf":
            lines.append(f"{pad}{index}. {surface(item.value)}")
            continue
        sub: list[str] = []
        _doc_block(item, "", sub, bold)
        mark = f"{index}. "
        for offset, text in enumerate(sub):
            if offset == 0:
                lines.append(pad + mark + (text[2:] if text.startswith("- ") else text))
            else:
                lines.append(pad + " " * len(mark) + text)


# ---------------------------------------------------------------------------------------- entry

RENDERERS: dict[str, Callable[[RenderContext], str]] = {
    "kv": render_kv, "prose": render_prose, "email": render_email, "chat": render_chat, "log": render_log,
    "table": render_table, "document": render_document, "listing": render_listing,
}
_CASINGS: dict[str, tuple[str, ...]] = {
    "kv": ("public", "title", "sentence"), "prose": ("lower",), "email": ("title", "sentence"),
    "chat": ("lower",), "log": ("raw",), "table": ("title", "sentence"), "document": ("title", "sentence"),
    "listing": ("public",),
}
REALISTIC_STYLES = ("thread", "conversation", "notes", "pdf")  # maaza.data.realistic.RENDERERS


def schema_title(schema: dict[str, Any], fallback: str) -> str:
    title = schema.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    return " ".join(word.capitalize() for word in re.split(r"[^0-9A-Za-z]+", fallback) if word) or "Record"


def render(record: Any, schema: dict[str, Any], style: str, rng: random.Random, *, title: str = "") -> str:
    """Render `record` (validated against `schema`) in one style; grounded by construction."""
    if style in REALISTIC_STYLES:  # they need a decoy record from the record generator
        raise ValueError(f"style '{style}' is rendered by maaza.data.realistic.render_any")
    if style not in RENDERERS:
        raise ValueError(f"unknown render style '{style}'; choose from {', '.join(STYLES)}")
    labeler = Labeler(rng, rng.choice(_CASINGS[style]))
    tree = build_tree(record, schema, labeler)
    if tree.kind != "object":
        tree = Node(None, "", "object", children=[Node("value", "Value", tree.kind, tree.value, tree.children)])
    ctx = RenderContext(rng, title or schema_title(schema, "record"), tree)
    return RENDERERS[style](ctx).strip()


def pick_style(rng: random.Random, weights: dict[str, float]) -> str:
    names = [name for name, weight in weights.items() if weight > 0]
    return rng.choices(names, weights=[weights[name] for name in names], k=1)[0]
