"""Fuzzing with Hypothesis: schema loading, the JSONL / JSON / YAML readers, the CLI's arguments and
`Extractor.extract` inputs. Only `MaazaError`s with a message may come out, never a traceback
(`benchmarks/reliability.py` runs the same targets with more cases and writes the counts)."""

from __future__ import annotations

from pathlib import Path

import fuzz_targets as targets
import pytest

from maaza.extract import Extractor


@pytest.fixture(scope="module")
def tiny_extractor(tiny_model_dir: Path) -> Extractor:
    return Extractor.load(str(tiny_model_dir), max_new_tokens=12)


@pytest.mark.parametrize("name,examples", [("schema", 150), ("jsonl", 150), ("json_file", 150), ("yaml", 150),
                                           ("extract", 60), ("cli", 80)])
def test_only_maaza_errors_come_out(name: str, examples: int, tiny_extractor: Extractor) -> None:
    make = getattr(targets, f"target_{name}")
    strategy, run = make(tiny_extractor) if name in ("schema", "extract") else make()
    outcome = targets.run_target(strategy, run, examples)
    print(f"{name}: {outcome.cases} cases, {outcome.handled} MaazaErrors, {len(outcome.unhandled)} unhandled")
    assert outcome.cases >= examples // 2
    assert not outcome.unhandled, sorted(set(outcome.unhandled))[:8]


def test_a_broken_reader_is_caught(tmp_path: Path) -> None:
    """The harness itself can fail: a reader that lets a UnicodeDecodeError out is reported as unhandled."""

    def broken(data: bytes, outcome: targets.Outcome) -> None:
        targets._check(outcome, lambda: data.decode("utf-8"))

    outcome = targets.run_target(targets.file_bytes(), broken, 200)
    assert any(item.startswith("UnicodeDecodeError") for item in outcome.unhandled)


def test_extract_handles_what_the_fuzzer_found(tiny_extractor: Extractor) -> None:
    """Regression cases: a lone surrogate, a text longer than the context, bytes, deep and cyclic schemas."""
    from maaza.extract import ExtractionError

    schema = targets.BASE_SCHEMA
    for text in ("Ann \ud800 Lee", "x" * 400_000, b"Ann"):
        try:
            assert isinstance(tiny_extractor.extract(text, schema), dict)
        except ExtractionError as exc:
            assert str(exc)
    for bad in (targets._nested(3000, False), targets._nested(2, True)):
        with pytest.raises(ExtractionError):
            tiny_extractor.extract("Ann", bad)
