"""Teachers rewrite a rendered text more naturally; all share `rewrite(text, record, schema) -> str`.

- `template` (default, offline): returns the rendered text unchanged.
- `openai`: any OpenAI-compatible `/v1/chat/completions` endpoint (vLLM, Ollama, llama.cpp server),
  called with `urllib.request` from a thread pool, retried with exponential backoff on 429/5xx,
  timeouts and connection errors, and cached on disk (JSONL keyed by sha256 of model + prompt,
  one line appended per answer) so an interrupted run resumes without asking again.
- `hf`: a local transformers model (`maaza.models.load_model`), greedy decoding, same prompt and cache.

A rewrite that drops or alters a value is not repaired here: the grounding validator rejects it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from maaza.data.render import surface
from maaza.data.validate import record_leaves
from maaza.errors import MaazaError

URL_ENV = "MAAZA_TEACHER_URL"
MODEL_ENV = "MAAZA_TEACHER_MODEL"
KEY_ENV = "MAAZA_TEACHER_API_KEY"
TEACHERS = ("template", "openai", "hf")

REWRITE_SYSTEM = (
    "You rewrite structured notes as natural text that a real person would write. "
    "You never change, drop or invent facts."
)
MAX_LISTED_VALUES = 80
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
FATAL_STATUS = frozenset({401, 403, 404, 405})  # wrong key, model or URL: stop the run


def rewrite_prompt(text: str, record: Any, schema: Any = None) -> str:
    """The user message asking for a natural rewrite that keeps every value verbatim."""
    values = list(dict.fromkeys(surface(value) for _, value in record_leaves(record)))
    listed = "\n".join(f"- {value}" for value in values[:MAX_LISTED_VALUES])
    return (
        "Rewrite the text between <text> and </text> so it reads naturally, like something a real person "
        "wrote. Keep the same kind of document (message, e-mail, log line, table, notes). Keep every value "
        "listed below exactly as written: same characters, digits, capitalisation and punctuation. Do not "
        "drop any value, do not add facts, do not answer in JSON. Reply with the rewritten text only.\n\n"
        f"Values to keep verbatim:\n{listed}\n\n<text>\n{text}\n</text>"
    )


_FENCE = re.compile(r"^```[a-zA-Z]*\n(.*?)\n```$", re.DOTALL)
_PREAMBLE = re.compile(r"^(sure|certainly|of course|here(?:'s| is| are))\b[^\n]*:[ \t]*\n+", re.IGNORECASE)


def clean_output(text: str) -> str:
    """Strip what chat models wrap around an answer: code fences, <text> tags, surrounding quotes."""
    out = _PREAMBLE.sub("", text.strip(), count=1).strip()
    match = _FENCE.match(out)
    if match:
        out = match.group(1).strip()
    if out.startswith("<text>") and out.endswith("</text>"):
        out = out[len("<text>"):-len("</text>")].strip()
    if len(out) > 1 and out[0] == out[-1] == '"' and '"' not in out[1:-1]:
        out = out[1:-1].strip()
    return out


def cache_key(model: str, prompt: str) -> str:
    return hashlib.sha256(json.dumps([model, prompt], ensure_ascii=False).encode("utf-8")).hexdigest()


class ResponseCache:
    """Append-only JSONL of teacher answers, `{"key", "model", "response"}` per line with its sha256
    (`maaza.io.append_checked_lines`), re-read on start: a torn or damaged line is not used (a warning names
    it) and an earlier good answer for the same key, if any, stays in use; its prompt is otherwise asked again.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        from maaza.io import read_checked_lines

        self.path = Path(path) if path is not None else None
        self._entries: dict[str, str] = {}
        self._lock = threading.Lock()
        for entry in read_checked_lines(self.path, what="teacher cache") if self.path is not None else []:
            if isinstance(entry.get("key"), str) and isinstance(entry.get("response"), str):
                self._entries[entry["key"]] = entry["response"]
        self.loaded = len(self._entries)

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, model: str, response: str) -> None:
        from maaza.io import append_checked_lines

        with self._lock:
            self._entries[key] = response
            if self.path is not None:
                append_checked_lines(self.path, [{"key": key, "model": model, "response": response}])


