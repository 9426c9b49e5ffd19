"""`maaza data generate` end to end: outputs, stats, determinism, exclusion and user errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from data_helpers import NESTED_SCHEMA, cli, shipped_schema_dir, shipped_test_file, write_schemas

from maaza.data.engine import Sample, Spec, run_generation, split_samples
from maaza.data.teachers import TemplateTeacher
from maaza.data.validate import ungrounded_leaves
from maaza.errors import MaazaError
from maaza.schemas import schema_valid
from maaza.tasks.edgejson import load_rows
from maaza.tasks.edgejson.generator import build_task, load_specs

CONTACT: dict[str, Any] = {
    "title": "Contact",
    "type": "object",
    "properties": {"name": {"type": "string"}, "email": {"type": "string", "format": "email"},
                   "phone": {"type": "string"}, "vip": {"type": "boolean"}},
    "required": ["name", "email"],
}


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    return write_schemas(tmp_path / "schemas", {"simple/contact": CONTACT, "medium/shipment": NESTED_SCHEMA})


def _generate(schemas: Path, out: Path, *extra: str, n: int = 40) -> int:
    return cli(["data", "generate", "--task", "edgejson", "--schemas", str(schemas), "--n", str(n),
                "--out", str(out), "--no-progress", *extra])


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_output_folder_rows_and_stats_add_up(schemas: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _generate(schemas, out, "--val-fraction", "0.1", "--test-fraction", "0.1") == 0
    for name in ("train.jsonl", "val.jsonl", "test.jsonl", "README.md", "stats.json"):
        assert (out / name).is_file(), name
    stats = json.loads((out / "stats.json").read_text())
    rows = {split: _rows(out / f"{split}.jsonl") for split in ("train", "val", "test")}
    written = stats["written"]
    assert written == sum(len(r) for r in rows.values()) == sum(stats["splits"].values())
    assert {k: len(v) for k, v in rows.items()} == stats["splits"] and stats["splits"]["val"] == 4
    for key in ("by_schema", "by_complexity", "by_style"):
        assert sum(stats[key].values()) == written, key
    assert stats["candidates"] == written + stats["rejects"]["total"]
    assert written + stats["dropped_slots"] == stats["requested"] == 40
    assert stats["by_complexity"] == {"medium": 20, "simple": 20} or stats["dropped_slots"]
    assert stats["timing"]["samples_per_s"] > 0 and stats["seed"] == 0
    all_rows = [row for split in rows.values() for row in split]
    assert len({row["id"] for row in all_rows}) == written
    for row in all_rows:
        assert set(row) == {"id", "schema_id", "complexity", "prompt", "expected_output", "style", "teacher"}
        schema = CONTACT if row["schema_id"] == "contact" else NESTED_SCHEMA
        assert schema_valid(row["expected_output"], schema)[0]
        assert ungrounded_leaves(row["expected_output"], row["prompt"]) == []
    loaded = load_rows(out / "train.jsonl")  # the EdgeJSON reader accepts the rows
    assert len(loaded) == len(rows["train"])
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "path: train.jsonl" in card and f"written {written}" in card


def test_same_seed_same_bytes_other_seed_differs(schemas: Path, tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert _generate(schemas, tmp_path / name, "--seed", seed, n=30) == 0
        runs[name] = tmp_path / name
    for file in ("train.jsonl", "val.jsonl", "test.jsonl", "README.md"):
        assert (runs["a"] / file).read_bytes() == (runs["b"] / file).read_bytes(), file
    stats_a, stats_b = (json.loads((runs[k] / "stats.json").read_text()) for k in ("a", "b"))
    stats_a.pop("timing"), stats_b.pop("timing")
    assert stats_a == stats_b
    assert (runs["a"] / "train.jsonl").read_bytes() != (runs["c"] / "train.jsonl").read_bytes()


def test_exclude_texts_keeps_a_test_text_out(schemas: Path, tmp_path: Path) -> None:
    assert _generate(schemas, tmp_path / "first", "--val-fraction", "0", "--test-fraction", "0", n=10) == 0
    first = _rows(tmp_path / "first" / "train.jsonl")
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text("".join(json.dumps({"prompt": row["prompt"]}) + "\n" for row in first[:3]))
    assert _generate(schemas, tmp_path / "second", "--val-fraction", "0", "--test-fraction", "0",
                     "--exclude-texts", str(held_out), n=10) == 0
    second = _rows(tmp_path / "second" / "train.jsonl")
    prompts = {row["prompt"] for row in second}
    assert not prompts & {row["prompt"] for row in first[:3]}
    stats = json.loads((tmp_path / "second" / "stats.json").read_text())
    assert stats["rejects"]["by_reason"].get("test_overlap") == 3 and stats["generator"]["excluded_texts"] == 3


def test_bad_schema_file_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    write_schemas(folder, {"simple/ok": CONTACT})
    (folder / "simple" / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(MaazaError, match=r"broken\.json"):
        _generate(folder, tmp_path / "out")
    (folder / "simple" / "broken.json").write_text(json.dumps({"type": "strng"}), encoding="utf-8")
    with pytest.raises(MaazaError, match=r"broken\.json.*not a valid JSON Schema"):
        _generate(folder, tmp_path / "out")
    (folder / "simple" / "broken.json").write_text(json.dumps({"type": "array"}), encoding="utf-8")
    with pytest.raises(MaazaError, match=r"broken\.json.*root type"):
        _generate(folder, tmp_path / "out")
    (folder / "simple" / "broken.json").write_text(
        json.dumps({"type": "object", "properties": {"a": {"$ref": "other.json#/x"}}, "required": ["a"]}))
    with pytest.raises(MaazaError, match=r"broken\.json.*local \$ref"):
        _generate(folder, tmp_path / "out")


def test_user_errors_are_clear(schemas: Path, tmp_path: Path) -> None:
    with pytest.raises(MaazaError, match=r"--n: must be a positive number"):
        _generate(schemas, tmp_path / "out", n=0)
    with pytest.raises(MaazaError, match="sum < 1"):
        _generate(schemas, tmp_path / "out", "--val-fraction", "0.5", "--test-fraction", "0.5")
    with pytest.raises(MaazaError, match="unknown style 'poem'"):
        _generate(schemas, tmp_path / "out", "--styles", "kv,poem")
    with pytest.raises(MaazaError, match="unknown Faker locale"):
        _generate(schemas, tmp_path / "out", "--locale", "xx_XX")
    with pytest.raises(MaazaError, match="schema folder not found"):
        _generate(tmp_path / "missing", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert cli(["data"]) == 2


def test_other_locale_still_grounded(schemas: Path, tmp_path: Path) -> None:
    assert _generate(schemas, tmp_path / "de", "--locale", "de_DE", "--test-fraction", "0", "--val-fraction", "0",
                     n=10) == 0
    for row in _rows(tmp_path / "de" / "train.jsonl"):
        assert ungrounded_leaves(row["expected_output"], row["prompt"]) == []


def test_flat_folder_complexity_is_unknown_and_styles_filter(tmp_path: Path) -> None:
    folder = write_schemas(tmp_path / "flat", {"contact": CONTACT})
    assert [spec.group for spec in load_specs(folder)] == ["unknown"]
    out = tmp_path / "out"
    assert _generate(folder, out, "--styles", "log=1,chat=2", "--test-fraction", "0", "--val-fraction", "0",
                     n=12) == 0
    rows = _rows(out / "train.jsonl")
    assert {row["complexity"] for row in rows} == {"unknown"} and {row["style"] for row in rows} <= {"log", "chat"}


def test_engine_split_is_seeded_and_complete() -> None:
    spec = Spec("s", "g", {})
    samples = [Sample(i, 0, spec, {"a": i}, "kv", str(i), str(i)) for i in range(100)]
    parts = split_samples(samples, 0.1, 0.2, seed=3)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [70, 10, 20]
    assert sorted(s.slot for p in parts.values() for s in p) == list(range(100))
    assert split_samples(samples, 0.1, 0.2, seed=3)["test"] == parts["test"]
    assert split_samples(samples, 0.1, 0.2, seed=4)["test"] != parts["test"]


def test_shipped_schemas_with_test_exclusion() -> None:
    task = build_task(shipped_schema_dir(), exclude_texts=[r.prompt for r in load_rows(shipped_test_file())])
    result = run_generation(task, TemplateTeacher(), n=75, seed=1)
    assert len(result.samples) == 75 and len({s.spec.id for s in result.samples}) == len(task.specs)
    for sample in result.samples:
        assert ungrounded_leaves(sample.record, sample.text) == []
