"""Prometheus metrics of one server (`GET /metrics`, text format), in a registry of its own per app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ServerMetrics:
    """Requests, latency, generated tokens and tokens/s, errors, queue depth."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("maaza_requests", "Requests answered, by endpoint, model and HTTP status",
                                ["endpoint", "model", "status"], registry=self.registry)
        self.latency = Histogram("maaza_request_seconds", "Request latency (until the last byte for streams)",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.errors = Counter("maaza_errors", "Error answers, by endpoint and error type", ["endpoint", "type"],
                              registry=self.registry)
        self.tokens = Counter("maaza_generated_tokens", "Tokens generated", ["model"], registry=self.registry)
        self.generation_seconds = Counter("maaza_generation_seconds", "Seconds spent generating", ["model"],
                                          registry=self.registry)
        self.tokens_per_second = Gauge("maaza_tokens_per_second", "Decode speed of the last batch", ["model"],
                                       registry=self.registry)
        self.queued = Gauge("maaza_queue_depth", "Requests waiting or running", ["model"], registry=self.registry)
        self.cancelled = Counter("maaza_cancelled", "Generations cancelled (client gone)", ["endpoint"],
                                 registry=self.registry)

    def record_tokens(self, model: str, tokens: int, seconds: float) -> None:
        self.tokens.labels(model).inc(tokens)
        self.generation_seconds.labels(model).inc(seconds)
        if seconds > 0:
            self.tokens_per_second.labels(model).set(tokens / seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
