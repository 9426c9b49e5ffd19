"""A live uvicorn server on a free loopback port, in a thread, for the server tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


@contextmanager
def live_server(models: Sequence[Any], settings: Any = None) -> Iterator[tuple[str, Any]]:
    """(base URL, app) of `models` served by uvicorn on a free loopback port, in a thread."""
    import uvicorn

    from maaza.serve.app import create_app
    from maaza.serve.settings import ServeSettings

    app = create_app(models, settings or ServeSettings())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(15)