class TeacherError(RuntimeError):
    """One rewrite failed after all retries (the sample is rejected, the run goes on)."""


class TemplateTeacher:
    """The offline default: the rendered text is the final text."""

    name = "template"

    def rewrite(self, text: str, record: Any, schema: Any) -> str:
        return text

    def rewrite_many(self, jobs: Sequence[tuple[str, Any, Any]]) -> list[str | BaseException]:
        return [text for text, _, _ in jobs]

    def describe(self) -> dict[str, Any]:
        return {"kind": "template"}


def chat_endpoint(url: str) -> str:
    """`http://host:8000`, `.../v1` or the full `.../v1/chat/completions` -> the full endpoint."""
    base = url.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if base.endswith("/v1"):
        return base + "/chat/completions"
    return base + "/v1/chat/completions"


class OpenAITeacher:
    """An OpenAI-compatible chat endpoint with a thread pool, retries with backoff and a disk cache."""

    def __init__(
        self,
        url: str,
        model: str,
        api_key: str | None = None,
        *,
        concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        cache_path: str | os.PathLike[str] | None = None,
        abort_after: int = 8,
    ) -> None:
        if not url:
            raise MaazaError(f"the openai teacher needs an endpoint: pass --teacher-url or set {URL_ENV}")
        if not model:
            raise MaazaError(f"the openai teacher needs a model name: pass --teacher-model or set {MODEL_ENV}")
        if concurrency < 1:
            raise MaazaError("--concurrency must be at least 1")
        self.endpoint = chat_endpoint(url)
        self.model = model
        self.api_key = api_key
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.cache = ResponseCache(cache_path)
        self.name = f"openai:{model}"
        self.http_calls = 0
        self.cache_hits = 0
        self.abort_after = abort_after  # this many failed rewrites in a row stop the run
        self._consecutive_failures = 0
        self._count_lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        """Teacher settings for stats.json (never the API key)."""
        return {"kind": "openai", "endpoint": self.endpoint, "model": self.model, "concurrency": self.concurrency,
                "temperature": self.temperature, "max_tokens": self.max_tokens, "max_retries": self.max_retries,
                "cache": str(self.cache.path) if self.cache.path else None}

    def rewrite(self, text: str, record: Any, schema: Any) -> str:
        prompt = rewrite_prompt(text, record, schema)
        key = cache_key(self.model, prompt)
        cached = self.cache.get(key)
        if cached is not None:
            with self._count_lock:
                self.cache_hits += 1
            return clean_output(cached)
        response = self._complete(prompt)
        self.cache.put(key, self.model, response)
        return clean_output(response)

    def rewrite_many(self, jobs: Sequence[tuple[str, Any, Any]]) -> list[str | BaseException]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(self.rewrite, *job) for job in jobs]
            results: list[str | BaseException] = []
            for future in futures:
                error = future.exception()
                if isinstance(error, MaazaError):
                    raise error
                results.append(error if error is not None else future.result())
        for result in results:
            self._consecutive_failures = self._consecutive_failures + 1 if isinstance(result, BaseException) else 0
            if self._consecutive_failures >= self.abort_after:
                raise MaazaError(f"{self._consecutive_failures} teacher requests in a row failed; is {self.endpoint} "
                                 f"up? last error: {result}")
        return results

    def _complete(self, prompt: str) -> str:
        body = json.dumps({
            "model": self.model,
            "messages": [{"role": "system", "content": REWRITE_SYSTEM}, {"role": "user", "content": prompt}],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last_error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            request = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
            wait: float | None = None
            with self._count_lock:
                self.http_calls += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return _message_content(json.loads(response.read().decode("utf-8")))
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:200]
                if exc.code in FATAL_STATUS:
                    raise MaazaError(f"teacher endpoint {self.endpoint} answered HTTP {exc.code}: {detail}") from None
                if exc.code not in RETRYABLE_STATUS:
                    raise TeacherError(f"{self.endpoint}: HTTP {exc.code}: {detail}") from None
                last_error = f"HTTP {exc.code}"
                wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last_error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError) as exc:
                last_error = f"malformed response: {exc}"
            if attempt < self.max_retries:
                time.sleep(min(self.max_backoff, wait if wait is not None else self.backoff * (2 ** attempt)))
        raise TeacherError(f"{self.endpoint}: gave up after {self.max_retries + 1} tries ({last_error})")


def _message_content(payload: dict[str, Any]) -> str:
    content = payload["choices"][0]["message"]["content"]
    if not isinstance(content, str):
        raise TypeError("message content is not a string")
    return content


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class HFTeacher:
    """A local transformers causal LM (bundled name, folder or hub id), greedy decoding, batched."""

    def __init__(
        self,
        model: str,
        *,
        max_new_tokens: int = 512,
        dtype: str = "float32",
        batch_size: int = 4,
        cache_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model_name = model
        self.max_new_tokens = max_new_tokens
        self.dtype = dtype
        self.batch_size = max(1, batch_size)
        self.cache = ResponseCache(cache_path)
        self.name = f"hf:{model}"
        self._loaded: Any = None

    def describe(self) -> dict[str, Any]:
        return {"kind": "hf", "model": self.model_name, "max_new_tokens": self.max_new_tokens, "dtype": self.dtype,
                "cache": str(self.cache.path) if self.cache.path else None}

    def _load(self) -> Any:
        if self._loaded is None:
            from maaza.models import load_model

            self._loaded = load_model(self.model_name, dtype=self.dtype)
        return self._loaded

    def _chat_text(self, prompt: str) -> str:
        tokenizer = self._load().tokenizer
        if getattr(tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": REWRITE_SYSTEM}, {"role": "user", "content": prompt}]
            return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        return f"{REWRITE_SYSTEM}\n\n{prompt}\n\nRewritten text:\n"

    def rewrite(self, text: str, record: Any, schema: Any) -> str:
        result = self.rewrite_many([(text, record, schema)])[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def rewrite_many(self, jobs: Sequence[tuple[str, Any, Any]]) -> list[str | BaseException]:
        prompts = [rewrite_prompt(text, record, schema) for text, record, schema in jobs]
        keys = [cache_key(self.model_name, prompt) for prompt in prompts]
        answers: list[str | None] = [self.cache.get(key) for key in keys]
        todo = [i for i, answer in enumerate(answers) if answer is None]
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start:start + self.batch_size]
            outputs = self._generate([self._chat_text(prompts[i]) for i in batch])
            for index, output in zip(batch, outputs, strict=True):
                self.cache.put(keys[index], self.model_name, output)
                answers[index] = output
        return [clean_output(answer or "") for answer in answers]

    def _generate(self, texts: list[str]) -> list[str]:
        import torch

        loaded = self._load()
        tokenizer, model = loaded.tokenizer, loaded.model
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
        return [tokenizer.decode(row, skip_special_tokens=True) for row in new_tokens]


def make_teacher(
    kind: str,
    *,
    url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    concurrency: int = 4,
    timeout: float = 60.0,
    max_retries: int = 5,
    max_tokens: int = 1024,
    cache_path: str | os.PathLike[str] | None = None,
) -> Any:
    """Build a teacher by name; openai settings fall back to MAAZA_TEACHER_URL/_MODEL/_API_KEY."""
    if kind == "template":
        return TemplateTeacher()
    if kind == "openai":
        return OpenAITeacher(
            url or os.environ.get(URL_ENV, ""), model or os.environ.get(MODEL_ENV, ""),
            api_key or os.environ.get(KEY_ENV) or None, concurrency=concurrency, timeout=timeout,
            max_retries=max_retries, max_tokens=max_tokens, cache_path=cache_path,
        )
    if kind == "hf":
        name = model or os.environ.get(MODEL_ENV) or "smollm2-135m"
        return HFTeacher(name, max_new_tokens=max_tokens, cache_path=cache_path)
    raise MaazaError(f"unknown teacher '{kind}'; choose one of {', '.join(TEACHERS)}")
