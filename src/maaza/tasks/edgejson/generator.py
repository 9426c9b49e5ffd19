"""EdgeJSON as a data-engine task: schemas -> records -> rendered prompts -> validated rows.

Rows are the EdgeJSON format plus provenance: `{id, schema_id, complexity, prompt, expected_output,
style, teacher}`. Any folder of JSON Schemas works: `complexity` is the schema's parent folder name
when nested (`schemas/simple/x.json`), else "unknown".
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import Draft7Validator, validator_for

from maaza.data.engine import Sample, Spec, TaskModule
from maaza.data.realistic import render_any
from maaza.data.records import RecordGenerator, RecordOptions, SchemaNotSupported
from maaza.data.render import DEFAULT_WEIGHTS, pick_style, schema_title
from maaza.data.validate import DedupeValidator, ExclusionValidator, GroundingValidator
from maaza.errors import MaazaError, location
from maaza.io import iter_jsonl, read_json

TEXT_FIELDS = ("prompt", "text", "question", "input", "utterance")


def load_specs(folder: str | Path) -> list[Spec]:
    """One spec per `*.json` under the folder (any depth), sorted by path; a bad file is an error naming it."""
    root = Path(folder)
    if not root.is_dir():
        raise MaazaError(f"schema folder not found: {root}")
    specs: list[Spec] = []
    seen: dict[str, Path] = {}
    for path in sorted(root.rglob("*.json")):
        schema = read_json(path, what="schema")
        if not isinstance(schema, dict):
            raise MaazaError(f"{path}: a JSON Schema must be an object, got {type(schema).__name__}")
        try:
            validator_for(schema, default=Draft7Validator).check_schema(schema)
        except SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "root"
            raise MaazaError(f"{path}: not a valid JSON Schema ({where}): {exc.message}") from None
        kind = schema.get("type")
        if kind not in (None, "object") and not (isinstance(kind, list) and "object" in kind):
            raise MaazaError(f"{path}: EdgeJSON extracts objects, but the schema's root type is {kind!r}")
        if path.stem in seen:
            raise MaazaError(f"{path}: duplicate schema id '{path.stem}' (also {seen[path.stem]})")
        seen[path.stem] = path
        complexity = path.parent.name if path.parent != root else "unknown"
        specs.append(Spec(path.stem, complexity, schema, schema_title(schema, path.stem), str(path)))
    if not specs:
        raise MaazaError(f"no schema files (*.json) under {root}")
    return specs


def load_exclusion_texts(paths: Sequence[str | Path]) -> list[str]:
    """Texts to keep out of generated data: the first of prompt/text/question/input of each JSONL row."""
    texts: list[str] = []
    for path in paths:
        for number, row in iter_jsonl(path):
            field = next((name for name in TEXT_FIELDS if isinstance(row.get(name), str)), None)
            if field is None:
                raise MaazaError(f"{location(path, number)}: no text field ({', '.join(TEXT_FIELDS)}) to exclude")
            texts.append(row[field])
    return texts


class SchemaRecordSource:
    """Records for each schema (generator per schema, built and probed once)."""

    def __init__(self, specs: Sequence[Spec], options: RecordOptions) -> None:
        self.generators: dict[str, RecordGenerator] = {}
        for spec in specs:
            generator = RecordGenerator(spec.payload, options)
            try:
                generator.generate(random.Random(0))
            except SchemaNotSupported as exc:
                raise MaazaError(f"{spec.source or spec.id}: {exc}") from None
            except RecursionError:
                raise MaazaError(f"{spec.source or spec.id}: schema recursion too deep to generate from") from None
            self.generators[spec.id] = generator

    def make(self, spec: Spec, rng: random.Random) -> tuple[Any, str | None]:
        record, error = self.generators[spec.id].generate_valid(rng)
        if error is not None:
            return None, "record_invalid"
        if not isinstance(record, dict) or not record:
            return None, "record_empty"
        return record, None


class StyleRenderer:
    """Picks a style with the configured weights, then renders the record in it."""

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        self.weights = dict(weights or DEFAULT_WEIGHTS)

    def render(self, spec: Spec, record: Any, rng: random.Random) -> tuple[str, str]:
        style = pick_style(rng, self.weights)
        return style, render_any(record, spec.payload, style, rng, title=spec.title)


def to_row(sample: Sample, teacher: str) -> dict[str, Any]:
    return {
        "id": f"maaza_{sample.spec.id}_{sample.slot:06d}",
        "schema_id": sample.spec.id,
        "complexity": sample.spec.group,
        "prompt": sample.text,
        "expected_output": sample.record,
        "style": sample.style,
        "teacher": teacher,
    }


def build_task(
    schemas: str | Path,
    *,
    options: RecordOptions | None = None,
    weights: dict[str, float] | None = None,
    exclude_texts: Sequence[str] = (),
    dedupe_threshold: float = 0.9,
) -> TaskModule:
    """The EdgeJSON task module for a schema folder."""
    specs = load_specs(schemas)
    options = options or RecordOptions()
    validators: list[Any] = [GroundingValidator()]
    if exclude_texts:
        validators.append(ExclusionValidator(exclude_texts, dedupe_threshold))
    validators.append(DedupeValidator(dedupe_threshold))
    renderer = StyleRenderer(weights)
    return TaskModule(
        name="edgejson",
        specs=specs,
        source=SchemaRecordSource(specs, options),
        renderer=renderer,
        validators=validators,
        to_row=to_row,
        spec_field="schema",
        group_field="complexity",
        config={"schemas": str(schemas), "schema_count": len(specs), "record_options": asdict(options),
                "style_weights": renderer.weights, "dedupe_threshold": dedupe_threshold,
                "excluded_texts": len(exclude_texts)},
    )
