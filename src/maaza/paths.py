"""Where Maaza finds datasets and keeps its cache (both overridable by environment variables)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "MAAZA_DATA_DIR"
CACHE_DIR_ENV = "MAAZA_CACHE_DIR"


def repo_root() -> Path:
    """The source checkout this package runs from (src/maaza/paths.py -> repo root)."""
    return Path(__file__).resolve().parents[2]


def data_root() -> Path | None:
    """`$MAAZA_DATA_DIR`, else `../shared/data` beside the checkout (or the cwd) when it exists."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    for base in (Path.cwd(), repo_root()):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def cache_dir() -> Path:
    """`$MAAZA_CACHE_DIR`, default `~/.cache/maaza`; converted base models live here."""
    env = os.environ.get(CACHE_DIR_ENV)
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "maaza"
    return path


def resolve_under_data_root(path: str | os.PathLike[str]) -> Path:
    """A path as given if it exists, else the same relative path under the data root."""
    given = Path(path).expanduser()
    if given.exists() or given.is_absolute():
        return given
    root = data_root()
    if root is not None and (root / given).exists():
        return root / given
    return given
