"""The executor's Prometheus metrics, in a registry of the gateway's own, served on /prometheus.

Names and labels are the executor's (`seldon_api_executor_server_requests_seconds`,
`seldon_api_executor_client_requests_seconds`); routing counts per branch are ours.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from seldon_tfserving.errors import ServingError
from seldon_tfserving.transport import Transport

#: The executor's buckets (executor/api/metric/constants.go DefBuckets).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

SERVER_LABELS = (
    "deployment_name",
    "predictor_name",
    "predictor_version",
    "service",
    "method",
    "code",
)
CLIENT_LABELS = (
    "deployment_name",
    "predictor_name",
    "predictor_version",
    "service",
    "model_name",
    "model_image",
    "model_version",
    "method",
    "code",
)


@functools.cache
def grpc_code_label(code: grpc.StatusCode) -> str:
    """Go's spelling of a gRPC code (`DeadlineExceeded`), as the executor's metrics label it."""
    if code == grpc.StatusCode.CANCELLED:
        return "Canceled"
    if code == grpc.StatusCode.OK:
        return "OK"
    return "".join(part.capitalize() for part in code.name.split("_"))


def status_label(error: ServingError | None, transport: Transport) -> str:
    """The `code` label of a call: the HTTP status over REST, the gRPC code's Go name over
    gRPC, as the executor's REST and gRPC handlers each label theirs."""
    if transport == "rest":
        return "200" if error is None else str(error.http_status)
    return grpc_code_label(grpc.StatusCode.OK if error is None else error.grpc_code)


def method_label(transport: Transport) -> str:
    """The `method` label of a call: the executor labels REST calls "post", gRPC "unary"."""
    return "post" if transport == "rest" else "unary"


class LabelledChildren:
    """A histogram's children by their label values, found with one dict lookup: two are
    observed on every request, and prometheus_client's `labels()` validates and locks each
    time."""

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._children: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()

    def labels(self, *values: str) -> Any:
        """The child of `values` (prometheus_client's own, made on first use)."""
        child = self._children.get(values)
        if child is None:
            with self._lock:
                child = self._children.setdefault(values, self._histogram.labels(*values))
        return child


class GatewayMetrics:
    """Server and client latency histograms, routing counts, request-logger drops."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.server_histogram = Histogram(
            "seldon_api_executor_server_requests_seconds",
            "A histogram of latencies for executor server",
            SERVER_LABELS,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.client_histogram = Histogram(
            "seldon_api_executor_client_requests_seconds",
            "A histogram of latencies for client calls from executor",
            CLIENT_LABELS,
            buckets=BUCKETS,
            registry=self.registry,
        )
        #: the histograms' children, looked up on the request path
        self.server = LabelledChildren(self.server_histogram)
        self.client = LabelledChildren(self.client_histogram)
        self.routes = Counter(
            "seldon_api_executor_routing",
            "Requests a router node sent to each branch (-1 all children, -2 none)",
            ("deployment_name", "predictor_name", "model_name", "route"),
            registry=self.registry,
        )
        self.logger_dropped = Counter(
            "seldon_api_executor_request_logger_dropped",
            "CloudEvents dropped because the request logger's queue was full",
            registry=self.registry,
        )
        self.shadow_dropped = Counter(
            "seldon_api_executor_shadow_dropped",
            "Shadow copies dropped because the shadow queue was full",
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))
