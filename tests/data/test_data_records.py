"""Records from schemas (maaza.data.records): validity, constraints, key-name realism, patterns."""

from __future__ import annotations

import ipaddress
import json
import random
import re
import uuid
from typing import Any

import pytest
from data_helpers import NESTED_SCHEMA, shipped_schema_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maaza.data import vocab
from maaza.data.patterns import UnsupportedPattern, sample_pattern
from maaza.data.records import RecordGenerator, RecordOptions, SchemaNotSupported
from maaza.schemas import load_schema_folder, schema_valid


def _records(schema: dict[str, Any], count: int, options: RecordOptions | None = None) -> list[Any]:
    generator = RecordGenerator(schema, options)
    out = []
    for seed in range(count):
        record, error = generator.generate_valid(random.Random(f"t:{seed}"))
        assert error is None, f"seed {seed}: {error}"
        out.append(record)
    return out


def _field(key: str, node: dict[str, Any], count: int = 30, **options: Any) -> list[Any]:
    schema = {"type": "object", "properties": {key: node}, "required": [key]}
    return [r[key] for r in _records(schema, count, RecordOptions(**options) if options else None)]


# ---------------------------------------------------------------------------------- shipped schemas


def test_every_shipped_schema_gives_valid_records() -> None:
    schemas = load_schema_folder(shipped_schema_dir())
    assert len(schemas) >= 20
    for schema_id, schema in schemas.items():
        generator = RecordGenerator(schema)
        for seed in range(20):
            record, error = generator.generate_valid(random.Random(f"{schema_id}:{seed}"))
            assert error is None, f"{schema_id} seed {seed}: {error}"
            ok, why = schema_valid(record, schema, lenient_datetime=True)
            assert ok, f"{schema_id}: {why}"


def test_generation_is_deterministic_per_seed() -> None:
    first = _records(NESTED_SCHEMA, 5)
    second = _records(NESTED_SCHEMA, 5)
    assert json.dumps(first) == json.dumps(second)
    other = RecordGenerator(NESTED_SCHEMA).generate_valid(random.Random("another"))[0]
    assert other != first[0]


# ---------------------------------------------------------------------------------- hypothesis schemas

KEYS = ("name", "email", "price", "quantity", "city", "status", "notes", "tags", "created_at", "sku",
        "order_id", "latitude", "phone", "title", "amount", "count", "url", "zip_code", "country", "level")
PATTERNS = (r"^[A-Z]{3}-\d{4}$", r"^\d{5}(-\d{4})?$", r"^[a-z]+_[a-z]+$", r"^(red|green|blue)$",
            r"^#[0-9a-fA-F]{6}$", r"^[+]?[0-9\-\s()]+$")
FORMATS = ("email", "date", "date-time", "time", "uuid", "uri", "ipv4", "hostname")

key_names = st.one_of(st.sampled_from(KEYS), st.from_regex(r"[a-z][a-z_]{0,9}", fullmatch=True))


def _string_schema() -> st.SearchStrategy[dict[str, Any]]:
    lengths = st.tuples(st.integers(0, 5), st.integers(0, 30)).map(
        lambda t: {"type": "string", "minLength": t[0], "maxLength": t[0] + t[1]})
    return st.one_of(
        st.just({"type": "string"}),
        st.sampled_from(FORMATS).map(lambda f: {"type": "string", "format": f}),
        st.sampled_from(PATTERNS).map(lambda p: {"type": "string", "pattern": p}),
        lengths,
    )


def _number_schema() -> st.SearchStrategy[dict[str, Any]]:
    def build(t: tuple[str, int, int, bool, int | None]) -> dict[str, Any]:
        kind, low, span, exclusive, multiple = t
        node: dict[str, Any] = {"type": kind, "minimum": low, "maximum": low + span}
        if exclusive:
            node["exclusiveMaximum"] = node.pop("maximum")
        if multiple:
            node["multipleOf"] = multiple if kind == "integer" else multiple / 4
        return node

    return st.tuples(st.sampled_from(("integer", "number")), st.integers(-500, 500), st.integers(20, 2000),
                     st.booleans(), st.sampled_from((None, None, 1, 2, 5))).map(build)


