"""Prometheus metrics (``GET /metrics``), one ``CollectorRegistry`` per app.

``reba_requests_total{route,model,status}``  requests answered, by route template, served
    configuration (``-`` when the route has none) and HTTP status
``reba_request_seconds{route,model}``  request latency histogram
``reba_texts_total{model}``, ``reba_tokens_total{model}``  texts and their tokens (one copy, no
    special tokens) embedded in successful requests
``reba_batch_texts{model}``  histogram of texts per model call (micro-batch)
``reba_queue_depth{model}``  requests waiting for the next micro-batch (gauge, at scrape time)
``reba_model_busy_seconds_total{model}``  wall time inside model calls (model-thread busy time)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reba.serve.paths import route_path

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NO_MODEL = "-"
UNMATCHED = "unmatched"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


class _BatcherCollector(Collector):
    """Queue depth and busy time read from the batchers at scrape time."""

    def __init__(self, batchers: Callable[[], Mapping]):
        self.batchers = batchers

    def collect(self) -> Iterator:
        queue = GaugeMetricFamily(
            "reba_queue_depth", "Requests waiting for the next micro-batch", labels=["model"]
        )
        busy = CounterMetricFamily(
            "reba_model_busy_seconds", "Wall time spent in model calls", labels=["model"]
        )
        for name, batcher in self.batchers().items():
            queue.add_metric([name], batcher.queued)
            busy.add_metric([name], batcher.stats.model_seconds)
        yield queue
        yield busy


class ServeMetrics:
    """The app's metrics; ``batchers`` returns the live ``{name: MicroBatcher}`` (empty before
    start-up)."""

    def __init__(self, batchers: Callable[[], Mapping]):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "reba_requests",
            "HTTP requests answered",
            ["route", "model", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "reba_request_seconds",
            "HTTP request latency",
            ["route", "model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.texts = Counter("reba_texts", "Texts embedded", ["model"], registry=self.registry)
        self.tokens = Counter(
            "reba_tokens",
            "Tokens embedded (one copy of each text)",
            ["model"],
            registry=self.registry,
        )
        self.batch_texts = Histogram(
            "reba_batch_texts",
            "Texts per model call (micro-batch)",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_BatcherCollector(batchers))

    def count_embedded(self, model: str, texts: int, tokens: int) -> None:
        self.texts.labels(model).inc(texts)
        self.tokens.labels(model).inc(tokens)

    def batch_observer(self, model: str) -> Callable[[int], None]:
        histogram = self.batch_texts.labels(model)
        return histogram.observe

    def observe_request(self, route: str, model: str, status: int, seconds: float) -> None:
        self.requests.labels(route, model, str(status)).inc()
        self.latency.labels(route, model).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware timing every HTTP request and counting it by route, model and status."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics, paths: frozenset[str] = frozenset()):
        self.app = app
        self.metrics = metrics
        self.paths = paths  # fixed route paths: a request refused before routing keeps its route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route is None:
                path = route_path(scope)
                route = path if path in self.paths else UNMATCHED
            model = (scope.get("state") or {}).get("reba_model", NO_MODEL)
            self.metrics.observe_request(route, model, status, time.perf_counter() - start)
