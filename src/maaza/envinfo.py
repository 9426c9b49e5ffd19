"""The environment a number was measured in: machine, library versions, commit and command line."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import resource
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from maaza.paths import repo_root

TRACKED_PACKAGES = (
    "maaza",
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "llguidance",
    "gguf",
    "jsonschema",
)


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(cwd: Path | None = None) -> str | None:
    """HEAD of the checkout this package runs from, with '-dirty' when tracked files changed."""
    where = cwd or repo_root()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    On Linux this is VmHWM from /proc/self/status: getrusage's ru_maxrss survives execve, so a worker
    started from a large parent would report the parent's peak instead of its own.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)


def release_memory() -> None:
    """Give freed memory back to the system: a garbage collection, then glibc's `malloc_trim(0)`.

    A stage that held a model leaves its freed arenas mapped; without the trim, the next stage of the same
    process starts with the last one's peak as its resident size.
    """
    import contextlib
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the allocator keeps its own policy
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def reset_peak_rss() -> bool:
    """Start a new peak: Linux resets VmHWM to the current RSS on `5` written to /proc/self/clear_refs.

    Lets one process measure the peak of each of its phases (the pipeline's stages) instead of the running
    maximum. False where the kernel does not allow it (then `peak_rss_mb` stays the process-wide peak).
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def torch_threads() -> int | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.get_num_threads()


def environment() -> dict[str, Any]:
    """Everything needed to tell where and how a result was produced."""
    return {
        "machine": f"{cpu_model()}, {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}",
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "command": " ".join(shlex.quote(arg) for arg in sys.argv),
        "timestamp": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
