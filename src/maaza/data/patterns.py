"""Sample a string that matches a (simple) regular expression, for JSON Schema `pattern`.

Walks the parse tree of Python's own regex parser: literals, classes, `\\d \\w \\s`, `.`, groups,
alternation, bounded/unbounded repeats and back-references. Look-arounds and other exotic constructs
raise `UnsupportedPattern`; the caller then falls back to a plain value and lets validation decide.
"""

from __future__ import annotations

import random
import string
from typing import Any

try:  # Python 3.11+
    import re._constants as _c  # type: ignore[import-not-found]
    import re._parser as _parser  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _parser  # type: ignore[no-redef]

UNBOUNDED_EXTRA = 4  # `+`/`*`/`{m,}` repeat at most this many times beyond the minimum

_DIGITS = string.digits
_WORD = string.ascii_letters + string.digits + "_"
_PRINTABLE = string.ascii_letters + string.digits + "-_.:/ "
_CATEGORIES = {
    _c.CATEGORY_DIGIT: _DIGITS,
    _c.CATEGORY_NOT_DIGIT: string.ascii_letters,
    _c.CATEGORY_WORD: _WORD,
    _c.CATEGORY_NOT_WORD: "-. :/",
    _c.CATEGORY_SPACE: " ",
    _c.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
}


class UnsupportedPattern(ValueError):
    """The pattern uses a construct this sampler does not generate."""


def sample_pattern(pattern: str, rng: random.Random) -> str:
    """A random string that (fully) matches `pattern`; anchors are honoured by construction."""
    try:
        tree = _parser.parse(pattern)
    except Exception as exc:  # re.error and friends
        raise UnsupportedPattern(f"cannot parse pattern {pattern!r}: {exc}") from None
    groups: dict[int, str] = {}
    return _emit(list(tree), rng, groups)


def _emit(items: list[tuple[Any, Any]], rng: random.Random, groups: dict[int, str]) -> str:
    out: list[str] = []
    for op, arg in items:
        out.append(_emit_one(op, arg, rng, groups))
    return "".join(out)


def _emit_one(op: Any, arg: Any, rng: random.Random, groups: dict[int, str]) -> str:
    if op is _c.LITERAL:
        return chr(arg)
    if op is _c.NOT_LITERAL:
        choices = [ch for ch in string.ascii_letters + string.digits if ord(ch) != arg]
        return rng.choice(choices)
    if op is _c.ANY:
        return rng.choice(string.ascii_letters + string.digits)
    if op is _c.IN:
        return _emit_class(arg, rng)
    if op is _c.AT:
        return ""
    if op is _c.BRANCH:
        _, options = arg
        return _emit(list(rng.choice(options)), rng, groups)
    if op is _c.SUBPATTERN:
        group, _add_flags, _del_flags, body = arg
        text = _emit(list(body), rng, groups)
        if group is not None:
            groups[group] = text
        return text
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        low, high, body = arg
        if high is _c.MAXREPEAT:
            high = low + UNBOUNDED_EXTRA
        count = rng.randint(low, max(low, min(high, low + UNBOUNDED_EXTRA)))
        return "".join(_emit(list(body), rng, groups) for _ in range(count))
    if op is _c.GROUPREF:
        return groups.get(arg, "")
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _emit(list(arg), rng, groups)
    raise UnsupportedPattern(f"unsupported regex construct {op}")


def _emit_class(items: list[tuple[Any, Any]], rng: random.Random) -> str:
    negate = bool(items) and items[0][0] is _c.NEGATE
    allowed: list[str] = []
    for op, arg in items[1:] if negate else items:
        if op is _c.LITERAL:
            allowed.append(chr(arg))
        elif op is _c.RANGE:
            low, high = arg
            allowed.extend(chr(code) for code in range(low, min(high, low + 200) + 1))
        elif op is _c.CATEGORY:
            allowed.extend(_CATEGORIES.get(arg, ""))
        else:
            raise UnsupportedPattern(f"unsupported regex class item {op}")
    if negate:
        excluded = set(allowed)
        allowed = [ch for ch in _PRINTABLE if ch not in excluded]
    # Whitespace other than a plain space would break line-based renderings; prefer printable choices.
    allowed = [ch for ch in allowed if ch == " " or not ch.isspace()]
    if not allowed:
        raise UnsupportedPattern("empty character class")
    return rng.choice(allowed)
