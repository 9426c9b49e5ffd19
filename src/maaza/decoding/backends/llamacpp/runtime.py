"""llama-cpp-python itself: importing it (with an install hint), quieting its logs, initialising its
backend once per process, and how many threads it runs with.

Threads: the `threads` option, else $MAAZA_LLAMACPP_THREADS, else the physical cores (llama.cpp gains
nothing from SMT siblings).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from maaza import openmp
from maaza.errors import MaazaError

INSTALL_HINT = (
    "llama-cpp-python is not installed (it is built from source): run "
    "MAAZA_WITH_LLAMACPP=1 scripts/setup.sh, or pip install -e '.[llamacpp]'"
)


def _llama_cpp() -> Any:
    openmp.prefer_active_wait()  # effective only before any OpenMP runtime loads (see maaza/openmp.py)
    try:
        import llama_cpp
    except ImportError as exc:
        raise MaazaError(f"{INSTALL_HINT} ({exc})") from None
    _quiet_llama_logs()
    return llama_cpp


_BACKEND_READY = False


def _quiet_llama_logs() -> None:
    """llama.cpp logs every tensor at load; keep errors only unless the user configured the logger."""
    logger = logging.getLogger("llama-cpp-python")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)


def _init_backend(llama_cpp: Any) -> None:
    """`llama_backend_init`, once per process."""
    global _BACKEND_READY
    if not _BACKEND_READY:
        llama_cpp.llama_backend_init()
        _BACKEND_READY = True


THREADS_ENV = "MAAZA_LLAMACPP_THREADS"


def default_threads() -> int:
    """$MAAZA_LLAMACPP_THREADS when set (e.g. 1 on a machine busy with other work: llama.cpp's threads
    spin at every barrier, so a descheduled one stalls the rest), else the physical cores."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            threads = int(value)
        except ValueError:
            raise MaazaError(f"${THREADS_ENV} must be a whole number, got '{value}'") from None
        if threads < 1:
            raise MaazaError(f"${THREADS_ENV} must be at least 1, got {threads}")
        return threads
    return physical_cores()


def physical_cores() -> int:
    """Physical cores this process may run on (SMT siblings counted once); llama.cpp's sweet spot."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = list(range(os.cpu_count() or 1))
    cores: set[tuple[str, str]] = set()
    for cpu in allowed:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return max(1, len(allowed))
        cores.add((package, core))
    return max(1, len(cores) or len(allowed))
