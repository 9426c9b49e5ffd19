"""SIGKILL during a real `maaza` command, then the same command again: it completes, and its outputs are the
clean run's, byte for byte outside wall times (`kill_harness`). One kill point per command here, as soon as
the first output file appears, so the rerun has partial work to resume; `benchmarks/reliability.py --stages
faults` draws 20+ seeded points per command, `export` and `pipeline` included."""

from __future__ import annotations

from pathlib import Path

import pytest
from kill_harness import SCENARIOS, build_world, differences, kill_point, run_once, snapshot


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_world(tmp_path_factory.mktemp("fault-world"))


@pytest.mark.parametrize("name", ["data generate", "eval", "extract --input"])
def test_kill_then_rerun_gives_the_clean_outputs(name: str, world: Path, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    out = tmp_path / "out"
    rc, seconds, _, stderr = run_once(scenario, world, out)
    assert rc == 0, stderr
    reference = snapshot(scenario, out)
    assert reference and all(reference.values())
    # eval and extract: as soon as a partial results file or progress line exists; data generate writes its
    # files at the end, all at once: half-way through its run
    at_end = name == "data generate"
    point = kill_point(scenario, world, out, 0.5 * seconds if at_end else None, reference, on_first_output=not at_end)
    assert point.killed, f"{name} finished before the kill at {point.after_s:.2f} s"
    if name != "data generate":  # data generate writes its files at the end, all at once
        assert point.partial_files > 0
    assert point.rerun_rc == 0 and point.identical, point.differences
    assert point.hidden_leftovers == []


def test_comparison_catches_a_changed_output(world: Path, tmp_path: Path) -> None:
    """The check that the tests above rely on: one changed answer in the output is a difference."""
    scenario = SCENARIOS["extract --input"]
    out = tmp_path / "out"
    assert run_once(scenario, world, out)[0] == 0
    reference = snapshot(scenario, out)
    lines = (out / "out.jsonl").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace('"id":', '"id": "x", "was":', 1)
    (out / "out.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert differences(reference, snapshot(scenario, out)) == ["differs out.jsonl"]
