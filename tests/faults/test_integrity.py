"""Damaged files are found by their sha256 and not used: results files, append-only progress and caches,
training checkpoints; a write that fails for lack of space leaves the previous file intact."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from maaza.cli import main
from maaza.errors import IntegrityWarning, MaazaError
from maaza.io import (
    CHECKSUM_KEY,
    append_checked_lines,
    read_checked_json,
    read_checked_lines,
    write_checked_json,
)


def _flip_value(path: Path, old: str, new: str) -> None:
    """Change a value in place, keeping the file valid JSON: only the checksum can tell."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_checked_json_round_trip_and_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_checked_json(path, {"rows": 1, "score": 0.5})
    write_checked_json(path, {"rows": 2, "score": 0.75})
    stored = json.loads(path.read_text())
    assert set(stored) == {"rows", "score", CHECKSUM_KEY}
    assert read_checked_json(path, what="results file") == {"rows": 2, "score": 0.75}
    assert read_checked_json(tmp_path / ".results.json.prev", what="x") == {"rows": 1, "score": 0.5}
    assert read_checked_json(tmp_path / "none.json", what="results file") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [".results.json.prev", "results.json"]  # no temp left


@pytest.mark.parametrize("damage", ["changed value", "truncated", "not utf-8"])
def test_damaged_results_file_falls_back_to_previous_with_warning(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "results.json"
    write_checked_json(path, {"rows": 1, "score": 0.5})
    write_checked_json(path, {"rows": 2, "score": 0.75})
    if damage == "changed value":
        _flip_value(path, "0.75", "0.95")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:20])
    else:
        path.write_bytes(b'{"rows": 2, "score": "\xff"}')
    with pytest.warns(IntegrityWarning) as caught:
        data = read_checked_json(path, what="results file")
    assert data == {"rows": 1, "score": 0.5}
    message = str(caught[0].message)
    assert str(path) in message and ".results.json.prev" in message and "damaged" in message
    if damage == "changed value":
        assert "sha256 does not match" in message


def test_damaged_results_without_good_previous_is_an_error_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_checked_json(path, {"rows": 1})
    _flip_value(path, '"rows": 1', '"rows": 7')
    with pytest.raises(MaazaError, match=r"results file .*results\.json is damaged .*\.results\.json\.prev: it is missing"):
        read_checked_json(path, what="results file")


