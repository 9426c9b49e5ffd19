"""`maaza publish RUN_DIR --repo ID`: upload the card, adapter, merged and exported files to the Hub."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError

# What a published model repo holds: the card, the weights in every format, and the measured files
# the card's numbers come from. Checkpoints, TensorBoard logs and temp files stay local.
ALLOW_PATTERNS: list[str] = [
    "README.md",
    "adapter/**",
    "merged/**",
    "export/**",
    "train/adapter/**",
    "train/merged/**",
    "*.gguf",
    "sizes.json",
    "training_summary.json",
    "train/training_summary.json",
    "eval/*.json",
    "results/*.json",
]
IGNORE_PATTERNS: list[str] = ["**/.*", ".*", "**/*.tmp", "**/checkpoints/**", "**/tb/**"]


def ignore_patterns(run_dir: Path) -> list[str]:
    """IGNORE_PATTERNS, plus the second copy of the merged weights when the export stage wrote one."""
    extra = ["train/merged/**"] if (run_dir / "export" / "merged").is_dir() else []
    return [*IGNORE_PATTERNS, *extra]


def selected_files(run_dir: Path) -> list[str]:
    """Relative paths under `run_dir` that an upload would send (same patterns as upload_folder)."""
    ignore = ignore_patterns(run_dir)
    chosen = []
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(run_dir).as_posix()
        if any(fnmatch.fnmatch(rel, p) for p in ALLOW_PATTERNS) and not any(
            fnmatch.fnmatch(rel, p) for p in ignore
        ):
            chosen.append(rel)
    return chosen


def _token() -> str | None:
    from huggingface_hub import get_token

    try:
        return get_token()
    except Exception as exc:  # e.g. a failed OIDC exchange when HF_OIDC_RESOURCE is set
        raise MaazaError(f"cannot get a Hugging Face token: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def publish(
    run_dir: str | Path,
    repo: str,
    *,
    private: bool = False,
    message: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Upload the run folder's publishable files to model repo `repo`; returns {files, url}."""
    root = Path(run_dir)
    if not root.is_dir():
        raise MaazaError(f"run folder not found: {root}")
    if not (root / "README.md").is_file():
        raise MaazaError(f"{root} has no README.md; write the model card first: maaza card {root}")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise MaazaError(f"--repo must look like OWNER/NAME, got '{repo}'")
    files = selected_files(root)
    if dry_run:
        return {"files": files, "url": None}
    token = _token()
    if not token:
        raise MaazaError("no Hugging Face token: set HF_TOKEN or run `hf auth login`, then publish again")
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        raise MaazaError(f"cannot publish to {repo}: offline mode is on (HF_HUB_OFFLINE=1)")
    api = HfApi(token=token)
    try:
        api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo,
            repo_type="model",
            folder_path=str(root),
            allow_patterns=ALLOW_PATTERNS,
            ignore_patterns=ignore_patterns(root),
            commit_message=message or f"maaza publish {root.name}",
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # network, auth and HTTP errors all end as one line naming the repo
        raise MaazaError(f"cannot publish to {repo}: {type(exc).__name__}: {_first_line(exc)}") from None
    return {"files": files, "url": getattr(commit, "commit_url", None) or f"https://huggingface.co/{repo}"}
