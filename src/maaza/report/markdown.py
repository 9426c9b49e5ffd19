"""Small markdown helpers shared by the generic model card (`maaza.report.card`) and task card sections.

Imports nothing from maaza, so a task's card module (e.g. `maaza.tasks.edgejson.card`) can use it
without importing the card builder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def num(value: Any, digits: int = 2) -> str:
    """A value for a table cell: yes/no, a trimmed float, a comma-joined list, else str()."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if abs(value) >= 0.01 else f"{value:.3g}"
    if isinstance(value, list):
        return ", ".join(num(v, digits) for v in value)
    return str(value)


def cell(text: Any) -> str:
    """Text safe inside a markdown table cell: pipes escaped, angle brackets as entities, one line."""
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    """A markdown table as lines; `align` has one letter per column, `l` or `r` (default: l then r...)."""
    spec = align or "l" + "r" * (len(header) - 1)
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in spec) + "|"
    return ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(row) + " |" for row in rows)]


def kv_table(pairs: list[tuple[str, str]]) -> list[str]:
    """A two-column (name, value) table."""
    return table(["", "value"], [[name, value] for name, value in pairs], "ll")


def short_path(path: str) -> str:
    """The last two parts of a path (`edgejson_v3/test.jsonl`), or the path itself."""
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) >= 2 else path
