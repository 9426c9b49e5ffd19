"""Teachers (maaza.data.teachers) against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from data_helpers import NESTED_SCHEMA, cli, write_schemas

from maaza.data.engine import run_generation
from maaza.data.teachers import (
    HFTeacher,
    OpenAITeacher,
    ResponseCache,
    TemplateTeacher,
    chat_endpoint,
    clean_output,
    make_teacher,
    rewrite_prompt,
)
from maaza.data.validate import ungrounded_leaves
from maaza.errors import IntegrityWarning, MaazaError
from maaza.tasks.edgejson.generator import build_task

_TEXT = re.compile(r"<text>\n(.*)\n</text>", re.DOTALL)
_VALUES = re.compile(r"Values to keep verbatim:\n(.*?)\n\n<text>", re.DOTALL)


class FakeChatServer:
    """`/v1/chat/completions` on 127.0.0.1: echoes the text with a prefix; can fail or alter values."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail_next = 0  # answer this many requests with HTTP 500
        self.fail_status = 500
        self.always_fail = False
        self.alter: Callable[[int], bool] = lambda call: False  # alter a value on these call numbers
        self.auth: list[str | None] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.calls += 1
                    call = server.calls
                    server.auth.append(self.headers.get("Authorization"))
                    fail = server.always_fail or server.fail_next > 0
                    if server.fail_next > 0:
                        server.fail_next -= 1
                if self.path != "/v1/chat/completions":
                    self.send_error(404)
                    return
                if fail:
                    self.send_response(server.fail_status)
                    self.end_headers()
                    self.wfile.write(b'{"error": "busy"}')
                    return
                prompt = body["messages"][-1]["content"]
                text = _TEXT.search(prompt).group(1)  # type: ignore[union-attr]
                if server.alter(call):
                    first = _VALUES.search(prompt).group(1).splitlines()[0][2:]  # type: ignore[union-attr]
                    text = text.replace(first, first + "7" if first[-1:].isdigit() else first + "x")
                answer = {"choices": [{"message": {"role": "assistant", "content": f"Hi there!\n{text}"}}]}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    fake = FakeChatServer()
    yield fake
    fake.close()


def _teacher(server: FakeChatServer, tmp_path: Path | None = None, **kwargs: Any) -> OpenAITeacher:
    options: dict[str, Any] = {"backoff": 0.01, "max_retries": 3, "timeout": 5, "concurrency": 3}
    options.update(kwargs)
    cache = tmp_path / "cache.jsonl" if tmp_path is not None else None
    return OpenAITeacher(server.url, "fake-model", "secret", cache_path=cache, **options)


RECORD = {"shipment_id": "SH-77", "customer": {"name": "Ann Lee", "email": "ann@x.io"},
          "items": [{"sku": "K9", "quantity": 2, "price": 12.5}]}
TEXT = "Shipment SH-77 for Ann Lee (ann@x.io): SKU K9, quantity 2, price 12.5."


def test_round_trip_through_loopback_server(server: FakeChatServer) -> None:
    teacher = _teacher(server)
    out = teacher.rewrite(TEXT, RECORD, NESTED_SCHEMA)
    assert out == f"Hi there!\n{TEXT}"
    assert ungrounded_leaves(RECORD, out) == []
    assert server.calls == 1 and server.auth == ["Bearer secret"]
    assert teacher.name == "openai:fake-model" and "secret" not in json.dumps(teacher.describe())


def test_retry_after_a_500(server: FakeChatServer) -> None:
    server.fail_next = 1
    teacher = _teacher(server)
    assert teacher.rewrite(TEXT, RECORD, NESTED_SCHEMA).startswith("Hi there!")
    assert server.calls == 2 and teacher.http_calls == 2


def test_value_changing_rewrite_is_rejected(server: FakeChatServer, tmp_path: Path) -> None:
    schemas = write_schemas(tmp_path / "schemas", {"medium/shipment": NESTED_SCHEMA})
    server.alter = lambda call: call % 2 == 1  # every other answer changes a value
    teacher = _teacher(server, concurrency=1)
    result = run_generation(build_task(schemas), teacher, n=6, seed=0, max_attempts=1)
    ungrounded = {k: v for k, v in result.rejects.items() if k.startswith("ungrounded:")}
    assert sum(ungrounded.values()) == 3 and len(result.samples) == 3
    for sample in result.samples:
        assert sample.text.startswith("Hi there!") and ungrounded_leaves(sample.record, sample.text) == []


