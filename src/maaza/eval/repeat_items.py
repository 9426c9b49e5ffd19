"""Repeated array items: rewind a row that writes an earlier item of a list again, then close that list.

A fine-tuned 135M model that has listed every item of a list sometimes goes on writing items: the last one
again, or an earlier one, over and over (EdgeJSON v3 test `invoice_template_018`: four line items, then
eleven more copies of the fourth). The loop guard (`maaza.eval.loop_guard`) notices only once a block of
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


class RepeatedItemWatcher:
    """Scans generated JSON text; `found` is set at the first repeated item (see the module docstring)."""

    def __init__(self, schema: dict[str, Any] | None, sealed_depth: int | None = None, detect: bool = True) -> None:
        self.schema = schema or {}
        self.sealed_depth = sealed_depth  # commas are vetoed while this array is open
        self.detect = detect
        self.text = ""
        self.token_ends: list[int] = []  # len(self.text) after each fed token
        self.found: Repeat | None = None
        # per open container: {"array": bool, "key": str | None, "expect_key": bool,
        #                      "items": list[str], "item_start": int | None, "comma": int | None}
        self.stack: list[dict[str, Any]] = []
        self.in_string = False
        self.string_is_key = False
        self.key_text = ""
        self.escape = False

    def feed(self, piece: str) -> None:
        """Read one token's text."""
        start = len(self.text)
        self.text += piece
        for offset, char in enumerate(piece, start):
            self._char(char, offset)
        self.token_ends.append(len(self.text))

    def tokens_before(self, offset: int) -> int:
        """How many fed tokens end at or before character `offset` (the tokens a rewind keeps)."""
        return sum(1 for end in self.token_ends if end <= offset)

    def allows(self, piece: str) -> bool:
        """False when `piece` would write a comma (outside strings) while the sealed array is open."""
        if self.sealed_depth is None:
            return True
        depth, in_string, escape = len(self.stack), self.in_string, self.escape
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

    def _char(self, char: str, offset: int) -> None:
        if self.in_string:
            if self.escape:
                self.escape = False
            elif char == "\\":
                self.escape = True
            elif char == '"':
                self.in_string = False
                if self.string_is_key:
                    self.stack[-1]["key"], self.stack[-1]["expect_key"] = self.key_text, False
            elif self.string_is_key:
                self.key_text += char
            return
        if not self.stack and char != "{":
            return  # text before the top-level object
        top = self.stack[-1] if self.stack else None
        if char == '"':
            self.in_string = True
            self.string_is_key = top is not None and not top["array"] and top["expect_key"]
            self.key_text = ""
        elif char in "{[":
            if top is not None and top["array"]:
                top["item_start"] = offset if char == "{" else None
            self.stack.append({"array": char == "[", "key": None, "expect_key": char == "{", "items": [],
                               "item_start": None, "comma": None})
        elif char in "}]":
            self.stack.pop()
            if self.sealed_depth is not None and len(self.stack) < self.sealed_depth:
                self.sealed_depth = None
            parent = self.stack[-1] if self.stack else None
            if char == "}" and parent is not None and parent["array"] and parent["item_start"] is not None:
                self._item_closed(parent, self.text[parent["item_start"] : offset + 1])
        elif char == "," and top is not None:
            if top["array"]:
                top["comma"] = offset
            else:
                top["expect_key"] = True

    def _item_closed(self, array: dict[str, Any], item: str) -> None:
        array["item_start"] = None
        if self.detect and self.found is None and array["comma"] is not None and item in array["items"]:
            try:
                value = json.loads(item)
            except ValueError:
                value = None
            if value is not None and has_free_string(value, self._items_schema()):
                self.found = Repeat(array["comma"], len(self.stack))
        array["items"].append(item)

    def _items_schema(self) -> Any:
        """The schema of the items of the innermost open array (walked along the open containers' keys)."""
        node: Any = self.schema
        for container in self.stack[:-1]:
            if not isinstance(node, dict):
                return None
            node = node.get("items") if container["array"] else (node.get("properties") or {}).get(container["key"])
        return node.get("items") if isinstance(node, dict) else None
