"""`maaza serve`: load the named models, then run uvicorn; SIGTERM drains in-flight requests, then exits."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from maaza.errors import MaazaError

API_KEY_ENV = "MAAZA_API_KEY"


def add_serve_parser(sub: Any) -> None:
    """Register `maaza serve` on an argparse subparsers object."""
    from maaza.extract import SUPPORTED_BACKENDS
    from maaza.serve.settings import Limits, ServeSettings

    defaults, limits = ServeSettings(), Limits()
    p = sub.add_parser(
        "serve",
        help="serve models behind an OpenAI-compatible HTTP API",
        description="Serve Maaza models over HTTP: /v1/chat/completions (OpenAI-compatible: json_schema, tools, "
        "stream), /v1/models, /v1/extract, /v1/classify, /v1/filter, /health, /metrics. Without --model, every "
        "shipped model (`maaza models list`). Binds to 127.0.0.1 unless --host says otherwise.",
    )
    p.add_argument("--model", action="append", default=None, metavar="[NAME=]SOURCE",
                   help="a model to serve, repeatable: a shipped name, a bundled base model (smollm2-135m), a model "
                   "or adapter folder, a .gguf file or a hub id; NAME is what requests send as `model`")
    p.add_argument("--adapter", default=None, help="a LoRA adapter folder on the (single) --model")
    p.add_argument("--backend", dest="serve_backend", default=None, choices=SUPPORTED_BACKENDS,
                   help="runtime of the generative models (default: the shipped model's, llamacpp for a .gguf, else hf)")
    p.add_argument("--host", default=defaults.host, help=f"address to bind (default {defaults.host}: this machine only)")
    p.add_argument("--port", type=int, default=defaults.port, help=f"port (default {defaults.port})")
    p.add_argument("--api-key", default=None,
                   help=f"require 'Authorization: Bearer KEY' (default: ${API_KEY_ENV} if set, else no key)")
    p.add_argument("--queue-size", type=int, default=defaults.queue_size,
                   help=f"requests waiting or running per model before 429 (default {defaults.queue_size})")
    p.add_argument("--max-batch", type=int, default=defaults.max_batch,
                   help=f"concurrent requests decoded together on the hf backend (default {defaults.max_batch})")
    p.add_argument("--drain-seconds", type=float, default=defaults.drain_seconds,
                   help=f"on SIGTERM, time in-flight requests get to finish (default {defaults.drain_seconds:g})")
    p.add_argument("--max-tokens", type=int, default=limits.max_tokens,
                   help=f"largest max_tokens a request may ask (default {limits.max_tokens})")
    p.add_argument("--max-body-bytes", type=int, default=limits.max_body_bytes,
                   help=f"largest request body (default {limits.max_body_bytes})")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(handler=run_serve)


def settings_from_args(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from maaza.serve.settings import Limits, ServeSettings

    if not 0 < args.port < 65536:
        raise MaazaError(f"--port must be 1-65535, got {args.port}")
    limits = Limits(max_tokens=args.max_tokens, max_body_bytes=args.max_body_bytes,
                    default_max_tokens=min(Limits().default_max_tokens, args.max_tokens))
    key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV) or None
    return replace(ServeSettings(), host=args.host, port=args.port, api_key=key, queue_size=args.queue_size,
                   max_batch=args.max_batch, drain_seconds=args.drain_seconds, limits=limits)


def run_serve(args: argparse.Namespace) -> int:
    """Handler for `maaza serve` (a config error is one line and exit 2, before any model loads)."""
    from maaza.serve.models import ModelSpec, default_specs, load_served_model

    settings = settings_from_args(args)
    if args.adapter is not None and (args.model is None or len(args.model) != 1):
        raise MaazaError("--adapter goes with exactly one --model (its base)")
    specs = ([ModelSpec.parse(text, backend=args.serve_backend, adapter=args.adapter) for text in args.model]
             if args.model else default_specs())
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise MaazaError(f"two --model entries share a served name: {', '.join(names)}")
    models = []
    try:
        for spec in specs:
            print(f"maaza serve: loading {spec.name} ({spec.source})", file=sys.stderr)
            models.append(load_served_model(spec))
        serve(models, settings, log_level=args.log_level)
    finally:
        for model in models:
            model.close()
    return 0


def serve(models: list[Any], settings: Any, *, log_level: str = "info", ready: Any = None) -> None:
    """Run the app on `settings.host:port` until SIGTERM/SIGINT; in-flight requests get `drain_seconds`.

    uvicorn stops accepting connections on the signal and waits for open requests (its graceful shutdown);
    the app reports `draining` on /health meanwhile, and refuses new work on open connections with 503.
    """
    import uvicorn

    from maaza.serve.app import create_app

    app = create_app(models, settings)
    state = app.state.maaza

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            state.draining = True
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn re-raises a captured SIGTERM after its graceful shutdown, so the process would die by the
            # signal; a completed drain is a clean exit (status 0), which process managers read as success.
            with super().capture_signals():
                yield
                getattr(self, "_captured_signals", []).clear()

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if ready is not None:
                ready(self)

    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level,
                            timeout_graceful_shutdown=settings.drain_seconds or None, access_log=True)
    DrainingServer(config).run()
