"""The request path observes through children found once: they are prometheus_client's own,
so what is observed is what /prometheus exposes."""

from __future__ import annotations

import grpc

from seldon_tfserving.gateway.metrics import GatewayMetrics, grpc_code_label

LABELS = ("sdep", "default", "", "predictions", "post", "200")


def test_an_observation_through_the_cached_child_is_exposed() -> None:
    metrics = GatewayMetrics()
    child = metrics.server.labels(*LABELS)
    assert child is metrics.server.labels(*LABELS)
    assert child is metrics.server_histogram.labels(*LABELS)
    child.observe(0.002)
    metrics.server.labels(*LABELS).observe(0.02)
    exposed = metrics.exposition().decode()
    assert (
        'seldon_api_executor_server_requests_seconds_count{code="200",deployment_name="sdep",'
        'method="post",predictor_name="default",predictor_version="",service="predictions"} 2.0'
    ) in exposed
    assert 'le="0.005",method="post"' in exposed


def test_grpc_codes_keep_gos_spelling() -> None:
    assert grpc_code_label(grpc.StatusCode.DEADLINE_EXCEEDED) == "DeadlineExceeded"
    assert grpc_code_label(grpc.StatusCode.CANCELLED) == "Canceled"
    assert grpc_code_label(grpc.StatusCode.OK) == "OK"
