"""Grounded decoding: a JSON-Schema grammar whose free-text values must be copied from the input text.

Extraction answers are spans of the input. On the EdgeJSON v3 test set 1583 of 1587 gold string values
and all 616 numbers appear verbatim in the row's text, yet a fine-tuned 135M model still writes
"yourselves" for "yourself", makes up a review text, or appends `}}` to a message. A schema grammar alone
cannot stop that. This module compiles (schema, text) into an llguidance Lark grammar in which:

- every free string (no `enum`/`const`) is a substring of the text as JSON writes it (`json.dumps`, so a
  line break in the text is the two characters `\\n` in both), starting and ending on word boundaries
  (llguidance's `substring_chunks`, a suffix automaton over `text_chunks`), intersected with the JSON string-content
  syntax and `minLength`/`maxLength`; a string with a `format` (date, date-time, email, uuid) or a
  `pattern` is one of the text's spans that match it (found in Python, offered as literal choices);
- every number / integer is one of the numbers written in the text (`1,299.99` also offers `1299.99`,
  `-20` also offers `20`), filtered by `minimum`/`maximum`;
- a value the text cannot supply (a date field, no date in the text) leaves its optional property out;
  a required one falls back to the plain schema for that value;
- objects keep the schema's `properties` order with optional members skippable (like llguidance's own
  JSON compiler) and take no undeclared keys; arrays honour `minItems`/`maxItems` (not `uniqueItems`);
- a free string is never empty and never starts or ends with white space (a space, or a `\\n`/`\\t`/`\\r`
  escape): none of the 5623 gold strings of EdgeJSON v3 train does, yet the model copied `" Husband"`
  from an indented list line; an enum of an optional property offers only the values the text mentions
  (ignoring case, `_`/`-` as spaces) and is left out when it mentions none: a fine-tuned model otherwise
  adds `"status": "completed"` or `"request_id": ""` to answers whose text says neither. On EdgeJSON v3
  train, 426 of 435 optional enum values in the gold answers are mentioned in their text and no gold
  string is empty;
- booleans, null, enums and consts are literal choices; formats without a regex here (uri, hostname,
  ipv4/6, time, duration) and any node this compiler does not model (`anyOf`, `oneOf`, `allOf`, `not`,
  type-less nodes) are delegated to llguidance's own JSON compiler inline (`%json {...}`), so only
  their grounding is lost, never their validity. A schema with `$ref` is compiled ungrounded as a whole
  (`grounded_lark` returns None), because an inline `%json` cannot see the root's definitions.

The grounding text travels inside the schema under `GROUNDING_KEY` (see `with_grounding`), so every
backend that compiles a row's schema (hf, llama.cpp, ONNX) grounds it without a new argument, and the
compiled-grammar caches key on the text too. Written here because no constrained-decoding library offers
"JSON Schema with copy-constrained values": llguidance provides the substring automaton and `%json`, this
module only maps schema nodes onto them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from maaza.decoding.formats import FORMAT_REGEX, LENIENT_DATETIME_PATTERN

__all__ = [
    "GROUNDING_KEY",
    "grounded_lark",
    "number_literals",
    "text_chunks",
    "with_grounding",
    "without_grounding",
]

GROUNDING_KEY = "x-maaza-grounding"

# One JSON string character as JSON writes it: an escape or any char but `"`, `\` and controls.
_JSON_CHAR = r'(\\(["\\/bfnrt]|u[0-9a-fA-F]{4})|[^"\\\x00-\x1F])'
# ... and one that is not white space (no space, no `\n`/`\t`/`\r`/`\b`/`\f` escape): what a copied value
# starts and ends with
_JSON_EDGE_CHAR = r'(\\(["\\/]|u[0-9a-fA-F]{4})|[^"\\\x00-\x20])'
_TRIMMED = f"{_JSON_EDGE_CHAR}({_JSON_CHAR}*{_JSON_EDGE_CHAR})?"
_CHUNK = re.compile(r"\\u[0-9a-fA-F]{4}|\\.|\w+|.", re.S)
_NUMBER_IN_TEXT = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_JSON_NUMBER = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"
_MODELLED = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "title",
    "description",
    "$schema",
    "$id",
    "default",
    "examples",
    "uniqueItems",
    "$comment",
    GROUNDING_KEY,
}


def with_grounding(schema: dict[str, Any], text: str) -> dict[str, Any]:
    """`schema` with `text` attached as its grounding source (a shallow copy; the input is not changed)."""
    return {**schema, GROUNDING_KEY: text}


def without_grounding(schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(`schema` without the grounding key, the grounding text or None)."""
    if GROUNDING_KEY not in schema:
        return schema, None
    text = schema[GROUNDING_KEY]
    if not isinstance(text, str):
        raise ValueError(f"'{GROUNDING_KEY}' must be the input text (a string), got {type(text).__name__}")
    return {k: v for k, v in schema.items() if k != GROUNDING_KEY}, text


