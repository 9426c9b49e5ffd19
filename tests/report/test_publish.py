"""`maaza publish`: the no-token path (exit 2, one clear line) and which files an upload would send."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest
from report_helpers import make_run_dir, run_cli, write_json

from maaza.report.publish import selected_files


@pytest.fixture
def no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No HF_TOKEN and no stored login: the hub token lookup finds nothing."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    monkeypatch.setattr(
        huggingface_hub.constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "hf" / "stored_tokens")
    )


def _run_with_card(tmp_path: Path) -> Path:
    run, _ = make_run_dir(tmp_path)
    (run / "README.md").write_text("---\nlicense: apache-2.0\n---\n# card\n")
    return run


def test_no_token_is_one_clear_line(
    tmp_path: Path, no_token: None, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run_with_card(tmp_path)
    assert run_cli(["publish", str(run), "--repo", "me/mlm-135m-json"]) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert lines[0].startswith("maaza: error: no Hugging Face token") and "HF_TOKEN" in lines[0]


def test_missing_card_and_bad_repo(
    tmp_path: Path, no_token: None, capsys: pytest.CaptureFixture[str]
) -> None:
    run, _ = make_run_dir(tmp_path)
    assert run_cli(["publish", str(run), "--repo", "me/x"]) == 2
    assert "write the model card first: maaza card" in capsys.readouterr().err
    (run / "README.md").write_text("# card\n")
    assert run_cli(["publish", str(run), "--repo", "no-owner"]) == 2
    assert "OWNER/NAME" in capsys.readouterr().err


def test_dry_run_lists_publishable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run_with_card(tmp_path)
    write_json(run / "checkpoints" / "step-00000010" / "state.json", {})
    (run / "tb").mkdir()
    (run / "tb" / "events.out").write_text("x")
    (run / "export").mkdir()
    (run / "export" / "m-q8_0.gguf").write_bytes(b"GGUF")
    (run / "adapter" / ".hidden.tmp").write_text("x")
    files = selected_files(run)
    assert files == [
        "README.md",
        "adapter/adapter_config.json",
        "adapter/maaza.json",
        "eval/edgejson_constrained.json",
        "eval/edgejson_unconstrained.json",
        "export/m-q8_0.gguf",
        "training_summary.json",
    ]
    assert run_cli(["publish", str(run), "--repo", "me/x", "--dry-run"]) == 0
    assert "7 files would be uploaded to me/x" in capsys.readouterr().out
    # pipeline layout: merged weights in train/ and export/ -> only the exported copy goes up
    write_json(run / "train" / "merged" / "config.json", {})
    assert "train/merged/config.json" in selected_files(run)
    write_json(run / "export" / "merged" / "config.json", {})
    assert "train/merged/config.json" not in selected_files(run)
    assert "export/merged/config.json" in selected_files(run)


def test_network_error_names_the_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing upload (simulated: nothing is sent) ends as one line naming the repo."""
    run = _run_with_card(tmp_path)
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert run_cli(["publish", str(run), "--repo", "me/x"]) == 2
    assert "cannot publish to me/x: offline mode is on" in capsys.readouterr().err

    def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionError("Failed to resolve 'huggingface.co'\nsecond line")

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", unreachable)
    assert run_cli(["publish", str(run), "--repo", "me/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "maaza: error: cannot publish to me/x: ConnectionError: Failed to resolve 'huggingface.co'"
