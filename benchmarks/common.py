"""Shared helpers of the benchmark scripts: where results go and how their tables are headed."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from maaza.envinfo import environment

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"


def maaza_cli() -> str:
    """The `maaza` command of the environment running this script."""
    return str(Path(sys.executable).with_name("maaza"))


def provenance_header(title: str, env: dict[str, Any] | None = None) -> str:
    """Markdown lines naming the machine, commit and exact command behind a table."""
    env = env or environment()  # a stored environment names the run that measured, not this report's run
    argv = " ".join(shlex.quote(arg) for arg in sys.argv)
    command = f"{Path(sys.executable).name} {env.get('command') or argv}"
    return "\n".join(
        [
            f"# {title}",
            "",
            f"- machine: {env['machine']} (torch threads: {env.get('torch_threads')})",
            f"- commit: `{env.get('git_commit')}`",
            f"- command: `{command}`",
            f"- versions: {', '.join(f'{k} {v}' for k, v in env['versions'].items() if v)}",
            f"- measured: {env['timestamp']}",
            "",
        ]
    )


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