def text_chunks(text: str) -> list[str]:
    """`text` as JSON writes it, cut into the units a grounded value may start and end at: runs of word
    characters, and single other characters or escapes (so `blood.` may end at the `.` before a `\\n`,
    and no value ends inside an escape)."""
    return _CHUNK.findall(json.dumps(text, ensure_ascii=False)[1:-1])


def number_literals(text: str, *, integer: bool = False) -> list[str]:
    """The JSON number literals written in `text` (deduplicated, in order of appearance)."""
    found: dict[str, None] = {}
    for match in _NUMBER_IN_TEXT.finditer(text):
        raw = match.group(0)
        # "1,299.99": the thousands-grouped number, and each piece (a list like "1,234" reads both ways)
        variants = {raw.replace(",", ""), *raw.split(",")} if "," in raw else {raw}
        for variant in list(variants):
            if variant.startswith("-"):
                variants.add(variant[1:])
        for variant in sorted(variants, key=raw.find):
            literal = _canonical_number(variant, integer)
            if literal is not None:
                found.setdefault(literal, None)
    return list(found)


def _canonical_number(text: str, integer: bool) -> str | None:
    """`text` as a JSON literal (leading zeros dropped), or None when it is not a number of that kind."""
    if integer and not re.fullmatch(r"-?\d+", text):
        return None
    if re.fullmatch(_JSON_NUMBER, text):
        return text
    value = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    literal = json.dumps(value)
    return literal if re.fullmatch(_JSON_NUMBER, literal) else None


def _lark_string(value: str) -> str:
    """A Lark string literal matching exactly `value`."""
    return json.dumps(value, ensure_ascii=False)


def _lark_regex(pattern: str) -> str:
    return "/" + pattern.replace("/", "\\/") + "/"


def _unanchored(pattern: str) -> str:
    """A JSON-Schema `pattern` without its `^`/`$` anchors (candidates are then found with a search)."""
    head = pattern.startswith("^")
    tail = pattern.endswith("$") and not pattern.endswith("\\$")
    return pattern[1 if head else 0 : len(pattern) - (1 if tail else 0)]


def _in_range(value: float, node: dict[str, Any]) -> bool:
    checks = (
        ("minimum", lambda v, b: v >= b),
        ("maximum", lambda v, b: v <= b),
        ("exclusiveMinimum", lambda v, b: v > b),
        ("exclusiveMaximum", lambda v, b: v < b),
    )
    return all(
        not isinstance(node.get(key), int | float) or isinstance(node.get(key), bool) or ok(value, node[key])
        for key, ok in checks
    )


def _loose(text: str) -> str:
    """Lower case, `_` and `-` as spaces: the form in which an enum value is looked for in the text."""
    return re.sub(r"[_\-]", " ", text.lower())


def _choice(literals: list[str]) -> str:
    """Lark alternation of exact JSON texts, longest first."""
    return "(" + " | ".join(_lark_string(lit) for lit in sorted(literals, key=len, reverse=True)) + ")"


