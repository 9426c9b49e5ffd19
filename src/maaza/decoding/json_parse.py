"""Recover a JSON object from free-form model output, and detect when a streamed object has closed.

`parse_json_output` tries, in order: the whole (stripped) text, markdown code fences, and finally a
bracket scanner that finds balanced top-level objects at any nesting depth. Unlike the EdgeJSON
authors' regex (which silently misses objects nested deeper than two levels), the scanner tracks
JSON strings and backslash escapes, so braces inside string values never confuse it.

`find_json_object_end` and `JsonObjectTracker` expose the same scanner for use as a streaming stop
criterion ("stop generating once the top-level object closes"); the tracker is incremental and
costs O(new characters) per `feed`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

ParseMethod = Literal["whole", "fenced", "scan", "fail"]

# Outside a JSON string only braces and the opening quote matter; inside one, only the closing
# quote and backslash escapes. Jumping between these with a regex keeps the scan cheap in Python.
_SPECIAL_OUTSIDE_STRING = re.compile(r'[{}"]')
_SPECIAL_INSIDE_STRING = re.compile(r'["\\]')
# ```json ... ``` or ``` ... ``` (any info string); the body is matched lazily up to the closing fence.
_MARKDOWN_FENCE = re.compile(r"```[A-Za-z0-9_+.-]*[^\S\n]*\n?(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class ParseResult:
    """Outcome of `parse_json_output`: the recovered object (None on failure) and how it was found."""

    value: Any | None
    method: ParseMethod

    @property
    def ok(self) -> bool:
        return self.value is not None


@dataclass
class _ScanState:
    """Mutable scanner state inside a top-level object (depth >= 1 while the object is open)."""

    depth: int = 0
    in_string: bool = False
    escape_pending: bool = False


def _advance_scan(state: _ScanState, text: str, pos: int) -> int | None:
    """Scan `text[pos:]` inside an already-opened object; return the index just past the closing brace.

    Returns None (with `state` updated) when the text runs out before the object closes, so scanning
    can resume with the next chunk of a stream.
    """
    length = len(text)
    if state.escape_pending:
        if pos >= length:
            return None
        pos += 1  # the escaped character, whatever it is, cannot end the string
        state.escape_pending = False
    while pos < length:
        if state.in_string:
            match = _SPECIAL_INSIDE_STRING.search(text, pos)
            if match is None:
                return None
            pos = match.end()
            if match.group() == '"':
                state.in_string = False
            elif pos >= length:
                state.escape_pending = True
                return None
            else:
                pos += 1
        else:
            match = _SPECIAL_OUTSIDE_STRING.search(text, pos)
            if match is None:
                return None
            pos = match.end()
            char = match.group()
            if char == '"':
                state.in_string = True
            elif char == "{":
                state.depth += 1
            else:
                state.depth -= 1
                if state.depth == 0:
                    return pos
    return None


def find_json_object_end(text: str, start: int = 0) -> int | None:
    """Index just past the `}` closing the object that opens at the first `{` at/after `start`.

    Returns None when there is no `{` or the object has not closed yet (partial text). Braces inside
    JSON strings and escaped quotes are handled; nesting depth is unlimited.
    """
    open_brace = text.find("{", start)
    if open_brace < 0:
        return None
    return _advance_scan(_ScanState(depth=1), text, open_brace + 1)


class JsonObjectTracker:
    """Incremental detector for the close of the first top-level JSON object in a text stream.

    Feed decoded text chunks as they are generated; `feed` returns True once the first object has
    closed. `started_at` / `closed_at` are character offsets into the concatenation of everything fed
    (`closed_at` is just past the closing brace, i.e. the object is `full_text[started_at:closed_at]`).
    """

    def __init__(self) -> None:
        self.started_at: int | None = None
        self.closed_at: int | None = None
        self._chars_fed = 0
        self._state = _ScanState()

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    def feed(self, text_chunk: str) -> bool:
        chunk_offset = self._chars_fed
        self._chars_fed += len(text_chunk)
        if self.closed_at is not None:
            return True
        pos = 0
        if self.started_at is None:
            open_brace = text_chunk.find("{")
            if open_brace < 0:
                return False
            self.started_at = chunk_offset + open_brace
            self._state.depth = 1
            pos = open_brace + 1
        end = _advance_scan(self._state, text_chunk, pos)
        if end is None:
            return False
        self.closed_at = chunk_offset + end
        return True


def _loads_object(candidate: str) -> dict[str, Any] | None:
    try:
        value = json.loads(candidate)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError; absurd nesting recurses
        return None
    return value if isinstance(value, dict) else None


def parse_json_output(text: str) -> ParseResult:
    """Recover the JSON object a model meant to emit.

    Tries, in order: `json.loads` of the stripped text ("whole"), the body of each markdown code fence
    ("fenced"), then balanced top-level objects found by the string-aware bracket scanner ("scan").
    Only a JSON object counts as success: a top-level list or scalar falls through to the later steps.
    When a balanced candidate fails to parse (e.g. single-quoted keys) scanning resumes after its end,
    so a nested fragment of a broken object is never returned. An object that never closes (truncated
    generation) is a failure.
    """
    whole = _loads_object(text.strip())
    if whole is not None:
        return ParseResult(whole, "whole")

    for fence in _MARKDOWN_FENCE.finditer(text):
        fenced = _loads_object(fence.group(1).strip())
        if fenced is not None:
            return ParseResult(fenced, "fenced")

    search_from = 0
    while True:
        open_brace = text.find("{", search_from)
        if open_brace < 0:
            break
        end = find_json_object_end(text, open_brace)
        if end is None:
            break
        scanned = _loads_object(text[open_brace:end])
        if scanned is not None:
            return ParseResult(scanned, "scan")
        search_from = end
    return ParseResult(None, "fail")
