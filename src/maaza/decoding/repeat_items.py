"""Repeated array items: rewind a row that writes an earlier item of a list again, then close that list.

A fine-tuned 135M model that has listed every item of a list sometimes goes on writing items: the last one
again, or an earlier one, over and over (EdgeJSON v3 test `invoice_template_018`: four line items, then
eleven more copies of the fourth). The loop guard (`maaza.decoding.loop_guard`) notices only once a block of
tokens has come back three times, and then closes the whole JSON, so the keys after the list are lost too.

The rule here: an object item of an array that equals, as JSON text, an earlier item of the same array and
holds a free string (a string value whose schema has no `enum`/`const`: text copied from the input) is a
repeat. No gold answer of EdgeJSON v3 train has one: 5 of its 629 answers repeat an item, and every such
item is free of free strings (`{}`, `{"details": {}}`, `{"action_type": "advanced"}`).

`RepeatedItemWatcher` reads the generated text token by token and reports the first repeat (`found`): the
offset of the comma that opened the item and the depth of its array. A backend that controls its KV cache
and grammar matcher (llama.cpp) then drops the tokens from that comma on and re-reads the kept ones into a
watcher sealed at that depth: `allows(piece)` is False for a token that would write a comma inside the
sealed array, so the grammar's only way on is to close it, and the row goes on with the keys after it.

Written here because no decoding library offers it: a grammar cannot say "unlike an earlier item", and a
repetition penalty changes every token's score instead of cutting one item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from maaza.decoding.loop_guard import JsonPosition

MAX_REWINDS = 8  # per row; then the watcher stops reporting (each rewind seals one array, so few are needed)


@dataclass(frozen=True)
class Repeat:
    """A repeated item: where the comma before it starts, and the depth of its array (open containers)."""

    comma_offset: int
    depth: int


def has_free_string(value: Any, node: Any) -> bool:
    """True when `value` holds a string whose schema `node` has no enum/const (an unknown node counts)."""
    node = node if isinstance(node, dict) else {}
    if isinstance(value, str):
        return "enum" not in node and "const" not in node
    if isinstance(value, dict):
        properties = node.get("properties") or {}
        return any(has_free_string(item, properties.get(key)) for key, item in value.items())
    if isinstance(value, list):
        return any(has_free_string(item, node.get("items")) for item in value)
    return False


class RepeatedItemWatcher(JsonPosition):
    """Scans generated JSON text; `found` is set at the first repeated item (see the module docstring).

    The scanning (strings, escapes, keys, open containers) is the loop guard's `JsonPosition`; this class
    adds, per open array, its finished item texts, where its current object item starts and where its
    last comma is."""

    def __init__(self, schema: dict[str, Any] | None, sealed_depth: int | None = None, detect: bool = True) -> None:
        super().__init__()
        self.schema = schema or {}
        self.sealed_depth = sealed_depth  # commas are vetoed while this array is open
        self.detect = detect
        self.output = ""  # all text fed (JsonPosition's `text` is the current key)
        self.token_ends: list[int] = []  # len(self.output) after each fed token
        self.found: Repeat | None = None
        self._offset = 0  # offset of the character being read

    def feed(self, piece: str) -> None:
        """Read one token's text (after the top-level object closes too, as JsonPosition.feed does not)."""
        start = len(self.output)
        self.output += piece
        for self._offset, char in enumerate(piece, start):
            self._char(char)
        self.token_ends.append(len(self.output))

    def tokens_before(self, offset: int) -> int:
        """How many fed tokens end at or before character `offset` (the tokens a rewind keeps)."""
        return sum(1 for end in self.token_ends if end <= offset)

    def allows(self, piece: str) -> bool:
        """False when `piece` would write a comma (outside strings) while the sealed array is open."""
        if self.sealed_depth is None:
            return True
        depth, in_string, escape = len(self.stack), self.in_string, self._escape
        for char in piece:
            if in_string:
                if escape:
                    escape = False
                elif char == "\\":
                    escape = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
                if depth < self.sealed_depth:
                    return True
            elif char == "," and depth >= self.sealed_depth:
                return False
        return True

    def _char(self, char: str) -> None:
        structural = not self.in_string
        depth = len(self.stack)
        super()._char(char)
        if not structural:
            return
        if len(self.stack) > depth:  # a container opened
            self.stack[-1].update(items=[], item_start=None, comma=None)
            if depth and not self.stack[-2]["object"]:
                self.stack[-2]["item_start"] = self._offset if char == "{" else None
        elif len(self.stack) < depth:  # a container closed
            if self.sealed_depth is not None and len(self.stack) < self.sealed_depth:
                self.sealed_depth = None
            parent = self.stack[-1] if self.stack else None
            if char == "}" and parent is not None and not parent["object"] and parent["item_start"] is not None:
                self._item_closed(parent, self.output[parent["item_start"] : self._offset + 1])
        elif char == "," and self.stack and not self.stack[-1]["object"]:
            self.stack[-1]["comma"] = self._offset

    def _item_closed(self, array: dict[str, Any], item: str) -> None:
        array["item_start"] = None
        if self.detect and self.found is None and array["comma"] is not None and item in array["items"]:
            try:
                value = json.loads(item)
            except ValueError:
                value = None
            if value is not None:
                node = self.container_schema(self.schema)  # the array's; its items are one level down
                if has_free_string(value, node.get("items") if node is not None else None):
                    self.found = Repeat(array["comma"], len(self.stack))
        array["items"].append(item)
