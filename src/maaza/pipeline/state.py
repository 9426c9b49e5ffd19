"""What a pipeline run remembers between invocations: file digests and one record per stage.

`RUN/stages/<stage>.json` holds the stage's status (`running` or `complete`), the sha256 of its inputs
(its config section plus the digests of the files it consumes), those inputs themselves, and the
digests of its outputs. A stage is skipped when its inputs hash is unchanged and its outputs still
have the recorded digests. Digests are cached by (path, size, mtime) in `RUN/stages/digests.json`,
so an unchanged 500 MB model folder is not re-read on every run.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError, warn_integrity
from maaza.io import atomic_write_json, read_checked_json, write_checked_json

STAGES_DIR = "stages"
DIGEST_CACHE = "digests.json"
RUNNING = "running"
COMPLETE = "complete"


def sha256_json(value: Any) -> str:
    """sha256 of a JSON-serialisable value (keys sorted)."""
    payload = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(payload).hexdigest()


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Digests:
    """sha256 of files and folders, cached on disk by (path, size, mtime_ns)."""

    def __init__(self, cache_file: Path):
        self.cache_file = cache_file
        self.cache: dict[str, list[Any]] = {}
        if cache_file.is_file():
            try:
                loaded = json.loads(cache_file.read_text(encoding="utf-8"))
                self.cache = loaded if isinstance(loaded, dict) else {}
            except (OSError, json.JSONDecodeError):
                self.cache = {}
        self.dirty = False

    def file(self, path: Path) -> str:
        stat = path.stat()
        key = str(path.resolve())
        cached = self.cache.get(key)
        if cached and cached[0] == stat.st_size and cached[1] == stat.st_mtime_ns:
            return str(cached[2])
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        value = digest.hexdigest()
        self.cache[key] = [stat.st_size, stat.st_mtime_ns, value]
        self.dirty = True
        return value

    def path(self, path: Path) -> str | None:
        """Digest of a file, or of a folder (relative names + file digests, hidden entries left out).

        None when the path does not exist.
        """
        if path.is_file():
            return self.file(path)
        if not path.is_dir():
            return None
        entries = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith("."):
                    continue
                child = Path(root) / name
                entries.append([child.relative_to(path).as_posix(), self.file(child)])
        return sha256_json(entries)

    def save(self) -> None:
        if self.dirty:
            self.cache = {key: value for key, value in self.cache.items() if Path(key).is_file()}
            atomic_write_json(self.cache_file, self.cache, indent=None)
            self.dirty = False


class StageStore:
    """Reads and writes `RUN/stages/<name>.json`; paths in records are relative to the run folder."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.folder = run_dir / STAGES_DIR
        self.digests = Digests(self.folder / DIGEST_CACHE)

    def record_path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def read(self, name: str) -> dict[str, Any] | None:
        """The stage's record, verified; a damaged one falls back to its previous version with a warning, and
        with neither good the stage counts as not done (it runs again), with a warning."""
        try:
            return read_checked_json(self.record_path(name), what=f"stage record '{name}'")
        except MaazaError as exc:
            warn_integrity(f"{exc}; the stage runs again")
            return None

    def write(self, name: str, record: dict[str, Any]) -> None:
        write_checked_json(self.record_path(name), record)
        self.digests.save()

    def rel(self, path: Path) -> str:
        """A path relative to the run folder when inside it, else absolute."""
        try:
            return path.resolve().relative_to(self.run_dir.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())

    def absolute(self, rel: str) -> Path:
        path = Path(rel)
        return path if path.is_absolute() else self.run_dir / path

    def output_digests(self, paths: list[Path]) -> dict[str, str | None]:
        return {self.rel(p): self.digests.path(p) for p in paths}

    def outputs_intact(self, record: dict[str, Any]) -> bool:
        """Every recorded output still exists with its recorded digest."""
        outputs = record.get("outputs") or {}
        for rel, digest in outputs.items():
            if digest is None:
                continue
            if self.digests.path(self.absolute(rel)) != digest:
                return False
        return True
