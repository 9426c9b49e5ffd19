"""Benchmark tasks as plug-ins: the `Task` protocol (`maaza.tasks.base`) and the registry of task names.

Built-in tasks are named here and imported on first use; a user's task registers with `register_task(obj)`
in Python, or from an installed package through the `maaza.tasks` entry-point group (`name = module:attr`,
the attribute a task object or a zero-argument factory). `maaza tasks list` prints them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from maaza.errors import MaazaError
from maaza.tasks.base import TASK_MEMBERS, Task, TaskData

__all__ = ["Task", "TaskData", "get_task", "register_task", "task_names", "unregister_task"]

BUILTIN_TASKS: dict[str, str] = {
    "edgejson": "maaza.tasks.edgejson:EdgeJSONTask",
    "intent": "maaza.tasks.intent:banking77_task",
    "intent-clinc150": "maaza.tasks.intent:clinc150_task",
    "spam": "maaza.tasks.filter:spam_task",
    "toxicity": "maaza.tasks.filter:toxicity_task",
    "pii": "maaza.tasks.filter:pii_task",
    "funccall": "maaza.tasks.funccall:FuncCallTask",
}
ENTRY_POINT_GROUP = "maaza.tasks"

_registered: dict[str, Task] = {}


def _instance(value: Any) -> Any:
    """A task object from a task object, a task class or a zero-argument factory."""
    if isinstance(value, type) or (callable(value) and not hasattr(value, "load_rows")):
        return value()
    return value


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return _instance(getattr(importlib.import_module(module), attr))


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def register_task(task: Task | Callable[[], Task], *, replace: bool = False) -> Task:
    """Add a task object (or a factory of one) under its `name`; an existing name needs `replace=True`."""
    obj = _instance(task)
    missing = [name for name in TASK_MEMBERS if not hasattr(obj, name)]
    if missing:
        raise MaazaError(f"{type(obj).__name__} is not a maaza task: it lacks {', '.join(sorted(missing))}")
    name = obj.name
    if not replace and (name in _registered or name in BUILTIN_TASKS):
        raise MaazaError(f"a task named '{name}' is already registered (pass replace=True to override it)")
    _registered[name] = obj
    return obj


def unregister_task(name: str) -> None:
    """Forget a task registered with `register_task` (built-in tasks come back on next use)."""
    _registered.pop(name, None)


def task_names() -> list[str]:
    """Every task name: built-in, entry points, registered."""
    return sorted({*BUILTIN_TASKS, *_entry_points(), *_registered})


def get_task(name: str, *, key: str = "--task") -> Task:
    """The task object of `name`; an unknown name is an error naming `key` and the registered tasks."""
    if name in _registered:
        return _registered[name]
    if name in BUILTIN_TASKS:
        _registered[name] = _load(BUILTIN_TASKS[name])
        return _registered[name]
    points = _entry_points()
    if name in points:
        _registered[name] = _instance(points[name].load())
        return _registered[name]
    raise MaazaError(f"{key}: unknown task '{name}'; registered tasks: {', '.join(task_names())}")
