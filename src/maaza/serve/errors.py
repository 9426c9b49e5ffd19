"""The server's one error type: an HTTP status plus OpenAI's error body (`{"error": {message, type, param, code}}`)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request the server answers with `status` and a message saying what to change."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # OpenAI's field name
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def limit_error(name: str, value: int, limit: int, *, param: str | None = None, status: int = 400) -> ApiError:
    """A request over limit `name`: says the limit, the value sent and the server option that sets it."""
    return ApiError(status, f"{name} limit exceeded: {value} > {limit}", param=param, code=f"{name}_exceeded")
