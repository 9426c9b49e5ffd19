"""The OpenMP wait policy llama.cpp runs with: ACTIVE unless the user chose one or it is too late."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from maaza import openmp


@pytest.fixture
def no_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(openmp.POLICY_ENV, raising=False)


def maps_file(tmp_path: Path, *libraries: str) -> Path:
    lines = [f"7f0000000000-7f0000001000 r-xp 00000000 08:01 42 /usr/lib/{name}" for name in libraries]
    path = tmp_path / "maps"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_active_is_set_before_any_runtime_loads(no_policy: None, tmp_path: Path) -> None:
    import os

    maps = maps_file(tmp_path, "libc.so.6", "libstdc++.so.6")
    assert not openmp.runtime_loaded(maps)
    assert openmp.prefer_active_wait(maps) == "ACTIVE"
    assert os.environ[openmp.POLICY_ENV] == "ACTIVE"
    assert openmp.policy_in_force() == "ACTIVE"


def test_too_late_once_a_runtime_is_loaded(no_policy: None, tmp_path: Path) -> None:
    import os

    for library in ("libgomp.so.1", "libomp.so.5", "libiomp5.so"):
        maps = maps_file(tmp_path, "libc.so.6", library)
        assert openmp.runtime_loaded(maps)
        assert openmp.prefer_active_wait(maps).startswith("default")
        assert openmp.POLICY_ENV not in os.environ  # nothing set that would claim an effect it cannot have


def test_the_users_policy_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    monkeypatch.setenv(openmp.POLICY_ENV, "passive")
    assert openmp.prefer_active_wait(maps_file(tmp_path, "libc.so.6")) == "PASSIVE"
    assert os.environ[openmp.POLICY_ENV] == "passive"


def test_real_process_before_and_after_torch_loads_its_openmp() -> None:
    """In a fresh interpreter: ACTIVE before `import torch`; after it (libgomp mapped) the default stays."""
    code = (
        "import json, os, sys\n"
        "os.environ.pop('OMP_WAIT_POLICY', None)\n"
        "from maaza import openmp\n"
        "before = openmp.prefer_active_wait()\n"
        "os.environ.pop('OMP_WAIT_POLICY')\n"
        "import torch\n"
        "torch.set_num_threads(2); torch.ones(4096, 64).sum()\n"
        "print(json.dumps([before, openmp.runtime_loaded(), openmp.prefer_active_wait()]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, loaded, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == "ACTIVE"
    assert loaded is True
    assert after.startswith("default")