scalar_schemas = st.one_of(
    _string_schema(),
    _number_schema(),
    st.just({"type": "boolean"}),
    st.lists(st.text("abcdefgh", min_size=1, max_size=6), min_size=1, max_size=4, unique=True).map(
        lambda values: {"type": "string", "enum": values}),
    st.sampled_from(({"const": "v1"}, {"type": ["string", "null"]}, {"enum": [1, 2, 3]})),
    st.tuples(_string_schema(), _number_schema()).map(lambda t: {"anyOf": list(t)}),
)


def _object(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    def build(pairs: dict[str, dict[str, Any]], required_mask: list[bool]) -> dict[str, Any]:
        keys = list(pairs)
        required = [k for k, flag in zip(keys, required_mask, strict=False) if flag]
        return {"type": "object", "properties": pairs, "required": required, "additionalProperties": False}

    return st.builds(build, st.dictionaries(key_names, children, min_size=1, max_size=4),
                     st.lists(st.booleans(), min_size=4, max_size=4))


def _array(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    def build(items: dict[str, Any], low: int, extra: int | None) -> dict[str, Any]:
        node: dict[str, Any] = {"type": "array", "items": items, "minItems": low}
        if extra is not None:
            node["maxItems"] = low + extra
        return node

    return st.builds(build, children, st.integers(0, 2), st.one_of(st.none(), st.integers(0, 3)))


schema_nodes = st.recursive(scalar_schemas, lambda children: st.one_of(_object(children), _array(children)),
                            max_leaves=10)
object_schemas = _object(schema_nodes).map(lambda s: {"$schema": "http://json-schema.org/draft-07/schema#", **s})


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(object_schemas)
def test_hypothesis_schemas_give_valid_records(schema: dict[str, Any]) -> None:
    generator = RecordGenerator(schema)
    for seed in range(4):
        record, error = generator.generate_valid(random.Random(seed))
        assert error is None, f"{json.dumps(schema)} -> {error}"
        assert schema_valid(record, schema)[0]


# ---------------------------------------------------------------------------------- key-name realism


def test_email_phone_and_contact_realism() -> None:
    for value in _field("customer_email", {"type": "string"}):
        assert re.fullmatch(r"[^@\s]+@[a-z0-9.-]+\.[a-z]{2,}", value), value
    for value in _field("phone", {"type": "string", "pattern": r"^[+]?[0-9\-\s()]+$"}):
        assert re.fullmatch(r"[+]?[0-9\-\s()]+", value) and sum(c.isdigit() for c in value) >= 7
    names = _field("name", {"type": "string"})
    assert all(len(n.split()) >= 2 and n[0].isupper() for n in names)


def test_price_is_money_and_quantity_small() -> None:
    for value in _field("price", {"type": "number", "minimum": 0}):
        assert isinstance(value, float) and value >= 0
        assert len(json.dumps(value).split(".")[1]) <= 2
    assert all(isinstance(q, int) and 1 <= q <= 10 for q in _field("quantity", {"type": "integer", "minimum": 1}))
    for value in _field("currency", {"type": "string", "minLength": 3, "maxLength": 3}):
        assert value in vocab.CURRENCIES


def test_network_name_is_not_a_person_and_building_reads_like_one() -> None:
    person_words = set(vocab.FIRST_NAMES)
    for value in _field("network_name", {"type": "string"}):
        assert any(value.startswith(base) for base in vocab.WIFI_BASES), value
        assert not set(value.split()) & person_words
    assert all(v in vocab.BUILDINGS for v in _field("building", {"type": "string"}))


def test_ids_dates_geo_and_words() -> None:
    for value in _field("order_id", {"type": "string"}):
        assert re.search(r"\d", value) and " " not in value, value
    for value in _field("created_at", {"type": "string", "format": "date-time"}):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?", value), value
    with_tz = _field("created_at", {"type": "string", "format": "date-time"}, datetime_tz=True)
    assert all(re.search(r"(Z|[+-]\d{2}:\d{2})$", v) for v in with_tz)
    for value in _field("latitude", {"type": "number", "minimum": -90, "maximum": 90}):
        assert -90 <= value <= 90 and len(json.dumps(value).split(".")[-1]) <= 6
    tags = _field("tags", {"type": "array", "items": {"type": "string"}})
    assert all(1 <= len(t) <= 4 and set(t) <= set(vocab.TAG_WORDS) for t in tags)
    assert all(z.isdigit() and len(z) == 5 for z in _field("zip_code", {"type": "string"}))
    assert all(" " in d and d.endswith(".") for d in _field("description", {"type": "string"}))


def test_formats_are_well_formed() -> None:
    props = {fmt: {"type": "string", "format": fmt} for fmt in FORMATS}
    schema = {"type": "object", "properties": props, "required": list(props)}
    for record in _records(schema, 15):
        uuid.UUID(record["uuid"])
        ipaddress.IPv4Address(record["ipv4"])
        assert record["uri"].startswith(("http://", "https://"))
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["date"])
        assert "T" in record["date-time"] and "+" not in record["date-time"]
        assert re.match(r"\d{2}:\d{2}:\d{2}", record["time"])


# ---------------------------------------------------------------------------------- constraints


def test_numeric_and_string_constraints() -> None:
    props = {
        "a": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "b": {"type": "integer", "minimum": 7, "maximum": 7},
        "c": {"type": "number", "multipleOf": 0.25, "minimum": 1, "maximum": 3},
        "d": {"type": "integer", "multipleOf": 5, "minimum": 12},
        "code": {"type": "string", "minLength": 4, "maxLength": 4},
        "e": {"type": "number", "minimum": 1000, "maximum": 1000.5},
    }
    schema = {"type": "object", "properties": props, "required": list(props)}
    for record in _records(schema, 25):
        assert 0 < record["a"] < 1 and record["b"] == 7 and record["d"] % 5 == 0 and record["d"] >= 12
        assert (record["c"] * 4).is_integer() and len(record["code"]) == 4 and 1000 <= record["e"] <= 1000.5


def test_refs_alternatives_const_nullable_and_optional_rate() -> None:
    schema = {
        "type": "object",
        "definitions": {"money": {"type": "number", "minimum": 0}},
        "$defs": {"addr": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        "properties": {
            "total": {"$ref": "#/definitions/money"},
            "address": {"$ref": "#/$defs/addr"},
            "kind": {"const": "invoice"},
            "channel": {"oneOf": [{"type": "string", "enum": ["web", "app"]}, {"type": "integer", "minimum": 1}]},
            "maybe": {"type": ["string", "null"]},
            "optional": {"type": "string"},
        },
        "required": ["total", "address", "kind", "channel", "maybe"],
    }
    records = _records(schema, 200)
    assert all(r["kind"] == "invoice" and isinstance(r["address"]["city"], str) for r in records)
    assert all(isinstance(r["maybe"], str) for r in records)
    rate = sum("optional" in r for r in records) / len(records)
    assert 0.6 < rate < 0.8


def test_array_lengths_follow_bounds_and_defaults() -> None:
    lengths = [len(v) for v in _field("items", {"type": "array", "items": {"type": "integer"}}, 60)]
    assert min(lengths) >= 1 and max(lengths) <= 4 and len(set(lengths)) > 1
    bounded = _field("items", {"type": "array", "items": {"type": "integer"}, "minItems": 5, "maxItems": 6}, 10)
    assert all(5 <= len(v) <= 6 for v in bounded)


def test_remote_ref_is_not_supported() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}, "required": ["a"]}
    with pytest.raises(SchemaNotSupported):
        RecordGenerator(schema).generate(random.Random(0))


# ---------------------------------------------------------------------------------- patterns


@pytest.mark.parametrize("pattern", [*PATTERNS, r"^INV-(19|20)\d{2}-[0-9]{4}$", r"(ab)+\1", r"^[^\s@]+@[^\s@]+$"])
def test_sample_pattern_matches(pattern: str) -> None:
    rng = random.Random(1)
    for _ in range(20):
        assert re.search(pattern, sample_pattern(pattern, rng)), pattern


def test_unsupported_pattern_raises() -> None:
    with pytest.raises(UnsupportedPattern):
        sample_pattern(r"^(?=.*\d)[a-z\d]{8}$", random.Random(0))
