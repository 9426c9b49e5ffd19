"""The contract every inference backend (transformers, llama.cpp, ONNX Runtime GenAI) implements.

`maaza eval`, `maaza extract` and `maaza bench speed` only talk to a `Backend`: they build prompt
strings with its Hugging Face tokenizer (chat template included) and get back measured
`Generation`s. A backend decodes greedily, stops at EOS or when the top-level JSON object closes,
and, given schemas, constrains every row to its JSON Schema.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from maaza.decoding.generate import BatchTiming, Generation
from maaza.errors import MaazaError

#: `on_token(row, token_id) -> stop`: called with every token a row outputs, as it is chosen (EOS is not output).
#: Returning True ends that row there, its finish reason "stopped" (a stop string, a cancelled request). The
#: server streams with it; `rewind_repeats` cannot be combined with it (a rewind takes tokens back).
TokenCallback = Callable[[int, int], bool]


@dataclass
class ConstraintStats:
    """Time spent compiling grammars and computing token masks (0 when unconstrained)."""

    compile_seconds: float = 0.0
    mask_seconds: float = 0.0
    mask_calls: int = 0

    def add(self, other: ConstraintStats) -> None:
        self.compile_seconds += other.compile_seconds
        self.mask_seconds += other.mask_seconds
        self.mask_calls += other.mask_calls


@dataclass
class BackendBatch:
    """What one `Backend.generate` call returns: one Generation per prompt plus timings."""

    generations: list[Generation]
    timing: BatchTiming
    constraint: ConstraintStats = field(default_factory=ConstraintStats)


class Backend(ABC):
    """A loaded model behind one runtime."""

    name: str  # "hf", "llamacpp", "onnx"
    tokenizer: Any  # a transformers tokenizer: builds prompts (chat template) and counts tokens
    metadata: dict[str, Any]  # the model folder's maaza.json (prompt_format, name, ...), {} if none
    #: True when rows of one call are decoded together; False when the backend loops row by row.
    batched: bool = True
    #: True when the backend can drop generated tokens again (KV cache and grammar), for `rewind_repeats`.
    can_rewind: bool = False

    @abstractmethod
    def generate(
        self,
        prompts: list[str],
        schemas: list[dict[str, Any]] | None = None,
        *,
        max_new_tokens: int = 512,
        stop_on_json_close: bool = True,
        lenient_datetime: bool = True,
        loop_guard: bool = True,
        rewind_repeats: bool = False,
        on_token: TokenCallback | None = None,
    ) -> BackendBatch:
        """Greedy-decode `prompts`; with `schemas` (one per prompt) every output follows its schema.

        `loop_guard` (constrained rows only): steer a row that repeats itself or nears `max_new_tokens` to
        close its JSON within the grammar (`maaza.decoding.loop_guard`); such rows finish as "closed_on_loop" or
        "closed_on_budget".

        `rewind_repeats` (constrained rows, backends with `can_rewind`): drop an array item that repeats an
        earlier one and close its array (`maaza.decoding.repeat_items`); such rows' finish reasons end in
        "_after_rewind". Backends without it raise MaazaError (`check_rewind`).

        `on_token` (`TokenCallback`): sees each output token as it is chosen and may end its row ("stopped").

        Raises `maaza.decoding.constrained.ConstraintError` when a schema cannot be compiled.
        """

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Name, base, path, params, backend, precision, file_size_bytes ... for results JSONs."""

    def check_rewind(self, rewind_repeats: bool) -> None:
        """Raise MaazaError when `rewind_repeats` is asked of a backend that cannot rewind tokens."""
        if rewind_repeats and not self.can_rewind:
            raise MaazaError(
                f"rewinding repeated items needs the llamacpp backend, not {type(self).__name__}: it drops "
                "generated tokens from the KV cache and the grammar matcher"
            )

    @staticmethod
    def check_token_callback(on_token: TokenCallback | None, rewind_repeats: bool) -> None:
        """Raise MaazaError when a token callback is combined with rewinding (it would see tokens taken back)."""
        if on_token is not None and rewind_repeats:
            raise MaazaError("on_token cannot be combined with rewind_repeats: a rewind takes streamed tokens back")

    @staticmethod
    def check_schemas(prompts: list[str], schemas: list[dict[str, Any]] | None) -> None:
        """Raise MaazaError unless `schemas` is None or holds one schema per prompt."""
        if schemas is not None and len(schemas) != len(prompts):
            raise MaazaError(f"{len(prompts)} prompts but {len(schemas)} schemas")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release native resources (servers, sessions); default: nothing to do."""
