"""Prometheus metrics of one gateway (a registry per app, so several apps can share a process)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "gateway_http_requests", "HTTP requests answered", ["method", "route", "status"],
            registry=self.registry)
        self.http_seconds = Histogram(
            "gateway_http_request_seconds", "HTTP request duration", ["route"], registry=self.registry)
        self.transitions = Counter(
            "gateway_outgoing_transitions", "status changes of outgoing letters", ["status"],
            registry=self.registry)
        self.incoming = Counter(
            "gateway_incoming_messages", "messages taken from a channel", ["kind", "result"],
            registry=self.registry)
        self.delivery_seconds = Histogram(
            "gateway_submit_to_delivered_seconds", "from POST /outgoing to the delivered acknowledgement",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.worker_errors = Counter(
            "gateway_worker_errors", "failed worker steps (retried later)", ["worker"],
            registry=self.registry)

    def add_status_gauge(self, counts: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        """Export `gateway_documents{direction,status}` read from the database at scrape time."""
        self.registry.register(_StatusCollector(counts))

    def add_alert_gauge(self, counts: Callable[[], dict[tuple[str, str], int]]) -> None:
        """Export `gateway_alerts{kind,severity}` (gateway.console.alerts) computed at scrape time."""
        self.registry.register(_AlertCollector(counts))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StatusCollector(Collector):
    def __init__(self, counts: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        self.counts = counts

    def collect(self):  # noqa: ANN201 - prometheus_client's protocol
        family = GaugeMetricFamily("gateway_documents", "documents by direction and status",
                                   labels=["direction", "status"])
        for direction, status, n in self.counts():
            family.add_metric([direction, status], n)
        yield family


class MetricsMiddleware:
    """Counts requests by route template (never by raw path, which would explode the label set)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            self.metrics.http_requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.http_seconds.labels(name).observe(time.perf_counter() - started)


class _AlertCollector(Collector):
    def __init__(self, counts: Callable[[], dict[tuple[str, str], int]]) -> None:
        self.counts = counts

    def collect(self):  # noqa: ANN201 - prometheus_client's protocol
        family = GaugeMetricFamily("gateway_alerts", "open alerts (expiring certificates, failed deliveries)",
                                   labels=["kind", "severity"])
        for (kind, severity), n in self.counts().items():
            family.add_metric([kind, severity], n)
        yield family
