"""The executor's Prometheus metrics, in a registry of the gateway's own, served on /prometheus.

Names and labels are the executor's (`seldon_api_executor_server_requests_seconds`,
`seldon_api_executor_client_requests_seconds`); routing counts per branch are ours.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

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


class GatewayMetrics:
    """Server and client latency histograms, routing counts, request-logger drops."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.server = Histogram(
            "seldon_api_executor_server_requests_seconds",
            "A histogram of latencies for executor server",
            SERVER_LABELS,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.client = Histogram(
            "seldon_api_executor_client_requests_seconds",
            "A histogram of latencies for client calls from executor",
            CLIENT_LABELS,
            buckets=BUCKETS,
            registry=self.registry,
        )
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