class _Compiler:
    """Schema nodes -> Lark rules; one instance per (schema, text).

    `node` returns None when no value grounded in the text can satisfy a node (a date field and a text
    with no date): an optional property is then left out, a required one or an array item falls back to
    the ungrounded schema. A Lark terminal with an empty language would instead stall llguidance mid-row.
    """

    def __init__(self, text: str, lenient_datetime: bool) -> None:
        self.text = text
        self.loose_text = _loose(text)
        self.lenient_datetime = lenient_datetime
        self.lines: list[str] = []
        self.terminals: dict[str, str] = {}  # body -> name
        self.count = 0
        chunks = text_chunks(text)
        self.lines.append(f"GROUNDED: %regex {json.dumps({'substring_chunks': chunks}, ensure_ascii=False)}")

    def _name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def _rule(self, body: str) -> str:
        name = self._name("r")
        self.lines.append(f"{name}: {body}")
        return name

    def _terminal(self, body: str) -> str:
        if body not in self.terminals:
            name = self._name("T")
            self.terminals[body] = name
            self.lines.append(f"{name}: {body}")
        return self.terminals[body]

    def inline_json(self, node: Any) -> str:
        """llguidance's own JSON compiler for a node (valid against it, not grounded)."""
        schema = {**node, "x-guidance": {"whitespace_flexible": False}} if isinstance(node, dict) else {}
        return self._rule("%json " + json.dumps(schema, ensure_ascii=False))

    def mentions(self, value: str) -> bool:
        """Whether `value` is written in the text as a whole word or phrase, ignoring case and `_`/`-`
        against spaces (an enum value `in_progress` is mentioned by "Status: In Progress")."""
        phrase = _loose(value)
        return bool(phrase) and re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", self.loose_text) is not None

    def node(self, node: Any, *, optional: bool = False) -> str | None:
        """Lark for a schema node; `optional`: the node is the value of an optional property, so an enum
        offers only the values the text mentions (None, i.e. the key is left out, when it mentions none)."""
        if node is True or node == {}:
            return self.inline_json({})
        if not isinstance(node, dict):
            raise ValueError(f"a subschema must be an object, got {node!r}")
        if "const" in node:
            return _lark_string(json.dumps(node["const"], ensure_ascii=False, separators=(",", ":")))
        if "enum" in node and isinstance(node["enum"], list):
            choices = [v for v in node["enum"] if not (optional and isinstance(v, str)) or self.mentions(v)]
            values = [json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in choices]
            return _choice(values) if values else None
        if set(node) - _MODELLED or "type" not in node:
            return self.inline_json(node)
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        parts = [part for part in (self._typed(kind, node) for kind in kinds) if part is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"

    def _typed(self, kind: str, node: dict[str, Any]) -> str | None:
        if kind == "string":
            return self._string(node)
        if kind in ("number", "integer"):
            return self._number(node, integer=kind == "integer")
        if kind == "boolean":
            return '("true" | "false")'
        if kind == "null":
            return '"null"'
        if kind == "array":
            return self._array(node)
        if kind == "object":
            return self._object(node)
        raise ValueError(f"unknown JSON Schema type {kind!r}")

    def _string(self, node: dict[str, Any]) -> str | None:
        low = int(node.get("minLength", 0) or 0)
        high = node.get("maxLength")
        fmt = node.get("format")
        regexes: list[str] = []
        if isinstance(fmt, str):
            if fmt == "date-time" and self.lenient_datetime:
                regexes.append(_unanchored(LENIENT_DATETIME_PATTERN))
            elif fmt in FORMAT_REGEX:
                regexes.append(FORMAT_REGEX[fmt])
            else:
                return self.inline_json(node)  # uri, hostname, ...: llguidance checks the format, ungrounded
        if isinstance(node.get("pattern"), str):
            regexes.append(_unanchored(node["pattern"]))
        if regexes:
            return self._pattern_string(regexes, low, high if isinstance(high, int) else None)
        low = max(low, 1)  # a copied value is never empty (no gold string in EdgeJSON v3 is "")
        if len(self.text) < low:
            return None
        repeat = f"{{{low},{int(high)}}}" if isinstance(high, int) else f"{{{low},}}"
        length = _lark_regex(_JSON_CHAR + repeat)
        return self._terminal(f'"\\"" (GROUNDED & {length} & {_lark_regex(_TRIMMED)}) "\\""')

    def _pattern_string(self, regexes: list[str], low: int, high: int | None) -> str | None:
        """A formatted / patterned string: one of the text's spans that match every regex (found here, in
        Python, so the grammar only offers values that exist; None when there are none)."""
        try:
            compiled = [re.compile(r) for r in regexes]
        except re.error:
            return None
        found: dict[str, None] = {}
        for match in compiled[0].finditer(self.text):
            # a pattern like `[0-9\\s()-]+` also takes the spaces around a phone number: offer it stripped too
            for value in dict.fromkeys((match.group(0), match.group(0).strip())):
                if (
                    value.strip()
                    and compiled[0].fullmatch(value)
                    and all(c.search(value) for c in compiled[1:])
                    and low <= len(value) <= (high if high is not None else len(value))
                ):
                    found.setdefault(json.dumps(value, ensure_ascii=False), None)
        return _choice(list(found)) if found else None

    def _number(self, node: dict[str, Any], *, integer: bool) -> str | None:
        literals = [lit for lit in number_literals(self.text, integer=integer) if _in_range(float(lit), node)]
        return _choice(literals) if literals else None

    def _array(self, node: dict[str, Any]) -> str | None:
        if isinstance(node.get("items"), list) or "prefixItems" in node:
            return self.inline_json(node)
        low = int(node.get("minItems", 0) or 0)
        high = node.get("maxItems")
        if isinstance(high, int) and high <= 0:
            return '"[" "]"'
        item = self.node(node.get("items", {}))
        if item is None:
            if low == 0:
                return '"[" "]"'
            item = self.inline_json(node.get("items", {}))
        more_high = "" if not isinstance(high, int) else str(high - 1)
        if low == 0:
            tail = f'("," {item})' + ("*" if not more_high else f"{{0,{more_high}}}")
            return self._rule(f'"[" ({item} {tail})? "]"')
        tail = f'("," {item})' + f"{{{low - 1},{more_high}}}"
        return self._rule(f'"[" {item} {tail} "]"')

    def _object(self, node: dict[str, Any]) -> str:
        properties = node.get("properties")
        if not isinstance(properties, dict):
            return self.inline_json(node)
        required = set(node.get("required") or [])
        first: str | None = None  # members i..n when nothing was written yet (None: derives only "")
        rest: str | None = None  # members i..n after at least one member (each starts with ",")
        for key in reversed(list(properties)):
            value = self.node(properties[key], optional=key not in required)
            if value is None:
                if key not in required:
                    continue  # nothing in the text can fill it: leave it out
                value = self.inline_json(properties[key])
            member = f"{_lark_string(json.dumps(key, ensure_ascii=False) + ':')} {value}"
            after = f" {rest}" if rest else ""
            seq_first, seq_rest = f"{member}{after}", f'"," {member}{after}'
            if key in required:
                first, rest = self._rule(seq_first), self._rule(seq_rest)
            else:
                first = self._rule(f"({seq_first} | {first})" if first else f"({seq_first})?")
                rest = self._rule(f"({seq_rest} | {rest})" if rest else f"({seq_rest})?")
        return self._rule(f'"{{" {first} "}}"' if first else '"{" "}"')


def _has_ref(node: Any) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or any(_has_ref(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_ref(v) for v in node)
    return False


def grounded_lark(schema: dict[str, Any], text: str, *, lenient_datetime: bool = True) -> str | None:
    """The Lark grammar (llguidance dialect) for `schema` with values grounded in `text`; None when the
    schema uses `$ref` (compile it ungrounded)."""
    if _has_ref(schema):
        return None
    compiler = _Compiler(text, lenient_datetime)
    root = compiler.node(schema)
    if root is None:
        root = compiler.inline_json(schema)
    return "\n".join([f"start: {root}", *compiler.lines]) + "\n"
