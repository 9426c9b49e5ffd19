"""Records from a JSON Schema: the label comes first, so it is right by construction.

`RecordGenerator(schema).generate_valid(rng)` walks the schema (types, enum/const, formats, numeric
bounds, multipleOf, string lengths, simple patterns, arrays, nested objects, required vs optional,
anyOf/oneOf, local `$ref`) and fills every leaf with a value that fits the field's meaning (see
`maaza.data.semantics`). Each record is validated with `maaza.tasks.edgejson.metrics.schema_valid`; an invalid
one is regenerated up to `max_regenerate` times before the caller counts a reject.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import math
import random
import re
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from maaza.data import vocab
from maaza.data.patterns import UnsupportedPattern, sample_pattern
from maaza.data.semantics import FieldContext, ValueMaker, classify_string, number_spec, numeric_hint, tokens
from maaza.errors import MaazaError
from maaza.schemas import schema_valid

FORMAT_KINDS = ("email", "idn-email", "date", "date-time", "time", "uuid", "uri", "url", "iri", "uri-reference",
                "iri-reference", "ipv4", "ipv6", "hostname", "idn-hostname", "duration", "regex", "json-pointer")

# Free-form objects (no `properties`, extra keys allowed): plausible keys by the object's own key.
# Each key comes with the JSON type its value gets.
_FREE_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "reading": (("temperature", "number"), ("humidity", "number"), ("co2_ppm", "integer"),
                ("pressure_hpa", "number"), ("lux", "integer")),
    "threshold": (("max_temperature", "number"), ("min_humidity", "number"), ("battery_low_percent", "integer")),
    "parameter": (("brightness", "integer"), ("target_temperature", "number"), ("duration_seconds", "integer"),
                  ("mode", "string")),
    "detail": (("card_brand", "string"), ("last4", "string"), ("wallet", "string"), ("reference", "string")),
    "data": (("user_id", "string"), ("name", "string"), ("email", "string"), ("created_at", "string")),
    "field": (("cost_center", "string"), ("project_code", "string"), ("region", "string"), ("owner", "string")),
    "metadata": (("source", "string"), ("version", "string"), ("owner", "string")),
}
_FREE_DEFAULT = (("note", "string"), ("reference", "string"), ("owner", "string"), ("region", "string"),
                 ("mode", "string"), ("level", "string"))


class SchemaNotSupported(ValueError):
    """The schema uses something the generator cannot produce (a remote `$ref`, a `$ref` loop...)."""


@dataclass(frozen=True)
class RecordOptions:
    """Knobs of record generation (all have defaults matching EdgeJSON-sized records)."""

    optional_prob: float = 0.7  # chance an optional property is present
    min_items: int = 1  # default array length range when the schema does not bound it
    max_items: int = 4
    max_depth: int = 10  # beyond this depth only required properties are generated
    leaf_budget: int = 90  # once a record has this many leaves, optional parts are skipped
    datetime_tz: bool = False  # date-time values with a UTC offset (EdgeJSON gold has none)
    max_regenerate: int = 5  # tries per record before it counts as a reject
    locale: str = "en_US"


@functools.lru_cache(maxsize=8)
def faker_for(locale: str) -> Any:
    """One Faker per locale and process (creating one is slow; it is re-seeded per record)."""
    try:
        from faker import Faker
    except ImportError:
        raise MaazaError("the data engine needs Faker: pip install faker") from None
    try:
        return Faker(locale)
    except AttributeError:
        raise MaazaError(f"unknown Faker locale '{locale}'") from None


@functools.lru_cache(maxsize=1)
def _time_needs_offset() -> bool:
    """Whether `format: time` values must carry an offset for our validator (draft-07 says yes)."""
    return not schema_valid("10:00:00", {"type": "string", "format": "time"})[0]


def leaf_count(value: Any) -> int:
    if isinstance(value, dict):
        return sum(leaf_count(v) for v in value.values()) if value else 1
    if isinstance(value, list):
        return sum(leaf_count(v) for v in value) if value else 1
    return 1


class RecordGenerator:
    """Generate schema-valid, realistic records for one schema."""

    def __init__(self, schema: dict[str, Any], options: RecordOptions | None = None, *, fake: Any = None) -> None:
        self.schema = schema
        self.options = options or RecordOptions()
        self.maker = ValueMaker(fake if fake is not None else faker_for(self.options.locale),
                                datetime_tz=self.options.datetime_tz)
        self.rng = random.Random(0)
        self._leaves = 0

    # ------------------------------------------------------------------------------ public API

    def generate(self, rng: random.Random) -> Any:
        """One record (not yet validated) drawn with `rng`."""
        self.rng = rng
        self.maker.reseed(rng)
        self._leaves = 0
        return self._value(self.schema, FieldContext(), 0, 0)

    def generate_valid(self, rng: random.Random) -> tuple[Any, str | None]:
        """(record, None) for the first valid record within `max_regenerate` tries, else (None, last error)."""
        error: str | None = None
        for _ in range(max(1, self.options.max_regenerate)):
            record = self.generate(rng)
            ok, error = schema_valid(record, self.schema, lenient_datetime=True)
            if ok:
                return record, None
        return None, error

    # ------------------------------------------------------------------------------ walking

    def _resolve(self, node: Any) -> Any:
        hops = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise SchemaNotSupported(f"only local $ref is supported, got {ref!r}")
            target: Any = self.schema
            for part in [p for p in ref[1:].split("/") if p]:
                part = unquote(part).replace("~1", "/").replace("~0", "~")
                try:
                    target = target[int(part)] if isinstance(target, list) else target[part]
                except (KeyError, IndexError, ValueError, TypeError):
                    raise SchemaNotSupported(f"$ref {ref!r} does not resolve") from None
            extra = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **extra} if extra and isinstance(target, dict) else target
            hops += 1
            if hops > 50:
                raise SchemaNotSupported(f"$ref loop at {ref!r}")
        if isinstance(node, dict) and "allOf" in node:
            node = _merge_all_of(node, self._resolve)
        return node

    def _value(self, node: Any, ctx: FieldContext, depth: int, array_level: int) -> Any:
        if depth > self.options.max_depth + 20:
            raise SchemaNotSupported("schema nests too deep (a required recursive $ref?)")
        node = self._resolve(node)
        if node is True or not isinstance(node, dict):
            node = {}
        if "const" in node:
            self._leaves += 1
            return copy.deepcopy(node["const"])
        if node.get("enum"):
            options = [v for v in node["enum"] if v is not None] or list(node["enum"])
            self._leaves += 1
            return copy.deepcopy(self.rng.choice(options))
        for key in ("oneOf", "anyOf"):
            if isinstance(node.get(key), list) and node[key]:
                choices = [self._resolve(o) for o in node[key]]
                non_null = [o for o in choices if not (isinstance(o, dict) and o.get("type") == "null")]
                picked = self.rng.choice(non_null or choices)
                merged = {k: v for k, v in node.items() if k != key}
                if isinstance(picked, dict):
                    merged.update(picked)
                return self._value(merged, ctx, depth, array_level)
        kind = self._pick_type(node, ctx)
        if kind == "object":
            return self._object(node, ctx, depth, array_level)
        if kind == "array":
            return self._array(node, ctx, depth, array_level)
        self._leaves += 1
        if kind == "string":
            return self._string(node, ctx)
        if kind in ("integer", "number"):
            return self._number(node, ctx, kind == "integer")
        if kind == "boolean":
            return self.rng.random() < 0.5
        return None

    def _pick_type(self, node: dict[str, Any], ctx: FieldContext) -> str:
        declared = node.get("type")
        if isinstance(declared, str):
            return declared
        if isinstance(declared, list) and declared:
            non_null = [t for t in declared if t != "null"]
            return self.rng.choice(non_null) if non_null else "null"
        if "properties" in node or "additionalProperties" in node or "required" in node:
            return "object"
        if "items" in node or "minItems" in node or "prefixItems" in node:
            return "array"
        if any(k in node for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
            return "number"
        if any(k in node for k in ("format", "pattern", "minLength", "maxLength")):
            return "string"
        return "number" if numeric_hint(ctx) else "string"

    # ------------------------------------------------------------------------------ objects

    def _object(self, node: dict[str, Any], ctx: FieldContext, depth: int, array_level: int) -> dict[str, Any]:
        props: dict[str, Any] = node.get("properties") or {}
        required = [k for k in node.get("required", []) if isinstance(k, str)]
        siblings = frozenset(props) | frozenset(required)
        out: dict[str, Any] = {}
        opts = self.options
        lean = depth >= opts.max_depth or self._leaves >= opts.leaf_budget
        for key, sub in props.items():
            if key not in required and (lean or self.rng.random() >= opts.optional_prob):
                continue
            self._put(out, key, sub, ctx, siblings, depth, array_level, key in required)
            lean = depth >= opts.max_depth or self._leaves >= opts.leaf_budget
        for key in required:
            if key not in out and key not in props:
                out[key] = self._value(self._extra_schema(node), FieldContext(key, ctx.key, siblings), depth + 1,
                                       array_level)
        min_props = int(node.get("minProperties", 1 if props else 0))
        optional = [k for k in props if k not in out]
        self.rng.shuffle(optional)
        while len(out) < min_props and optional:
            key = optional.pop()
            self._put(out, key, props[key], ctx, siblings, depth, array_level, False)
        if not props and node.get("additionalProperties", True) is not False and not node.get("patternProperties"):
            self._free_keys(out, node, ctx, depth, array_level, max(min_props, 1))
        if out:
            self._cohere(out, props)
        return {key: out[key] for key in [*props, *[k for k in out if k not in props]] if key in out}

    def _put(self, out: dict[str, Any], key: str, sub: Any, ctx: FieldContext, siblings: frozenset[str],
             depth: int, array_level: int, must: bool) -> None:
        resolved = self._resolve(sub)
        description = resolved.get("description", "") if isinstance(resolved, dict) else ""
        child = FieldContext(key, ctx.key, siblings, str(description))
        value = self._value(resolved, child, depth + 1, array_level)
        if value is None and not must:
            return
        if value == {} and not must:
            return
        out[key] = value

    def _extra_schema(self, node: dict[str, Any]) -> Any:
        extra = node.get("additionalProperties", True)
        return extra if isinstance(extra, dict) else {}

    def _free_keys(self, out: dict[str, Any], node: dict[str, Any], ctx: FieldContext, depth: int,
                   array_level: int, at_least: int) -> None:
        """Fill an object that has no declared properties with a few plausible keys."""
        toks = tokens(ctx.key)
        bank = next((keys for word, keys in _FREE_KEYS.items() if word in toks), _FREE_DEFAULT)
        count = min(len(bank), max(at_least, self.rng.randint(1, 3)))
        picked = self.rng.sample(list(bank), count)
        siblings = frozenset(key for key, _ in picked)
        extra = self._extra_schema(node)
        for key, kind in picked:
            sub = extra if extra else {"type": kind}
            out[key] = self._value(sub, FieldContext(key, ctx.key, siblings), depth + 1, array_level)

    def _cohere(self, out: dict[str, Any], props: dict[str, Any]) -> None:
        """Make related free-text fields agree: e-mail from the person's name, lab units, date order."""

        def free(key: str) -> bool:
            node = self._resolve(props.get(key, {}))
            return isinstance(node, dict) and not ({"enum", "const", "pattern", "maxLength"} & node.keys())

        for key in list(out):
            if classify_string(FieldContext(key)) != "email" or not isinstance(out[key], str) or not free(key):
                continue
            stem = key[: -len("email")] if key.endswith("email") else None
            if stem is None:
                continue
            name = out.get(stem + "name") or out.get(stem + "full_name")
            if isinstance(name, str) and " " in name and not name.startswith("Dr."):
                out[key] = self.maker.email(name)
        if isinstance(out.get("parameter"), str) and free("parameter"):
            match = [p for p in vocab.LAB_PARAMETERS if p[0] == out["parameter"]]
            if match:
                for index, key in ((1, "unit"), (2, "reference_range")):
                    if isinstance(out.get(key), str) and free(key):
                        out[key] = match[0][index]
        for code_key, name_key, table in (("icd10_code", "diagnosis_name", vocab.DIAGNOSES),
                                          ("test_type", "test_name", vocab.LAB_TESTS)):
            if isinstance(out.get(code_key), str) and isinstance(out.get(name_key), str) and free(name_key):
                match = [row for row in table if row[0] == out[code_key]]
                if match:
                    out[name_key] = match[0][1]
        for first, second in _ORDERED_PAIRS:
            a, b = out.get(first), out.get(second)
            if isinstance(a, str) and isinstance(b, str) and len(a) == len(b) and a > b and free(first) and free(second):
                out[first], out[second] = b, a

    # ------------------------------------------------------------------------------ arrays

    def _array(self, node: dict[str, Any], ctx: FieldContext, depth: int, array_level: int) -> list[Any]:
        opts = self.options
        low = int(node.get("minItems", 0))
        high = node.get("maxItems")
        positional = node.get("prefixItems") if isinstance(node.get("prefixItems"), list) else None
        if positional is None and isinstance(node.get("items"), list):
            positional = node["items"]
        default_high = opts.max_items if array_level == 0 else max(1, min(opts.max_items, 4 - array_level))
        want_low = max(low, min(opts.min_items, high if high is not None else opts.min_items))
        want_high = max(want_low, min(int(high) if high is not None else default_high, default_high))
        lean = depth >= opts.max_depth or self._leaves >= opts.leaf_budget
        count = want_low if lean else self.rng.randint(want_low, want_high)
        items: list[Any] = []
        seen: set[str] = set()
        unique = bool(node.get("uniqueItems"))
        for index in range(count):
            if positional is not None:
                if index < len(positional):
                    schema_item = positional[index]
                else:
                    extra = node.get("items") if "prefixItems" in node else node.get("additionalItems", {})
                    if extra is False:
                        break
                    schema_item = extra if isinstance(extra, dict) else {}
            else:
                schema_item = node.get("items", {})
            child = FieldContext(ctx.key, ctx.parent, ctx.siblings, ctx.description)
            value = self._value(schema_item, child, depth + 1, array_level + 1)
            for _ in range(6):
                marker = json.dumps(value, sort_keys=True)
                if marker not in seen:
                    break
                value = self._value(schema_item, child, depth + 1, array_level + 1)
            marker = json.dumps(value, sort_keys=True)
            if marker in seen and (unique or not isinstance(value, dict | list)) and len(items) >= want_low:
                continue  # a repeated scalar (tags, e-mails) reads oddly; drop it when the length allows
            seen.add(marker)
            items.append(value)
        return items

    # ------------------------------------------------------------------------------ scalars

    def _string(self, node: dict[str, Any], ctx: FieldContext) -> str:
        fmt = node.get("format")
        pattern = node.get("pattern")
        low = int(node.get("minLength", 0))
        high = node.get("maxLength")
        value = ""
        for _ in range(4):
            value = self._format_value(fmt, ctx) if fmt in FORMAT_KINDS else self.maker.string(ctx)
            if isinstance(pattern, str) and not _search(pattern, value):
                # An unsupported pattern keeps the semantic value; validation decides and the record is regenerated.
                with contextlib.suppress(UnsupportedPattern):
                    value = sample_pattern(pattern, self.rng)
            if len(value) >= low and (high is None or len(value) <= int(high)):
                return value
        return self._fit_length(value, low, None if high is None else int(high))

    def _fit_length(self, value: str, low: int, high: int | None) -> str:
        if high is not None and len(value) > high:
            value = value[:high].rstrip() if high > 0 else ""
        while len(value) < low:
            value += self.rng.choice(string.ascii_lowercase + string.digits)
        return value

    def _format_value(self, fmt: str, ctx: FieldContext) -> str:
        maker = self.maker
        if fmt in ("email", "idn-email"):
            return maker.email()
        if fmt == "date":
            return maker.date(ctx)
        if fmt == "date-time":
            return maker.datetime(ctx)
        if fmt == "time":
            return maker.clock() + ("Z" if _time_needs_offset() else "")
        if fmt == "uuid":
            return maker.uuid()
        if fmt in ("uri", "url", "iri", "uri-reference", "iri-reference"):
            return maker.url()
        if fmt == "ipv4":
            return maker.ipv4()
        if fmt == "ipv6":
            return str(maker.fake.ipv6())
        if fmt in ("hostname", "idn-hostname"):
            return maker.hostname()
        if fmt == "duration":
            return self.rng.choice(("P3D", "PT2H30M", "P1W", "PT45M", "P1M", "PT90S"))
        if fmt == "regex":
            return self.rng.choice(("^[a-z]+$", "\\d{3}-\\d{4}", "^ORD-[0-9]+$"))
        if fmt == "json-pointer":
            return self.rng.choice(("/items/0", "/user/name", "/data"))
        return maker.string(ctx)

    def _number(self, node: dict[str, Any], ctx: FieldContext, integer: bool) -> int | float:
        spec = number_spec(ctx, integer)
        low, high, low_open, high_open = _bounds(node)
        decimals = 0 if integer else spec.decimals
        a, b = spec.low, spec.high
        if low is not None:
            a = max(a, low)
        if high is not None:
            b = min(b, high)
        if a > b:
            if low is not None and high is not None:
                a, b = low, high
            elif low is not None:
                a, b = low, low + max(10.0, abs(low))
            else:
                assert high is not None
                a, b = high - max(10.0, abs(high)), high

        def fits(v: float) -> bool:
            if low is not None and (v < low or (low_open and v == low)):
                return False
            return not (high is not None and (v > high or (high_open and v == high)))

        multiple = node.get("multipleOf")
        value: float = a
        for _ in range(12):
            if isinstance(multiple, int | float) and multiple > 0:
                k = self.rng.randint(math.ceil(a / multiple), max(math.ceil(a / multiple), math.floor(b / multiple)))
                places = _decimal_places(multiple)
                value = round(k * multiple, places) if places else k * multiple
            elif spec.choices and any(a <= c <= b for c in spec.choices):
                value = self.rng.choice([c for c in spec.choices if a <= c <= b])
            elif decimals == 0:
                lo_i, hi_i = math.ceil(a), math.floor(b)
                value = self.rng.randint(lo_i, hi_i) if lo_i <= hi_i else lo_i
            else:
                value = round(self.rng.uniform(a, b), decimals)
                if spec.money and decimals == 2 and round(value * 100) % 10 == 0 and fits(value + 0.01):
                    value = round(value + 0.01, 2)
                if "e" in repr(float(value)):
                    value = round(value, 2)
            if fits(value):
                break
        if integer or (decimals == 0 and float(value).is_integer()):
            return int(value)
        return float(value)


