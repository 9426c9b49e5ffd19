"""`maaza serve`: every Maaza model behind an OpenAI-compatible HTTP API (FastAPI + uvicorn).

    maaza serve                                      # every shipped model, on 127.0.0.1:8000
    maaza serve --model json=runs/x/model.gguf --backend llamacpp --api-key $KEY

Layout: `settings` (limits and options), `protocol` (the request and response bodies, OpenAI's shapes),
`schema_policy` (which JSON Schemas a request may send), `models` (loading what `--model` names),
`worker` (one thread and one bounded queue per model; batching, streaming, cancellation), `metrics`
(Prometheus), `app` (the routes), `command` (the CLI, SIGTERM drain).
"""

from __future__ import annotations

from maaza.serve.settings import Limits, ServeSettings

__all__ = ["Limits", "ServeSettings", "create_app"]


def create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
    """`maaza.serve.app.create_app` (imported lazily: FastAPI is loaded only when a server is built)."""
    from maaza.serve.app import create_app as build

    return build(*args, **kwargs)