def test_cache_makes_a_second_run_free(server: FakeChatServer, tmp_path: Path) -> None:
    jobs = [(f"{TEXT} #{i}", RECORD, NESTED_SCHEMA) for i in range(4)]
    first = _teacher(server, tmp_path).rewrite_many(jobs)
    assert server.calls == 4
    with (tmp_path / "cache.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"key": "torn li')  # an interrupted write must not break the next run
    with pytest.warns(IntegrityWarning, match=r"cache\.jsonl: 1 damaged line\(s\) not used \(line 5"):
        again = _teacher(server, tmp_path)
    assert again.cache.loaded == 4
    assert not (tmp_path / "cache.jsonl").read_text().endswith("torn li")  # cut: the next append starts clean
    assert again.rewrite_many(jobs) == first
    assert server.calls == 4 and again.http_calls == 0 and again.cache_hits == 4


def test_fatal_status_and_dead_endpoint_are_errors(server: FakeChatServer) -> None:
    server.always_fail, server.fail_status = True, 401
    with pytest.raises(MaazaError, match="HTTP 401"):
        _teacher(server).rewrite_many([(TEXT, RECORD, NESTED_SCHEMA)])
    server.fail_status = 503
    flaky = _teacher(server, max_retries=1, abort_after=3)
    assert all(isinstance(r, Exception) for r in flaky.rewrite_many([(TEXT, RECORD, NESTED_SCHEMA)] * 2))
    with pytest.raises(MaazaError, match="3 teacher requests in a row failed"):
        flaky.rewrite_many([(TEXT, RECORD, NESTED_SCHEMA)])


def test_cli_with_openai_teacher_resumes_from_cache(server: FakeChatServer, tmp_path: Path) -> None:
    schemas = write_schemas(tmp_path / "schemas", {"medium/shipment": NESTED_SCHEMA})
    out = tmp_path / "out"
    argv = ["data", "generate", "--schemas", str(schemas), "--n", "6", "--out", str(out), "--teacher", "openai",
            "--teacher-url", server.url, "--teacher-model", "fake-model", "--no-progress",
            "--val-fraction", "0", "--test-fraction", "0"]
    assert cli(argv) == 0
    calls = server.calls
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(r["teacher"] == "openai:fake-model" for r in rows)
    assert all(r["prompt"].startswith("Hi there!") for r in rows)
    assert (out / "teacher_cache.jsonl").is_file()
    first = (out / "train.jsonl").read_bytes()
    assert cli(argv) == 0
    assert server.calls == calls and (out / "train.jsonl").read_bytes() == first


def test_openai_settings_come_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAZA_TEACHER_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("MAAZA_TEACHER_MODEL", "m")
    teacher = make_teacher("openai")
    assert teacher.endpoint == "http://127.0.0.1:9/v1/chat/completions" and teacher.model == "m"
    monkeypatch.delenv("MAAZA_TEACHER_URL")
    with pytest.raises(MaazaError, match="MAAZA_TEACHER_URL"):
        make_teacher("openai")
    assert isinstance(make_teacher("template"), TemplateTeacher)


def test_prompt_cleanup_and_endpoints(tmp_path: Path) -> None:
    prompt = rewrite_prompt(TEXT, RECORD, NESTED_SCHEMA)
    assert "- SH-77" in prompt and "- 12.5" in prompt and f"<text>\n{TEXT}\n</text>" in prompt
    assert clean_output("```text\nHello 1\n```") == "Hello 1" and clean_output('"quoted"') == "quoted"
    assert clean_output("Sure! Here is the rewritten text:\n\nAnn paid 12.5.") == "Ann paid 12.5."
    assert chat_endpoint("http://h:1/") == "http://h:1/v1/chat/completions"
    cache = ResponseCache(tmp_path / "c.jsonl")
    cache.put("k", "m", "v")
    assert ResponseCache(tmp_path / "c.jsonl").get("k") == "v"


def test_hf_teacher_with_a_tiny_local_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    teacher = HFTeacher(str(tiny_model_dir), max_new_tokens=4, cache_path=tmp_path / "hf.jsonl")
    outputs = teacher.rewrite_many([(TEXT, RECORD, NESTED_SCHEMA), ("Ann Lee, SH-77", RECORD, NESTED_SCHEMA)])
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs)
    assert all(ungrounded_leaves(RECORD, str(o)) for o in outputs)  # a random model cannot keep the values
    again = HFTeacher(str(tiny_model_dir), max_new_tokens=4, cache_path=tmp_path / "hf.jsonl")
    assert again.rewrite_many([(TEXT, RECORD, NESTED_SCHEMA)]) == outputs[:1] and again._loaded is None
