"""The FastAPI app: OpenAI-compatible chat completions plus Maaza's task endpoints, over loaded `ServedModel`s.

Routes: `POST /v1/chat/completions` (chat template, `response_format` json_object / json_schema always enforced
by the grammar and validated before it is sent, `tools` routed to a function-calling model, `stream`),
`GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/extract`, `POST /v1/classify`, `POST /v1/filter`,
`GET /health` (503 while draining), `GET /metrics` (Prometheus). Every error is OpenAI's error body.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from maaza import __version__
from maaza.errors import MaazaError
from maaza.serve import protocol as p
from maaza.serve.errors import ApiError, limit_error
from maaza.serve.metrics import ServerMetrics
from maaza.serve.models import CHAT, CLASSIFY, EXTRACT, FILTER, TOOLS, ServedModel
from maaza.serve.schema_policy import check_request_schema
from maaza.serve.settings import ServeSettings
from maaza.serve.worker import Cancelled, Generated, Job, ModelWorker, QueueFull

log = logging.getLogger("maaza.serve")

DISCONNECT_POLL_SECONDS = 0.25  # how often a waiting non-streamed request checks that its client is still there
# `stream: true` answers 200 as server-sent events: documented beside the JSON body, so a client generated from
# the OpenAPI document (and Schemathesis) knows both forms.
STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The completion; with `stream: true`, server-sent events of `chat.completion.chunk` "
        "objects ending with `data: [DONE]`",
        "content": {"text/event-stream": {"schema": {  # one event (OpenAPI 3.0/3.1: `schema` is per event)
            "type": "object",
            "required": ["data"],
            "properties": {"data": {"type": "string", "description": "a chat.completion.chunk object as JSON, "
                                    "or [DONE]"}},
        }}},
    }
}
OPEN_PATHS = frozenset({"/health"})  # answered without the API key (load balancers probe it)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": p.ErrorResponse, "description": text}
    for code, text in {
        400: "Bad request: a field, a limit or a schema feature (the message names it)",
        401: "Missing or wrong API key",
        404: "Unknown model or path",
        413: "Request body over the size limit",
        422: "The model could not produce a valid answer for this input",
        429: "The model's queue is full (see Retry-After)",
        500: "Internal error",
        503: "The server is shutting down",
    }.items()
}


# ------------------------------------------------------------------------------------- ASGI guard


class _Guard:
    """API key (constant-time compare, never logged), body size limit (413) and request metrics, before routing."""

    def __init__(self, app: Any, settings: ServeSettings, metrics: ServerMetrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        status_seen: list[int] = []

        async def send_counted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(int(message["status"]))
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                endpoint = path if path in _ENDPOINTS else "other"
                model = str(scope.get("state", {}).get("model", ""))
                self.metrics.requests.labels(endpoint, model, str(status_seen[0] if status_seen else 0)).inc()
                self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)

        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        key = self.settings.api_key
        if key is not None and path not in OPEN_PATHS:
            given = headers.get("authorization", "")
            token = given[7:].strip() if given[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(token.encode("utf-8"), key.encode("utf-8")):
                error = ApiError(401, "missing or wrong API key: send 'Authorization: Bearer <key>'",
                                 type="authentication_error", code="invalid_api_key")
                await _send_error(error, send_counted, {"www-authenticate": "Bearer"})
                return
        limit = self.settings.limits.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _send_error(limit_error("max_body_bytes", int(declared), limit, status=413), send_counted)
            return
        body = bytearray()
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                if len(body) > limit:
                    await _send_error(limit_error("max_body_bytes", len(body), limit, status=413), send_counted)
                    return
                if not message.get("more_body", False):
                    break
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # later reads: the client's disconnect

        await self.app(scope, replay, send_counted)


async def _send_error(error: ApiError, send: Any, extra: dict[str, str] | None = None) -> None:
    payload = json.dumps(error.body()).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in {**error.headers, **(extra or {})}.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


_ENDPOINTS = frozenset({"/v1/chat/completions", "/v1/models", "/v1/extract", "/v1/classify", "/v1/filter",
                        "/health", "/metrics"})


# ------------------------------------------------------------------------------------------ state


class ServerState:
    """The loaded models, their workers and metrics; `draining` once SIGTERM arrived."""

    def __init__(self, models: Sequence[ServedModel], settings: ServeSettings) -> None:
        names = [model.name for model in models]
        if not models:
            raise MaazaError("no models to serve")
        if len(set(names)) != len(names):
            raise MaazaError(f"two models share a served name: {names}")
        self.settings = settings
        self.metrics = ServerMetrics()
        self.models = {model.name: model for model in models}
        self.workers = {
            model.name: ModelWorker(model, queue_size=settings.queue_size, max_batch=settings.max_batch,
                                    on_tokens=self.metrics.record_tokens)
            for model in models
        }
        self.draining = False

    def model(self, name: str) -> ServedModel:
        if name not in self.models:
            raise ApiError(404, f"model '{name}' is not served here; served: {', '.join(self.models)}",
                           param="model", code="model_not_found")
        return self.models[name]

    def pick(self, name: str | None, capability: str, what: str) -> ServedModel:
        """The named model (it must be able to `capability`), or the first served one that can."""
        if name is not None:
            model = self.model(name)
            if capability not in model.capabilities:
                raise ApiError(400, f"model '{name}' ({model.task or 'base model'}) cannot {what}; it can: "
                               f"{', '.join(model.capabilities)}", param="model", code="model_cannot")
            return model
        for model in self.models.values():
            if capability in model.capabilities:
                return model
        raise ApiError(400, f"no served model can {what}; served: {', '.join(self.models)}", param="model",
                       code="no_model")

    async def run(self, model: ServedModel, job: Job, request: Request) -> Any:
        """Queue `job` on `model`'s worker and wait for it; a client that goes away cancels it."""
        self.submit(model, job)
        return await self.wait(job, request)

    def submit(self, model: ServedModel, job: Job) -> None:
        if self.draining:
            raise ApiError(503, "the server is shutting down", type="server_error", code="draining")
        try:
            self.workers[model.name].submit(job)
        except QueueFull as exc:
            raise ApiError(429, str(exc), type="rate_limit_error", code="queue_full",
                           headers={"Retry-After": str(exc.retry_after)}) from None
        except Cancelled as exc:
            raise ApiError(503, str(exc), type="server_error", code="draining") from None

    async def wait(self, job: Job, request: Request) -> Any:
        while True:
            done, _ = await asyncio.wait({job.future}, timeout=DISCONNECT_POLL_SECONDS)
            if done:
                return job.future.result()
            if await request.is_disconnected():
                job.cancel()
                self.metrics.cancelled.labels(request.url.path).inc()
                raise ApiError(499, "client closed the request", code="client_closed")

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()


