"""The openai teacher against a real OpenAI-compatible server: llama-cpp-python's, on 127.0.0.1.

The server (`python -m llama_cpp.server`) serves the bundled SmolLM2-135M Q4_1 GGUF; the teacher rewrites
two short texts through it, then a second teacher on the same cache file answers them without any HTTP
call, and a resumed run only asks for the job it has not seen.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from data_helpers import NESTED_SCHEMA

from maaza.data.local_server import SERVER_MODULES, llama_cpp_server
from maaza.data.teachers import OpenAITeacher
from maaza.errors import MaazaError

missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        bool(missing),
        reason=f"llama-cpp-python's server is not installed (missing {', '.join(missing)}): "
        "MAAZA_WITH_LLAMACPP=1 scripts/setup.sh",
    ),
]

STARTUP_SECONDS = 120.0  # generous: a busy machine (nice 19 beside a benchmark) starts it slowly
RECORD = {
    "shipment_id": "SH-77",
    "customer": {"name": "Ann Lee", "email": "ann@x.io"},
    "items": [{"sku": "K9", "quantity": 2, "price": 12.5}],
}
JOBS = [
    ("Shipment SH-77 for Ann Lee (ann@x.io): SKU K9, quantity 2, price 12.5.", RECORD, NESTED_SCHEMA),
    ("Ann Lee (ann@x.io) gets shipment SH-77: 2 x K9 at 12.5 each.", RECORD, NESTED_SCHEMA),
]
NEW_JOB = ("SH-77: K9 x2 (12.5) to Ann Lee, ann@x.io.", RECORD, NESTED_SCHEMA)


def _bundled_gguf() -> Path:
    from maaza.models.registry import BUILTIN_MODELS

    try:
        return BUILTIN_MODELS["smollm2-135m"].locate_gguf()
    except MaazaError as exc:
        pytest.skip(f"bundled SmolLM2 GGUF not available: {exc}")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bundled GGUF served on a free loopback port for this module; always stopped afterwards."""
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    try:
        with llama_cpp_server(
            _bundled_gguf(), alias="smollm2", log_path=log_path, startup_seconds=STARTUP_SECONDS
        ) as url:
            yield url
    except MaazaError as exc:
        pytest.fail(str(exc))


def _teacher(url: str, cache: Path) -> OpenAITeacher:
    # temperature 0 (the default) and a short answer keep the 135M model quick and deterministic.
    return OpenAITeacher(
        f"{url}/v1",
        "smollm2",
        cache_path=cache,
        concurrency=2,
        timeout=300,  # generous: a busy machine (a benchmark beside the tests) starves the server
        max_retries=1,
        backoff=0.1,
        max_tokens=48,
    )


def test_openai_teacher_against_llama_cpp_server(llama_server: str, tmp_path: Path) -> None:
    cache = tmp_path / "teacher_cache.jsonl"
    teacher = _teacher(llama_server, cache)
    assert teacher.endpoint == f"{llama_server}/v1/chat/completions"
    first = teacher.rewrite_many(JOBS)
    assert all(isinstance(out, str) for out in first), first
    assert teacher.http_calls == 2 and teacher.cache_hits == 0
    entries = [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines()]
    assert len(entries) == 2 and all(e["model"] == "smollm2" and e["response"].strip() for e in entries)

    again = _teacher(llama_server, cache)  # a new run on the same cache: no request at all
    assert again.cache.loaded == 2
    assert again.rewrite_many(JOBS) == first
    assert again.http_calls == 0 and again.cache_hits == 2

    resumed = again.rewrite_many([JOBS[0], NEW_JOB])  # one seen job, one new: a single request
    assert resumed[0] == first[0] and isinstance(resumed[1], str)
    assert again.http_calls == 1 and again.cache_hits == 3
    assert len(cache.read_text(encoding="utf-8").splitlines()) == 3