def test_file_written_before_checksums_is_read_as_it_parses(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text('{"rows": 3}')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_checked_json(path, what="results file") == {"rows": 3}


def test_checked_lines_cut_a_torn_tail_and_skip_changed_lines(tmp_path: Path) -> None:
    path = tmp_path / "progress.jsonl"
    append_checked_lines(path, [{"id": 1, "output": "a"}, {"id": 2, "output": "b"}])
    append_checked_lines(path, [{"id": 3, "output": "c"}])
    _flip_value(path, '"output": "b"', '"output": "B"')
    with path.open("ab") as handle:
        handle.write(b'{"id": 4, "out')  # a kill in the middle of the last write
    with pytest.warns(IntegrityWarning, match=r"progress\.jsonl: 2 damaged line\(s\) not used \(line 2, 4"):
        rows = read_checked_lines(path, what="extraction progress")
    assert rows == [{"id": 1, "output": "a"}, {"id": 3, "output": "c"}]
    assert path.read_bytes().endswith(b"\n")  # the torn tail is gone: the next append starts a fresh line
    append_checked_lines(path, [{"id": 4, "output": "d"}])
    with pytest.warns(IntegrityWarning, match="1 damaged line"):  # only the changed line 2 is still bad
        assert [r["id"] for r in read_checked_lines(path, what="x")] == [1, 3, 4]


def test_teacher_cache_keeps_the_earlier_good_answer(tmp_path: Path) -> None:
    from maaza.data.teachers import ResponseCache

    path = tmp_path / "teacher_cache.jsonl"
    cache = ResponseCache(path)
    cache.put("k1", "m", "first answer")
    cache.put("k1", "m", "second answer")
    cache.put("k2", "m", "other")
    _flip_value(path, "second answer", "forged answer")
    with pytest.warns(IntegrityWarning, match=r"teacher cache .*teacher_cache\.jsonl: 1 damaged line\(s\) not used \(line 2"):
        again = ResponseCache(path)
    assert again.get("k1") == "first answer" and again.get("k2") == "other" and again.loaded == 2


def test_damaged_checkpoint_is_skipped_for_the_previous_good_one(tmp_path: Path) -> None:
    import torch

    from maaza.train import checkpoint as ckpt

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    folder = tmp_path / "checkpoints"
    for step in (1, 2):
        model.weight.data.fill_(float(step))
        ckpt.save_checkpoint(folder, f"step-{step:08d}", model=model, optimizer=optimizer, scheduler=scheduler,
                             state={"global_step": step})
    newest = folder / "step-00000002"
    assert set(json.loads((newest / ckpt.CHECKSUMS_FILE).read_text())) == {
        "trainable.safetensors", "optimizer.pt", "scheduler.pt", "rng_rank0.pt", ckpt.STATE_FILE}
    assert ckpt.latest_checkpoint(folder) == newest
    weights = newest / "trainable.safetensors"
    weights.write_bytes(weights.read_bytes()[:-7])  # truncated after it was written
    with pytest.warns(IntegrityWarning, match=r"step-00000002 is damaged \(trainable\.safetensors does not match"):
        assert ckpt.latest_checkpoint(folder) == folder / "step-00000001"
    with pytest.raises(MaazaError, match="not a complete checkpoint"):
        ckpt.load_checkpoint(newest, model=model, optimizer=None, scheduler=None)
    state = ckpt.load_checkpoint(folder / "step-00000001", model=model, optimizer=optimizer, scheduler=scheduler)
    assert state["global_step"] == 1 and float(model.weight.data[0, 0]) == 1.0


def test_eval_resumes_from_previous_results_when_the_file_is_damaged(
    tiny_model_dir: Path, edgejson_fixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    argv = ["eval", "--model", str(tiny_model_dir), "--data", str(edgejson_fixture.rows), "--schemas",
            str(edgejson_fixture.schemas), "--batch-size", "2", "--max-new-tokens", "8", "--no-progress",
            "--out", str(out)]
    assert main(argv) == 0
    clean = read_checked_json(out, what="results file")
    first_row = clean["examples"][0]
    _flip_value(out, json.dumps(first_row["id"]), json.dumps(first_row["id"] + "-forged"))
    capsys.readouterr()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"maaza: warning: results file {out} is damaged" in err and ".results.json.prev" in err
    resumed = read_checked_json(out, what="results file")
    # the previous version had 2 of the 4 rows: the other 2 were decoded again, to the same answers
    assert [e["raw_output"] for e in resumed["examples"]] == [e["raw_output"] for e in clean["examples"]]
    assert [e["id"] for e in resumed["examples"]] == [e["id"] for e in clean["examples"]]


FULL_DISK_CHILD = textwrap.dedent(
    """
    import resource, signal, sys
    from maaza.errors import MaazaError
    from maaza.io import write_checked_json
    path = sys.argv[1]
    write_checked_json(path, {"rows": 1, "text": "small"})
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, like a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    try:
        write_checked_json(path, {"rows": 2, "text": "x" * 100_000})
    except MaazaError as exc:
        print(exc)
    """
)


def test_a_write_that_runs_out_of_space_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-c", FULL_DISK_CHILD, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"could not write {path}: File too large; the previous version is unchanged")
    assert read_checked_json(path, what="results file") == {"rows": 1, "text": "small"}
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_no_space_during_an_eval_results_write_is_a_clear_error(
    tiny_model_dir: Path, edgejson_fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import errno
    import os

    out = tmp_path / "results.json"
    real_fsync, calls = os.fsync, []

    def fsync_then_full(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the second results write: the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_then_full)
    argv = ["eval", "--model", str(tiny_model_dir), "--data", str(edgejson_fixture.rows), "--schemas",
            str(edgejson_fixture.schemas), "--batch-size", "2", "--max-new-tokens", "8", "--no-progress",
            "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"maaza: error: could not write {out}: No space left on device; the previous version is unchanged" in err
    partial = read_checked_json(out, what="results file")
    assert partial["status"] == "partial" and len(partial["examples"]) == 2
