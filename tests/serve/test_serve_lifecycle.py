"""A client that goes away cancels its generation; SIGTERM lets in-flight requests finish, then the server exits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_helpers import live_server

from maaza.serve.settings import Limits, ServeSettings

LONG = 2000  # tokens: ~3 s on the tiny model, far longer than the tests wait before hanging up
BODY = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": LONG}


def _metric(text: str, prefix: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


def _wait_idle(app: Any, seconds: float = 10) -> float:
    started = time.monotonic()
    while app.state.maaza.workers["tiny"].depth():
        assert time.monotonic() - started < seconds, "the worker is still busy: generation was not cancelled"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "plain"])
def test_client_disconnect_cancels_generation(served_tiny: Any, stream: bool) -> None:
    with live_server([served_tiny], ServeSettings(limits=Limits(max_tokens=LONG))) as (url, app):
        before = _metric(httpx.get(url + "/metrics").text, 'maaza_generated_tokens_total{model="tiny"}')
        if stream:
            with httpx.stream("POST", url + "/v1/chat/completions", json={**BODY, "stream": True}, timeout=30) as r:
                lines = r.iter_lines()
                assert next(lines).startswith("data: ")  # the role chunk: generation has started
            # leaving the block closes the connection mid-stream
        else:
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(url + "/v1/chat/completions", json=BODY, timeout=httpx.Timeout(30, read=0.4))
        _wait_idle(app)
        text = httpx.get(url + "/metrics").text
        generated = _metric(text, 'maaza_generated_tokens_total{model="tiny"}') - before
        assert generated < LONG / 2, f"{generated} tokens generated after the client left"
        assert _metric(text, 'maaza_cancelled_total{endpoint="/v1/chat/completions"}') >= 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_drains_in_flight_requests_then_exits(tiny_model_dir: Path, tmp_path: Path) -> None:
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "maaza", "serve", "--model", f"tiny={tiny_model_dir}", "--port", str(port),
         "--max-tokens", str(LONG), "--drain-seconds", "20", "--log-level", "info"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        chunks: list[dict[str, Any]] = []
        with httpx.stream("POST", url + "/v1/chat/completions", json={**BODY, "stream": True}, timeout=60) as r:
            lines = (line for line in r.iter_lines() if line)
            chunks.append(json.loads(next(lines)[6:]))
            process.send_signal(signal.SIGTERM)  # mid-generation
            done = False
            for line in lines:
                if line == "data: [DONE]":
                    done = True
                    break
                chunks.append(json.loads(line[6:]))
        assert done, "the in-flight stream was cut off"
        assert chunks[-1]["choices"][0]["finish_reason"] == "length"
        assert process.wait(30) == 0
        with pytest.raises(httpx.TransportError):  # nothing listens any more
            httpx.get(url + "/health", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "Shutting down" in output
