"""Request and response bodies: OpenAI's chat-completion shapes plus Maaza's task endpoints (pydantic v2).

These classes are the server's OpenAPI document (`/openapi.json`), which the fuzz test holds every response to.
Fields OpenAI clients send that greedy decoding has no use for (`temperature`, `top_p`, `seed`, ...) are
accepted and documented as having no effect; unknown fields are ignored, as OpenAI-compatible servers do.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# --------------------------------------------------------------------------------------------- errors


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


# ------------------------------------------------------------------------------------------- requests


class TextPart(_Body):
    type: Literal["text"]
    text: str


class FunctionCall(_Body):
    name: str
    arguments: str


class ToolCall(_Body):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Body):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class JsonSchemaFormat(_Body):
    name: str = Field(max_length=64)
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Body):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class FunctionDefinition(_Body):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Body):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Body):
    name: str


class NamedToolChoice(_Body):
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(_Body):
    include_usage: bool = False


class ChatCompletionRequest(_Body):
    """POST /v1/chat/completions. Decoding is greedy: `temperature`, `top_p` and `seed` have no effect (the same
    request always gets the same answer); `n` must be 1."""

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    seed: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = Field(default=None, ge=1)
    user: str | None = None


class ExtractRequest(_Body):
    """POST /v1/extract: the JSON object `text` holds, valid against `schema`."""

    model: str | None = None
    text: str
    schema_: dict[str, Any] = Field(alias="schema")
    grounded: bool = False  # every free string/number copied from the text (maaza.decoding.grounded)
    max_tokens: int | None = Field(default=None, ge=1)


class TextsRequest(_Body):
    model: str | None = None
    input: str | list[str]


class ClassifyRequest(TextsRequest):
    """POST /v1/classify: the intent of each text, with the `top_k` best labels."""

    top_k: int = Field(default=5, ge=1, le=50)


class FilterRequest(TextsRequest):
    """POST /v1/filter: spam score, toxicity and PII spans of each text; `redact` adds the masked text; `rules`
    adds the checksum-validated regular expressions to the model's PII spans (`maaza filter --rules`)."""

    redact: bool = False
    rules: bool = False


# ------------------------------------------------------------------------------------------ responses


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ToolCall] | None = None


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length", "tool_calls"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "maaza"
    task: str | None
    backend: str
    capabilities: list[str]


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Extraction(BaseModel):
    object: Literal["extraction"] = "extraction"
    model: str
    output: dict[str, Any]
    usage: Usage


class LabelScore(BaseModel):
    label: str
    score: float


class ClassifyResult(BaseModel):
    label: str
    score: float
    top_k: list[LabelScore]


class Classifications(BaseModel):
    object: Literal["classification"] = "classification"
    model: str
    results: list[ClassifyResult]


class PiiSpan(BaseModel):
    label: str
    start: int
    end: int
    text: str


class FilterResultBody(BaseModel):
    spam_score: float
    is_spam: bool
    toxicity_label: str
    toxicity_score: float
    is_toxic: bool
    pii: list[PiiSpan]
    redacted: str | None = None


class FilterResults(BaseModel):
    object: Literal["filter"] = "filter"
    model: str
    results: list[FilterResultBody]


class Health(BaseModel):
    status: Literal["ok", "draining"]
    models: list[str]
    queued: dict[str, int]