# -------------------------------------------------------------------------------------------- app


def create_app(models: Sequence[ServedModel], settings: ServeSettings | None = None) -> FastAPI:
    """The app serving `models` (already loaded; the caller closes them after the server stops)."""
    settings = settings or ServeSettings()
    state = ServerState(models, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(title="Maaza", version=__version__, lifespan=lifespan,
                  description="OpenAI-compatible API for Maaza's micro language models")
    app.state.maaza = state
    app.add_middleware(_Guard, settings=settings, metrics=state.metrics)
    _install_error_handlers(app, state)

    @app.get("/health", response_model=p.Health, responses=ERRORS)
    async def health() -> Response:
        body = p.Health(status="draining" if state.draining else "ok", models=list(state.models),
                        queued={name: worker.depth() for name, worker in state.workers.items()})
        return JSONResponse(body.model_dump(), status_code=503 if state.draining else 200)

    @app.get("/metrics", responses=ERRORS)
    async def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        for name, worker in state.workers.items():
            state.metrics.queued.labels(name).set(worker.depth())
        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", response_model=p.ModelList, responses=ERRORS)
    async def list_models() -> p.ModelList:
        return p.ModelList(data=[_card(model) for model in state.models.values()])

    @app.get("/v1/models/{model_id}", response_model=p.ModelCard, responses=ERRORS)
    async def get_model(model_id: str) -> p.ModelCard:
        return _card(state.model(model_id))

    @app.post("/v1/chat/completions", response_model=p.ChatCompletion, responses={**ERRORS, **STREAMED})
    async def chat_completions(body: p.ChatCompletionRequest, request: Request) -> Any:
        return await _chat(state, body, request)

    @app.post("/v1/extract", response_model=p.Extraction, responses=ERRORS)
    async def extract(body: p.ExtractRequest, request: Request) -> p.Extraction:
        return await _extract(state, body, request)

    @app.post("/v1/classify", response_model=p.Classifications, responses=ERRORS)
    async def classify(body: p.ClassifyRequest, request: Request) -> p.Classifications:
        model = state.pick(body.model, CLASSIFY, "classify intents")
        request.state.model = model.name
        texts = _texts(body.input, settings)
        outcomes = await state.run(model, _call_job(lambda _hook: model.classifier.classify_batch(
            texts, top_k=min(body.top_k, len(model.classifier.labels)))), request)
        return p.Classifications(model=model.name, results=[
            p.ClassifyResult(label=r.label, score=float(r.score),
                             top_k=[p.LabelScore(label=label, score=float(score)) for label, score in r.top_k])
            for r in outcomes])

    @app.post("/v1/filter", response_model=p.FilterResults, responses=ERRORS)
    async def filter_texts(body: p.FilterRequest, request: Request) -> p.FilterResults:
        from maaza.tasks.filter.spans import redact

        model = state.pick(body.model, FILTER, "filter texts")
        request.state.model = model.name
        texts = _texts(body.input, settings)
        outcomes = await state.run(
            model, _call_job(lambda _hook: model.filter.check_batch(texts, pii_rules=body.rules)), request
        )
        results = []
        for text, r in zip(texts, outcomes, strict=True):
            spans = [p.PiiSpan(label=s.label, start=s.start, end=s.end, text=text[s.start : s.end]) for s in r.pii]
            results.append(p.FilterResultBody(
                spam_score=float(r.spam_score), is_spam=r.is_spam, toxicity_label=r.toxicity_label,
                toxicity_score=float(r.toxicity_score), is_toxic=r.is_toxic, pii=spans,
                redacted=redact(text, r.pii) if body.redact else None))
        return p.FilterResults(model=model.name, results=results)

    return app


def _install_error_handlers(app: FastAPI, state: ServerState) -> None:
    def respond(request: Request, error: ApiError) -> JSONResponse:
        state.metrics.errors.labels(request.url.path if request.url.path in _ENDPOINTS else "other",
                                    error.type).inc()
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            at = next((part for part in first.get("loc", ()) if isinstance(part, int)), None)
            where = f" at character {at}" if at is not None else ""
            error = ApiError(400, f"the request body is not valid JSON{where}", code="invalid_json")
            return respond(request, error)
        where = [str(part) for part in first.get("loc", ()) if part != "body"]
        param = ".".join(where) or None
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
        return respond(request, ApiError(400, message, param=param, code="invalid_request"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return respond(request, ApiError(exc.status_code, str(exc.detail), code="http_error"))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s", request.url.path)
        return respond(request, ApiError(500, "internal server error (logged on the server)", type="server_error"))


# --------------------------------------------------------------------------------------- helpers


def _card(model: ServedModel) -> p.ModelCard:
    return p.ModelCard(id=model.name, created=model.created, task=model.task, backend=model.backend,
                       capabilities=list(model.capabilities))


def _call_job(call: Any, stream: bool = False) -> Job:
    loop = asyncio.get_running_loop()
    return Job(loop, loop.create_future(), "call", call=call)


def _texts(value: str | list[str], settings: ServeSettings) -> list[str]:
    texts = [value] if isinstance(value, str) else list(value)
    limits = settings.limits
    if not texts:
        raise ApiError(400, "input: give a text or a non-empty list of texts", param="input")
    if len(texts) > limits.max_inputs:
        raise limit_error("max_inputs", len(texts), limits.max_inputs, param="input")
    total = sum(len(text) for text in texts)
    if total > limits.max_input_chars:
        raise limit_error("max_input_chars", total, limits.max_input_chars, param="input")
    for index, text in enumerate(texts):
        if not text.strip():
            raise ApiError(400, f"input[{index}] is empty", param="input")
        _encodable(text, f"input[{index}]")
    return texts


def _encodable(text: str, param: str) -> str:
    """`text`, or a 400 naming `param`: a lone surrogate (a JSON `\\ud800` escape) no tokenizer can take."""
    from maaza.errors import check_encodable

    try:
        return check_encodable(text, param)
    except MaazaError as exc:
        raise ApiError(400, str(exc), param=param.split("[")[0]) from None


def _max_tokens(requested: int | None, settings: ServeSettings) -> int:
    limits = settings.limits
    value = requested or limits.default_max_tokens
    if value > limits.max_tokens:
        raise limit_error("max_tokens", value, limits.max_tokens, param="max_tokens")
    return value


def _openai_finish(reason: str) -> str:
    """A backend finish reason as OpenAI's: a row cut (or force-closed) at its token budget is "length"."""
    return "length" if reason.startswith(("length", "closed_on_budget")) else "stop"


def _usage(prompt_tokens: int, completion_tokens: int) -> p.Usage:
    return p.Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                   total_tokens=prompt_tokens + completion_tokens)


def _fingerprint(model: ServedModel) -> str:
    return f"maaza-{__version__}-{model.backend}"


def _check_answer(text: str, schema: dict[str, Any]) -> None:
    """The answer parses and validates against `schema`, or the request fails: never invalid JSON sent."""
    from maaza.decoding.json_parse import parse_json_output
    from maaza.schemas import schema_valid

    parsed = parse_json_output(text)
    if not parsed.ok:
        raise ApiError(422, f"the model's answer is not complete JSON ({text[:60]!r}); raise max_tokens",
                       type="invalid_model_output", code="invalid_json")
    valid, error = schema_valid(parsed.value, schema)
    if not valid:
        raise ApiError(422, f"the model's answer does not validate against the schema: {error}",
                       type="invalid_model_output", code="schema_invalid")


# ------------------------------------------------------------------------------------------- chat


def _check_messages(body: p.ChatCompletionRequest, settings: ServeSettings) -> list[dict[str, str]]:
    limits = settings.limits
    if len(body.messages) > limits.max_messages:
        raise limit_error("max_messages", len(body.messages), limits.max_messages, param="messages")
    total = sum(len(message.text()) for message in body.messages)
    if total > limits.max_input_chars:
        raise limit_error("max_input_chars", total, limits.max_input_chars, param="messages")
    if body.n not in (None, 1):
        raise ApiError(400, "n: only n=1 is supported (decoding is greedy: every choice would be the same)",
                       param="n")
    turns = []
    for index, message in enumerate(body.messages):
        role = "system" if message.role == "developer" else message.role
        content = _encodable(message.text(), f"messages[{index}].content")
        if message.tool_calls:  # an earlier assistant turn that called tools: shown as its calls
            calls = [{"name": c.function.name, "arguments": c.function.arguments} for c in message.tool_calls]
            content = (content + "\n" if content else "") + json.dumps(calls, ensure_ascii=False)
        turns.append({"role": role, "content": content})
    return turns


def _chat_prompt(model: ServedModel, turns: list[dict[str, str]]) -> str:
    tokenizer = model.runtime.tokenizer
    if not getattr(tokenizer, "chat_template", None):
        raise ApiError(400, f"model '{model.name}' has no chat template; use /v1/extract", param="model")
    try:
        return str(tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True))
    except Exception as exc:  # jinja's TemplateError: e.g. a role the template does not take
        raise ApiError(400, f"messages: the model's chat template refused them: {exc}", param="messages") from None


def _response_schema(body: p.ChatCompletionRequest, settings: ServeSettings) -> dict[str, Any] | None:
    fmt = body.response_format
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "object"}
    if fmt.json_schema is None or fmt.json_schema.schema_ is None:
        raise ApiError(400, "response_format.json_schema.schema is required for type json_schema",
                       param="response_format.json_schema.schema")
    return check_request_schema(fmt.json_schema.schema_, settings.limits, param="response_format.json_schema.schema")


