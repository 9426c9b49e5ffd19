"""`maaza pipeline`: data -> train -> eval -> export -> card -> leaderboard into one run folder.

Modules: `config` (the pipeline YAML as validated dataclasses), `state` (file digests and the per-stage
records that make unchanged stages skip), `runner` (the stages), `command` (the argparse parser).
"""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any) -> None:
    """Register `maaza pipeline` (imported lazily so `maaza --help` stays fast)."""
    from maaza.pipeline.command import add_parser as add

    add(sub)


__all__ = ["add_parser"]
