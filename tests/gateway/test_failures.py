"""A component that dies takes down only the graphs that need it: they answer 503 (gRPC
UNAVAILABLE), every other graph is still served."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from seldon_core.seldon_client import SeldonClient

from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.gateway.server import Gateway
from tests.gateway.conftest import (
    NAMESPACE,
    Components,
    deployment,
    node,
)
from tests.servers import Microservice, free_port
from tests.waiting import eventually


@pytest.fixture
def victim(components: Components) -> Microservice:
    """A process serving model-a, of its own, for the test to kill (started with the rest)."""
    return components.services["victim"]


def _gateway(model_a: ComponentEndpoint, model_b: ComponentEndpoint) -> Gateway:
    """`fragile` needs model-a; `sturdy` does not; `chatty` logs to a sink that is gone."""
    closed_port = free_port()
    documents = [
        deployment("fragile", [{"name": "default", "graph": node("model-a", "MODEL")}]),
        deployment("sturdy", [{"name": "default", "graph": node("model-b", "MODEL")}]),
        deployment(
            "chatty",
            [
                {
                    "name": "default",
                    "graph": node(
                        "model-b",
                        "MODEL",
                        logger={"mode": "all", "url": f"http://127.0.0.1:{closed_port}/"},
                    ),
                }
            ],
        ),
    ]
    endpoints = {
        endpoint_key("fragile", "default", "model-a"): model_a,
        endpoint_key("sturdy", "default", "model-b"): model_b,
        endpoint_key("chatty", "default", "model-b"): model_b,
    }
    return Gateway(
        [parse_deployment(d) for d in documents],
        endpoints,
        http_port=free_port(),
        grpc_port=free_port(),
    )


@pytest.fixture
def fragile_gateway(victim: Microservice, components: Components) -> Iterator[Gateway]:
    """The graphs, with `fragile`'s model a process of its own that the test may kill."""
    victim_endpoint = ComponentEndpoint("127.0.0.1", victim.http_port, victim.grpc_port)
    with _gateway(victim_endpoint, components.endpoint("model-b")) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def shared_gateway(components: Components) -> Iterator[Gateway]:
    """The graphs, on the session's components (only this gateway's view of them changes)."""
    with _gateway(components.endpoint("model-a"), components.endpoint("model-b")) as gateway:
        yield gateway


def _predict(gateway: Gateway, name: str, transport: str) -> tuple[bool, str]:
    sc = SeldonClient(
        deployment_name=name,
        namespace=NAMESPACE,
        gateway_endpoint=f"127.0.0.1:{gateway.http_port}",
        gateway="istio",
        transport=transport,
    )
    result = sc.predict(data=np.asarray([[1.0]]))
    return result.success, str(result.msg)


def test_a_killed_component_is_503_for_its_graph_only(
    fragile_gateway: Gateway, victim: Microservice
) -> None:
    for transport in ("rest", "grpc"):
        assert _predict(fragile_gateway, "fragile", transport) == (True, "")

    status = f"{fragile_gateway.http_url}/seldon/{NAMESPACE}/fragile/api/v1.0/health/status"
    assert requests.get(status, timeout=10).status_code == 200

    victim.server.kill()

    # SIGKILL is delivered to the process group at once, but its processes (gunicorn's worker
    # among them) are gone a moment later: readiness must turn within a few seconds
    eventually(
        lambda: requests.get(status, timeout=10).status_code != 200,
        10,
        interval_s=0.1,
        awaited="the graph unready after the kill",
    )
    unready = requests.get(status, timeout=10)
    assert unready.status_code == 503
    assert "fragile/default/model-a" in unready.json()["status"]["info"]
    url = f"{fragile_gateway.http_url}/seldon/{NAMESPACE}/fragile/api/v1.0/predictions"
    reply = requests.post(url, json={"data": {"ndarray": [[1.0]]}}, timeout=20)
    assert reply.status_code == 503
    assert reply.json()["status"]["reason"] == "MICROSERVICE_UNAVAILABLE"
    ok, message = _predict(fragile_gateway, "fragile", "grpc")
    assert not ok and "UNAVAILABLE" in message
    for transport in ("rest", "grpc"):
        assert _predict(fragile_gateway, "sturdy", transport) == (True, "")


def test_a_component_the_runner_reports_dead_is_503_before_any_call(
    shared_gateway: Gateway,
) -> None:
    fragile_gateway = shared_gateway
    fragile_gateway.mark_down(endpoint_key("fragile", "default", "model-a"), "exited with 137")
    url = f"{fragile_gateway.http_url}/seldon/{NAMESPACE}/fragile/api/v1.0/predictions"
    reply = requests.post(url, json={"data": {"ndarray": [[1.0]]}}, timeout=20)
    assert reply.status_code == 503
    assert "exited with 137" in reply.json()["status"]["info"]
    ok, message = _predict(fragile_gateway, "fragile", "grpc")
    assert not ok and "exited with 137" in message
    assert _predict(fragile_gateway, "sturdy", "rest") == (True, "")

    status = f"{fragile_gateway.http_url}/seldon/{NAMESPACE}/fragile/api/v1.0/health/status"
    assert requests.get(status, timeout=10).status_code == 503

    fragile_gateway.mark_up(endpoint_key("fragile", "default", "model-a"))
    assert requests.get(status, timeout=10).status_code == 200
    assert _predict(fragile_gateway, "fragile", "rest") == (True, "")


def test_a_dead_log_sink_does_not_fail_predictions(shared_gateway: Gateway) -> None:
    for transport in ("rest", "grpc"):
        assert _predict(shared_gateway, "chatty", transport) == (True, "")


def test_a_component_slower_than_the_predictors_timeout_is_504(components: Components) -> None:
    """`seldon.io/rest-timeout` / `seldon.io/grpc-timeout` (ms) bound every component call."""
    sdep = parse_deployment(
        deployment(
            "hasty",
            [
                {
                    "name": "default",
                    "annotations": {
                        "seldon.io/rest-timeout": "300",
                        "seldon.io/grpc-timeout": "300",
                    },
                    "graph": node("model-a", "MODEL"),
                }
            ],
        )
    )
    endpoints = {endpoint_key("hasty", "default", "model-a"): components.endpoint("model-a")}
    with Gateway([sdep], endpoints, http_port=free_port(), grpc_port=free_port()) as gateway:
        url = f"{gateway.http_url}/seldon/{NAMESPACE}/hasty/api/v1.0/predictions"
        slow = {"data": {"ndarray": [[1.0]]}, "meta": {"tags": {"sleep": 1.0}}}
        reply = requests.post(url, json=slow, timeout=20)
        assert reply.status_code == 504
        assert reply.json()["status"]["reason"] == "MICROSERVICE_TIMEOUT"

        channel = grpc.insecure_channel(gateway.grpc_target)
        with pytest.raises(grpc.RpcError) as caught:
            prediction_pb2_grpc.SeldonStub(channel).Predict(
                json_format.ParseDict(slow, prediction_pb2.SeldonMessage()),
                metadata=[("seldon", "hasty")],
                timeout=20,
            )
        channel.close()
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        time.sleep(1.0)  # the component is free again
        fast = requests.post(url, json={"data": {"ndarray": [[1.0]]}}, timeout=20)
        assert fast.status_code == 200, fast.text