async def _chat(state: ServerState, body: p.ChatCompletionRequest, request: Request) -> Any:
    settings = state.settings
    model = state.model(body.model)
    request.state.model = model.name
    turns = _check_messages(body, settings)
    max_tokens = _max_tokens(body.max_completion_tokens or body.max_tokens, settings)
    if body.tools and body.tool_choice != "none":
        return await _tool_chat(state, model, body, request, max_tokens)
    if CHAT not in model.capabilities:
        raise ApiError(400, f"model '{model.name}' ({model.task}) cannot chat; it can: "
                       f"{', '.join(model.capabilities)}", param="model", code="model_cannot")
    schema = _response_schema(body, settings)
    stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stops) > settings.limits.max_stop:
        raise limit_error("max_stop", len(stops), settings.limits.max_stop, param="stop")
    if stops and schema is not None:
        raise ApiError(400, "stop cannot be combined with a JSON response_format: a stop string could cut the JSON",
                       param="stop")
    prompt = _chat_prompt(model, turns)
    loop = asyncio.get_running_loop()
    job = Job(loop, loop.create_future(), "generate", prompt=prompt, schema=schema, max_tokens=max_tokens,
              stop_on_json_close=schema is not None, stops=tuple(stops),
              stream=asyncio.Queue() if body.stream else None)
    state.submit(model, job)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if body.stream:
        usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(_stream_chat(state, model, job, schema, completion_id, created, usage),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    result: Generated = await state.wait(job, request)
    if schema is not None:
        _check_answer(result.text, schema)
    return p.ChatCompletion(
        id=completion_id, created=created, model=model.name, system_fingerprint=_fingerprint(model),
        choices=[p.Choice(index=0, message=p.AssistantMessage(content=result.text),
                          finish_reason=_openai_finish(result.finish_reason))],
        usage=_usage(result.prompt_tokens, result.completion_tokens),
    )


def _sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


async def _stream_chat(state: ServerState, model: ServedModel, job: Job, schema: dict[str, Any] | None,
                       completion_id: str, created: int, include_usage: bool) -> AsyncIterator[bytes]:
    """Server-sent events: a role chunk, content deltas as tokens arrive, the finish chunk, [DONE]."""
    assert job.stream is not None

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                     "model": model.name, "system_fingerprint": _fingerprint(model),
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]})

    try:
        yield chunk({"role": "assistant", "content": ""})
        while True:
            getter = asyncio.ensure_future(job.stream.get())
            done, _ = await asyncio.wait({getter, job.future}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield chunk({"content": getter.result()})
                continue
            getter.cancel()
            while not job.stream.empty():  # deltas pushed before the result (same thread-safe FIFO)
                yield chunk({"content": job.stream.get_nowait()})
            break
        try:
            result: Generated = job.future.result()
            if schema is not None:
                _check_answer(result.text, schema)
        except ApiError as exc:
            yield _sse(exc.body())
        except MaazaError as exc:
            yield _sse(ApiError(400, str(exc)).body())
        else:
            yield chunk({}, _openai_finish(result.finish_reason))
            if include_usage:
                yield _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                            "model": model.name, "choices": [],
                            "usage": _usage(result.prompt_tokens, result.completion_tokens).model_dump()})
        yield _sse("[DONE]")
    finally:
        if not job.future.done():
            job.cancel()
            state.metrics.cancelled.labels("/v1/chat/completions").inc()