_ORDERED_PAIRS = (("start_date", "end_date"), ("created_at", "updated_at"), ("invoice_date", "due_date"),
                  ("initiation_timestamp", "completion_timestamp"), ("start_time", "end_time"),
                  ("check_in", "check_out"), ("valid_from", "valid_until"))


def _search(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True  # an invalid pattern: let schema validation report it


def _decimal_places(number: float) -> int:
    text = repr(float(number))
    if "e" in text:
        mantissa, exponent = text.split("e")
        places = len(mantissa.split(".")[1].rstrip("0")) if "." in mantissa else 0
        return max(0, places - int(exponent))
    return len(text.split(".")[1].rstrip("0"))


def _bounds(node: dict[str, Any]) -> tuple[float | None, float | None, bool, bool]:
    """(low, high, low_exclusive, high_exclusive) from draft-04 (boolean) or draft-06+ (numeric) keywords."""
    low = node.get("minimum")
    high = node.get("maximum")
    low_open = high_open = False
    ex_min, ex_max = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    if isinstance(ex_min, bool):
        low_open = ex_min
    elif isinstance(ex_min, int | float) and (low is None or ex_min >= low):
        low, low_open = ex_min, True
    if isinstance(ex_max, bool):
        high_open = ex_max
    elif isinstance(ex_max, int | float) and (high is None or ex_max <= high):
        high, high_open = ex_max, True
    return (None if low is None else float(low), None if high is None else float(high), low_open, high_open)


def _merge_all_of(node: dict[str, Any], resolve: Any) -> dict[str, Any]:
    """A shallow merge of `allOf` parts (properties and required are unioned); validation checks the rest."""
    merged = {k: v for k, v in node.items() if k != "allOf"}
    for part in node["allOf"]:
        part = resolve(part)
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged
