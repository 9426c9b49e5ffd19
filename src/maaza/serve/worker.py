"""One worker thread and one bounded queue per served model: the only place a model runs.

A loaded model is not safe to call from two threads at once, and two CPU-heavy decodes at once only slow each
other down, so every request becomes a `Job` on its model's queue and the worker runs them in order. A full
queue refuses at once (`QueueFull`: the app's 429 with `Retry-After`). On a backend that batches (hf), waiting
generation jobs with the same settings are decoded together (up to `max_batch`). Every generated token passes
through the job's `TextAssembler` (stop strings, streamed text deltas) and its cancel flag: a client that goes
away, or a stop string, ends that row at the next token. Results go back to the event loop thread-safely.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from maaza.errors import MaazaError


class QueueFull(MaazaError):
    """The model's queue holds `queue_size` requests already."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Cancelled(MaazaError):
    """The request was cancelled (client gone, server shutting down) before it finished."""


class TextAssembler:
    """Token ids -> text as it grows: stop strings cut it, and `add` returns the part safe to stream.

    Text is re-decoded from all ids each step (a token can end inside a multi-byte character: a trailing
    U+FFFD is held back until it resolves), and a tail that could still become a stop string is held back too,
    so the streamed deltas always concatenate to the final text.
    """

    def __init__(self, tokenizer: Any, stops: Sequence[str] = ()) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(stop for stop in stops if stop)
        self.ids: list[int] = []
        self.text = ""
        self.sent = 0
        self.stopped = False

    def add(self, token: int) -> tuple[str, bool]:
        """Feed one token; (text newly safe to stream, True when a stop string ended the text)."""
        self.ids.append(int(token))
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        for stop in self.stops:
            at = text.find(stop, max(0, self.sent - len(stop)))
            if at >= 0:
                self.text, self.stopped = text[:at], True
                return self.flush(), True
        self.text = text
        safe = len(text.rstrip("\ufffd"))
        for stop in self.stops:
            for size in range(min(len(stop) - 1, safe), 0, -1):
                if text[safe - size : safe] == stop[:size]:
                    safe -= size
                    break
        if safe <= self.sent:
            return "", False
        delta, self.sent = text[self.sent : safe], safe
        return delta, False

    def flush(self) -> str:
        """Whatever is left to stream (the end of the generation)."""
        delta, self.sent = self.text[self.sent :], len(self.text)
        return delta


@dataclass
class Generated:
    """What a generation job returns."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # the backend's ("eos", "json_closed", "length", "closed_on_budget", ...) or "stop"
    seconds: float


@dataclass
class Job:
    """One request on a model's queue. `kind` "generate" (a prompt to decode) or "call" (`call(hook)`)."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    kind: str
    prompt: str = ""
    schema: dict[str, Any] | None = None
    max_tokens: int = 512
    stop_on_json_close: bool = False
    stops: tuple[str, ...] = ()
    call: Callable[[Callable[[int, int], bool]], Any] | None = None
    stream: asyncio.Queue | None = None  # generate jobs: ("delta", text) events as tokens arrive
    cancelled: threading.Event = field(default_factory=threading.Event)
    enqueued: float = field(default_factory=time.perf_counter)

    @property
    def batch_key(self) -> tuple[Any, ...] | None:
        if self.kind != "generate":
            return None
        return (self.max_tokens, self.stop_on_json_close, self.schema is not None)

    def cancel(self) -> None:
        self.cancelled.set()

    def push(self, delta: str) -> None:
        if self.stream is not None and delta:
            self.loop.call_soon_threadsafe(self.stream.put_nowait, delta)

    def resolve(self, result: Any) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, result, None)

    def fail(self, exc: BaseException) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, None, exc)


def _settle(future: asyncio.Future, result: Any, exc: BaseException | None) -> None:
    if future.done():  # the awaiting request was cancelled meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class ModelWorker:
    """The thread that runs one served model's jobs, in order, from a queue of at most `queue_size`."""

    def __init__(self, served: Any, *, queue_size: int, max_batch: int, on_tokens: Callable[[str, int, float], None]
                 | None = None) -> None:
        self.served = served
        self.queue_size = queue_size
        self.max_batch = max_batch if served.batched else 1
        self.on_tokens = on_tokens  # metrics: (model name, generated tokens, seconds)
        self._jobs: deque[Job] = deque()
        self._cond = threading.Condition()
        self._running = 0
        self._closed = False
        self._mean_seconds = 1.0
        self.batches = 0  # batches run, and the largest one: how much concurrent requests were batched
        self.largest_batch = 0
        self._thread = threading.Thread(target=self._loop, name=f"maaza-serve-{served.name}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------ queue

    def depth(self) -> int:
        """Jobs waiting or running."""
        with self._cond:
            return len(self._jobs) + self._running

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._closed:
                raise Cancelled("the server is shutting down")
            depth = len(self._jobs) + self._running
            if depth >= self.queue_size:
                retry = max(1, math.ceil(self._mean_seconds * depth / self.max_batch))
                raise QueueFull(f"model '{self.served.name}' has {depth} requests queued (queue_size "
                                f"{self.queue_size}); retry in {retry} s", retry)
            self._jobs.append(job)
            self._cond.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Refuse new jobs, cancel waiting ones, let the running batch see its cancel flags, join the thread."""
        with self._cond:
            self._closed = True
            pending = list(self._jobs)
            self._jobs.clear()
            self._cond.notify_all()
        for job in pending:
            job.cancel()
            job.fail(Cancelled("the server shut down before this request ran"))
        self._thread.join(timeout)

    def _take(self) -> list[Job] | None:
        with self._cond:
            while True:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if self._closed and not self._jobs:
                    return None
                first = self._jobs.popleft()
                if first.cancelled.is_set():
                    first.fail(Cancelled("cancelled before it ran"))
                    continue
                batch = [first]
                key = first.batch_key
                if key is not None and self.max_batch > 1:
                    for job in list(self._jobs):
                        if len(batch) >= self.max_batch:
                            break
                        if job.batch_key == key and not job.cancelled.is_set():
                            self._jobs.remove(job)
                            batch.append(job)
                self._running = len(batch)
                self.batches += 1
                self.largest_batch = max(self.largest_batch, len(batch))
                return batch

    # ------------------------------------------------------------------------------------------- work

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            started = time.perf_counter()
            try:
                if batch[0].kind == "generate":
                    self._generate(batch)
                else:
                    self._call(batch[0])
            except Exception as exc:  # every failure goes back to its request
                for job in batch:
                    job.fail(exc)
            finally:
                seconds = time.perf_counter() - started
                self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * seconds
                with self._cond:
                    self._running = 0

    def _call(self, job: Job) -> None:
        assert job.call is not None
        job.resolve(job.call(lambda _row, _token: job.cancelled.is_set()))

    def _generate(self, batch: list[Job]) -> None:
        runtime = self.served.runtime
        assemblers = [TextAssembler(runtime.tokenizer, job.stops) for job in batch]

        def on_token(row: int, token: int) -> bool:
            job = batch[row]
            if job.cancelled.is_set():
                return True
            delta, stopped = assemblers[row].add(token)
            job.push(delta)
            return stopped

        first = batch[0]
        schemas = [job.schema for job in batch] if first.schema is not None else None
        result = runtime.generate(
            [job.prompt for job in batch], schemas, max_new_tokens=first.max_tokens,
            stop_on_json_close=first.stop_on_json_close, on_token=on_token,
        )
        for job, assembler, gen in zip(batch, assemblers, result.generations, strict=True):
            if job.cancelled.is_set():
                job.fail(Cancelled("cancelled while generating"))
                continue
            job.push(assembler.flush())
            reason = "stop" if assembler.stopped else gen.finish_reason
            job.resolve(Generated(assembler.text, gen.prompt_tokens, gen.new_tokens, reason, gen.seconds))
        if self.on_tokens is not None:
            self.on_tokens(self.served.name, result.timing.new_tokens, result.timing.seconds)