def _counting(cancelled: Any, counted: list[int]) -> Any:
    """A token callback that counts generated tokens into `counted[0]` and stops when `cancelled` says so."""

    def hook(row: int, token: int) -> bool:
        counted[0] += 1
        return bool(cancelled(row, token))

    return hook


def _prompt_tokens(model: ServedModel, prompt: str) -> int:
    return len(model.runtime.tokenizer(prompt, add_special_tokens=False)["input_ids"])


async def _tool_chat(state: ServerState, named: ServedModel, body: p.ChatCompletionRequest, request: Request,
                     max_tokens: int) -> Any:
    """`tools`: the calls a function-calling model makes (the named one, else the first served that can)."""
    from dataclasses import replace

    from maaza.call import FunctionCallError, load_functions
    from maaza.tasks import get_task

    limits = state.settings.limits
    tools = [tool.model_dump(exclude_none=True) for tool in body.tools or []]
    if len(tools) > limits.max_tools:
        raise limit_error("max_tools", len(tools), limits.max_tools, param="tools")
    size = len(json.dumps(tools, separators=(",", ":")))
    if size > limits.max_schema_bytes:
        raise limit_error("max_schema_bytes", size, limits.max_schema_bytes, param="tools")
    model = named if TOOLS in named.capabilities else state.pick(None, TOOLS, "call tools")
    request.state.model = model.name
    for index, tool in enumerate(tools):
        if "parameters" in tool["function"]:
            check_request_schema(tool["function"]["parameters"], limits, param=f"tools[{index}].function.parameters",
                                 object_only=False)
    try:
        functions = load_functions(tools)
    except MaazaError as exc:
        raise ApiError(400, f"tools: {exc}", param="tools") from None
    choice = body.tool_choice
    if isinstance(choice, p.NamedToolChoice):
        functions = [spec for spec in functions if spec["name"] == choice.function.name]
        if not functions:
            raise ApiError(400, f"tool_choice names '{choice.function.name}', which is not in tools",
                           param="tool_choice")
    text = "\n".join(m.text() for m in body.messages if m.role == "user").strip()
    if not text:
        raise ApiError(400, "messages: a tool call needs a user message with text", param="messages")
    caller = replace(model.caller, max_new_tokens=max_tokens)
    task = get_task("funccall")
    prompt_tokens = _prompt_tokens(model, task.prompt(task.request(text, functions), caller.prompt_format,
                                                      model.runtime.tokenizer))
    counted = [0]
    min_calls = 1 if choice == "required" or isinstance(choice, p.NamedToolChoice) else 0

    def run(cancelled: Any) -> Any:
        hook = _counting(cancelled, counted)
        return caller.call_batch([(text, functions)], 1, min_calls=min_calls, on_token=hook)[0]

    outcome = await state.run(model, _call_job(run), request)
    if isinstance(outcome, FunctionCallError):
        raise ApiError(422, f"the model gave no valid calls: {outcome}", type="invalid_model_output",
                       code="invalid_calls")
    calls = [p.ToolCall(id=f"call_{uuid.uuid4().hex[:24]}",
                        function=p.FunctionCall(name=c["name"], arguments=json.dumps(c["arguments"],
                                                                                      ensure_ascii=False)))
             for c in outcome]
    message = p.AssistantMessage(content=None if calls else "", tool_calls=calls or None)
    finish = "tool_calls" if calls else "stop"
    completion = p.ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex[:24]}", created=int(time.time()), model=model.name,
        system_fingerprint=_fingerprint(model), choices=[p.Choice(index=0, message=message, finish_reason=finish)],
        usage=_usage(prompt_tokens, counted[0]),
    )
    if not body.stream:
        return completion
    return StreamingResponse(_stream_whole(completion), media_type="text/event-stream")


