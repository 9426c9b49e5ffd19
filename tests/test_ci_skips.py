"""Under CI=true a skipped test fails the run unless ALLOWED_CI_SKIPS (tests/conftest.py) allows its reason:
a component that no longer installs or loads cannot hide behind a green run. Checked on a throwaway test
file run with this suite's conftest as a plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import conftest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SKIPPING = """
import pytest

def test_passes():
    assert True

def test_skips():
    pytest.skip("chromium is not on PATH (Debian: apt-get install -y chromium)")
"""


def _pytest(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_throwaway.py").write_text(SKIPPING, encoding="utf-8")
    env = {**os.environ, "CI": ci, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO / "src")])}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "conftest",
            "test_throwaway.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_skip_fails_a_ci_run_and_names_the_test_and_reason(tmp_path: Path) -> None:
    done = _pytest(tmp_path, "true")
    assert done.returncode == 1, done.stdout
    assert "CI: 1 skipped, 0 of them allowed" in done.stdout
    assert "CI: skip not allowed: test_throwaway.py::test_skips: chromium is not on PATH" in done.stdout
    assert "1 passed, 1 skipped" in done.stdout


def test_outside_ci_a_skip_is_only_a_skip(tmp_path: Path) -> None:
    done = _pytest(tmp_path, "")
    assert done.returncode == 0, done.stdout
    assert "CI:" not in done.stdout and "1 passed, 1 skipped" in done.stdout


def test_the_allow_list_matches_reasons_by_pattern(monkeypatch) -> None:
    skips = [("a.py::t1", "no GPU here"), ("b.py::t2", "chromium is not on PATH")]
    monkeypatch.setattr(conftest, "ALLOWED_CI_SKIPS", ((r"^no GPU", "the CI machine has none"),))
    assert conftest.disallowed_skips(skips) == [("b.py::t2", "chromium is not on PATH")]
    monkeypatch.setattr(conftest, "ALLOWED_CI_SKIPS", ())
    assert conftest.disallowed_skips(skips) == skips
