"""Start llama-cpp-python's OpenAI-compatible server on loopback, for a local teacher without any network.

Used by the loopback teacher test and by `benchmarks/data_lift.py` (local-server teacher throughput). Users
with their own endpoint (vLLM, Ollama, a llama.cpp server) just pass `--teacher-url`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from maaza.errors import MaazaError

SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as response:
            return response.status == 200 and bool(json.loads(response.read())["data"])
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError, KeyError):
        return False


@contextmanager
def llama_cpp_server(
    gguf: str | Path,
    *,
    alias: str,
    log_path: Path,
    n_ctx: int = 2048,
    startup_seconds: float = 120.0,
) -> Iterator[str]:
    """Run `python -m llama_cpp.server` on a free loopback port; yield its base URL; always stop it.

    A server that exits or is not answering `/v1/models` within `startup_seconds` is a MaazaError carrying
    the tail of its log.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
    ]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup_seconds
        while not _ready(url):
            if process.poll() is not None:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise MaazaError(f"llama_cpp.server exited with {process.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise MaazaError(
                    f"llama_cpp.server not ready after {startup_seconds:.0f} s (log: {log_path})"
                )
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
