"""Typed YAML configs: dataclasses validated on load, overridable with `--set a.b=value`.

Unknown keys and values of the wrong type are errors that name the key path and the file, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from maaza.errors import MaazaError

T = TypeVar("T")


def load_yaml(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MaazaError(f"config not found: {file}") from None
    except UnicodeDecodeError as exc:
        raise MaazaError(f"{file}: not valid UTF-8 (byte {exc.start + 1})") from None
    except RecursionError:
        raise MaazaError(f"{file}: the YAML nests too deeply to read") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark else str(file)
        raise MaazaError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MaazaError(f"{file}: a config must be a mapping at the top level")
    try:  # plain data only (what apply_overrides and config_hash serialise): no !!set, !!binary, dates
        json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise MaazaError(f"{file}: a config holds strings, numbers, booleans, lists and mappings only ({exc})") from None
    except RecursionError:
        raise MaazaError(f"{file}: the YAML nests too deeply to read") from None
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `section.key=value` strings (value parsed as YAML) to a nested dict, returning a copy."""
    result = json.loads(json.dumps(data))
    for item in overrides:
        if "=" not in item:
            raise MaazaError(f"--set expects key=value, got '{item}'")
        dotted, raw = item.split("=", 1)
        keys = [k for k in dotted.strip().split(".") if k]
        if not keys:
            raise MaazaError(f"--set expects key=value, got '{item}'")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise MaazaError(f"--set {dotted}: cannot parse value '{raw}'") from None
        node = result
        for key in keys[:-1]:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                raise MaazaError(f"--set {dotted}: '{key}' is not a section")
            node = child
        node[keys[-1]] = value
    return result


def _check_value(value: Any, hint: Any, path: str) -> Any:
    origin = get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_value(value, option, path)
            except MaazaError as exc:
                errors.append(str(exc))
        raise MaazaError(errors[0] if errors else f"{path}: invalid value {value!r}")
    if origin is typing.Literal:
        allowed = get_args(hint)
        if value not in allowed:
            raise MaazaError(f"{path}: {value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise MaazaError(f"{path}: expected a mapping, got {type(value).__name__}")
        return from_dict(hint, value, path)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise MaazaError(f"{path}: expected a list, got {type(value).__name__}")
        (item_hint, *_rest) = get_args(hint) or (Any,)
        return [_check_value(item, item_hint, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise MaazaError(f"{path}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                raise MaazaError(f"{path}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MaazaError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise MaazaError(f"{path}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise MaazaError(f"{path}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise MaazaError(f"{path}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], path: str = "") -> T:
    """Build dataclass `cls` from a mapping, rejecting unknown keys and wrong types by key path."""
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"{path}." if path else ""
        raise MaazaError(f"unknown config key '{where}{unknown[0]}' (known: {', '.join(sorted(names))})")
    values = {
        name: _check_value(value, hints[name], f"{path}.{name}" if path else name)
        for name, value in data.items()
    }
    instance = cls(**values)
    validate = getattr(instance, "validate", None)
    if callable(validate):
        validate()
    return instance


def to_dict(instance: Any) -> dict[str, Any]:
    return dataclasses.asdict(instance) if dataclasses.is_dataclass(instance) else dict(instance)


def config_hash(instance: Any) -> str:
    """A short stable hash of a config (what training and pipeline stages record)."""
    payload = json.dumps(to_dict(instance), sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def load_config(cls: type[T], path: str | Path, overrides: list[str] | None = None) -> T:
    data = apply_overrides(load_yaml(path), overrides or [])
    try:
        return from_dict(cls, data)
    except MaazaError as exc:
        raise MaazaError(f"{path}: {exc}") from None
