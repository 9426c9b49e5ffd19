"""OpenMP wait policy for llama.cpp (and torch): spin at barriers instead of sleeping between them.

llama.cpp's CPU backend (built with OpenMP, as scripts/setup.sh builds it) crosses an OpenMP barrier after
every graph node: several hundred per decode step of a 135M model, each a few microseconds of work. With
libgomp's default policy a waiting thread spins briefly and then sleeps, so on a busy-but-shared machine it
often has to be woken; `OMP_WAIT_POLICY=ACTIVE` keeps it spinning. On the 2-core dev box, in one run of
benchmarks/edge_speed.py (commit 533068c), that took q4_0 from 165 to 183 decode tokens/s and pure Q4_0 from
170 to 227; in a later run pure Q4_0 from 162 to 201 but q4_0 from 145 to 133; in the run of e5daf2c pure
Q4_0 from 193 to 203 and q4_0 from 152 to 165 (rows `omp=default` of benchmarks/results/edge_speed.md). The
gain is real for the fastest file and within this VM's noise for q4_0.

The policy is read once, when the OpenMP runtime loads (torch loads one too, and llama.cpp then shares it),
so it must be in the environment before then. A policy the user set is always kept: PASSIVE is the right
choice when other CPU-heavy work shares the cores, because a spinning thread then steals their time
(or use a single thread: `MAAZA_LLAMACPP_THREADS=1`, which has no barriers at all).
"""

from __future__ import annotations

import os
from pathlib import Path

POLICY_ENV = "OMP_WAIT_POLICY"
RUNTIME_NAMES = ("libgomp", "libomp", "libiomp")  # GNU, LLVM and Intel OpenMP runtimes
_DEFAULT = "default (libgomp: spin briefly, then sleep)"


def runtime_loaded(maps: Path = Path("/proc/self/maps")) -> bool:
    """Whether an OpenMP runtime is already mapped into this process (Linux; False where unknown)."""
    try:
        text = maps.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(name in text for name in RUNTIME_NAMES)


def prefer_active_wait(maps: Path = Path("/proc/self/maps")) -> str:
    """Set OMP_WAIT_POLICY=ACTIVE if the user chose no policy and no OpenMP runtime is loaded yet.

    Returns the policy in force for this process: the user's, ACTIVE, or the runtime default when the
    runtime was loaded (e.g. by `import torch`) before this call could set it.
    """
    chosen = os.environ.get(POLICY_ENV, "").strip()
    if chosen:
        return chosen.upper()
    if runtime_loaded(maps):
        return _DEFAULT
    os.environ[POLICY_ENV] = "ACTIVE"
    return "ACTIVE"


def policy_in_force() -> str:
    """The OpenMP wait policy this process runs with, as far as the environment tells (for reports)."""
    chosen = os.environ.get(POLICY_ENV, "").strip()
    return chosen.upper() if chosen else _DEFAULT
