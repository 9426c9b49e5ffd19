"""The server's options and request limits, one frozen dataclass each (defaults are the CLI's defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field

from maaza.errors import MaazaError


@dataclass(frozen=True)
class Limits:
    """What one request may ask; a request over a limit gets 413 (body) or 400 naming the limit."""

    max_body_bytes: int = 1_000_000
    max_messages: int = 64
    max_input_chars: int = 32_000  # all message texts (or an extraction/classification text) together
    max_schema_bytes: int = 32_000  # a response_format / extract schema or a tools list, as compact JSON
    max_schema_depth: int = 16
    max_tokens: int = 1024  # the largest max_tokens a request may ask for
    default_max_tokens: int = 512
    max_stop: int = 4
    max_tools: int = 32
    max_inputs: int = 64  # texts in one /v1/classify or /v1/filter request

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or value < 1:
                raise MaazaError(f"limit {name} must be a positive integer, got {value!r}")
        if self.default_max_tokens > self.max_tokens:
            raise MaazaError("default_max_tokens cannot exceed max_tokens")


@dataclass(frozen=True)
class ServeSettings:
    """How the server runs. `api_key` is never printed (repr hides it) nor logged."""

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = field(default=None, repr=False)
    queue_size: int = 32  # requests waiting or running per model; more get 429 + Retry-After
    max_batch: int = 8  # concurrent requests decoded together on a backend that batches (hf)
    drain_seconds: float = 30.0  # on SIGTERM: how long in-flight requests may take to finish
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if self.queue_size < 1 or self.max_batch < 1:
            raise MaazaError("queue_size and max_batch must be at least 1")
        if self.drain_seconds < 0:
            raise MaazaError("drain_seconds cannot be negative")
        if self.api_key is not None and not self.api_key.strip():
            raise MaazaError("the API key is empty; unset it or give a non-empty key")
