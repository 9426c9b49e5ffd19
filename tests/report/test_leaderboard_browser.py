"""The leaderboard page in headless Chromium: it renders (screenshot) and its table and sort script work (DOM)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from report_helpers import BASE_PLAN, V3, make_examples, results_doc, run_cli, write_json, write_results

from chromium_helpers import CHROMIUM, chromium_command

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not on PATH (Debian: apt-get install -y chromium)"
)


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = chromium_command(profile, *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A leaderboard folder built by the CLI from fixture results on one test set (one with a hostile name)."""
    root = tmp_path_factory.mktemp("browser")
    write_results(root / "results")
    _, base = make_examples(BASE_PLAN)
    write_json(
        root / "results" / "evil.json",
        results_doc(base, name="<script>document.title='pwned'</script>", **V3),
    )
    assert run_cli(["leaderboard", str(root / "results"), "--out", str(root / "board")]) == 0
    return root / "board"


def test_screenshot_is_not_blank(board: Path, tmp_path: Path) -> None:
    shot = tmp_path / "leaderboard.png"  # kept under the pytest tmp dir as the test's artifact
    result = _chromium(
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,900",
        (board / "index.html").as_uri(),
    )
    assert shot.is_file(), result.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    with Image.open(shot) as image:
        assert image.size == (1280, 900)
        colors = image.convert("RGB").getcolors(1 << 20)
        assert colors is not None and len(colors) > 10


def _body_rows(dom: str) -> list[str]:
    tbody = re.search(r"<tbody>(.*?)</tbody>", dom, re.S)
    assert tbody is not None, dom[:2000]
    return re.findall(r"<tr class=\"([^\"]+)\">(.*?)</tr>", tbody.group(1), re.S)


def test_dom_has_every_row_and_no_injected_script(board: Path, tmp_path: Path) -> None:
    result = _chromium(tmp_path / "profile", "--dump-dom", (board / "index.html").as_uri())
    dom = result.stdout
    rows = _body_rows(dom)
    assert len(rows) == 6  # 3 measured (base, tuned, evil) + 3 published; partial skipped
    assert [kind for kind, _ in rows].count("published") == 3
    assert "<title>Leaderboard: edgejson</title>" in dom  # the hostile name did not run
    assert dom.count("<tbody>") == 1  # one test set: one table
    assert "&lt;script&gt;document.title" in dom


def test_sort_script_runs(board: Path, tmp_path: Path) -> None:
    """`#sort=-params` makes the page's script click the params header twice (descending)."""
    url = (board / "index.html").as_uri() + "#sort=-params"
    dom = _chromium(tmp_path / "profile", "--dump-dom", url).stdout
    _first_kind, first_cells = _body_rows(dom)[0]
    assert "Qwen2.5-0.5B (published)" in first_cells  # the largest model first
    assert 'aria-sort="descending"' in dom
    url = (board / "index.html").as_uri() + "#sort=label"
    dom = _chromium(tmp_path / "profile2", "--dump-dom", url).stdout
    labels = [re.search(r'data-value="([^"]*)"', cells).group(1) for _, cells in _body_rows(dom)]  # type: ignore[union-attr]
    assert (
        labels[0].startswith("&lt;script") and labels[-1] == "smollm2-135m seed"
    )  # localeCompare: case-blind