async def _stream_whole(completion: p.ChatCompletion) -> AsyncIterator[bytes]:
    """A finished tool-call answer as stream chunks (role, one chunk per call with its whole arguments, finish)."""
    base = {"id": completion.id, "object": "chat.completion.chunk", "created": completion.created,
            "model": completion.model, "system_fingerprint": completion.system_fingerprint}
    choice = completion.choices[0]
    yield _sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": choice.message.content},
                                     "finish_reason": None}]})
    for index, call in enumerate(choice.message.tool_calls or []):
        delta = {"tool_calls": [{"index": index, **call.model_dump()}]}
        yield _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    yield _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice.finish_reason}]})
    yield _sse("[DONE]")


# ---------------------------------------------------------------------------------------- extract


async def _extract(state: ServerState, body: p.ExtractRequest, request: Request) -> p.Extraction:
    from dataclasses import replace

    from maaza.extract import ExtractionError
    from maaza.tasks import get_task

    model = state.pick(body.model, EXTRACT, "extract JSON")
    request.state.model = model.name
    settings = state.settings
    if not body.text.strip():
        raise ApiError(400, "text is empty", param="text")
    _encodable(body.text, "text")
    if len(body.text) > settings.limits.max_input_chars:
        raise limit_error("max_input_chars", len(body.text), settings.limits.max_input_chars, param="text")
    schema = check_request_schema(body.schema_, settings.limits, param="schema")
    extractor = replace(model.extractor, grounded=body.grounded,
                        max_new_tokens=_max_tokens(body.max_tokens, settings))
    extractor._grammar_errors = model.extractor._grammar_errors  # one compile cache per model (worker thread only)
    task = get_task("edgejson")
    row = task.request(body.text.strip(), schema, "0")
    prompt_tokens = _prompt_tokens(model, task.prompt(row, extractor.prompt_format, model.runtime.tokenizer))
    counted = [0]

    def run(cancelled: Any) -> Any:
        return extractor.extract_batch([(body.text, schema)], 1, on_token=_counting(cancelled, counted))[0]

    outcome = await state.run(model, _call_job(run), request)
    if isinstance(outcome, ExtractionError):
        raise ApiError(422, f"extraction failed: {outcome}", type="invalid_model_output", code="extraction_failed")
    return p.Extraction(model=model.name, output=outcome, usage=_usage(prompt_tokens, counted[0]))
