"""A router's answer decides the walk as in the executor: -1 every child, -2 none (the request
comes back as it was), an index one child, anything else is the router's error."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.gateway.server import Gateway
from tests.gateway.conftest import NAMESPACE


def predict(gateway: Gateway, transport: str, route: int) -> tuple[int, dict[str, Any]]:
    """Ask the `tagged` graph, whose router goes where `meta.tags.route` says."""
    request = {"data": {"ndarray": [[2.0]]}, "meta": {"tags": {"route": route}}}
    if transport == "rest":
        reply = requests.post(
            f"{gateway.http_url}/seldon/{NAMESPACE}/tagged/api/v1.0/predictions",
            json=request,
            timeout=20,
        )
        return reply.status_code, reply.json()
    channel = grpc.insecure_channel(gateway.grpc_target)
    try:
        response = prediction_pb2_grpc.SeldonStub(channel).Predict(
            json_format.ParseDict(request, prediction_pb2.SeldonMessage()),
            metadata=[("seldon", "tagged"), ("namespace", NAMESPACE)],
            timeout=20,
        )
    except grpc.RpcError as error:
        return {grpc.StatusCode.INTERNAL: 500}.get(error.code(), -1), {"info": error.details()}
    finally:
        channel.close()
    return 200, json_format.MessageToDict(response)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_route_to_one_child(gateway: Gateway, transport: str) -> None:
    status, response = predict(gateway, transport, 1)
    assert status == 200
    assert response["data"]["ndarray"] == [[20.0]]
    assert response["meta"]["routing"] == {"tag-router": 1, "model-b": -1}
    assert response["meta"]["requestPath"] == {"model-b": "tests/scalemodel:0.1"}


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_route_minus_one_runs_every_child_and_without_combiner_the_first_answers(
    gateway: Gateway, transport: str
) -> None:
    status, response = predict(gateway, transport, -1)
    assert status == 200
    assert response["data"]["ndarray"] == [[2.0]]
    assert response["meta"]["routing"] == {"tag-router": -1, "model-a": -1, "model-b": -1}


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_route_minus_two_returns_the_request_untouched(gateway: Gateway, transport: str) -> None:
    status, response = predict(gateway, transport, -2)
    assert status == 200
    assert response["data"]["ndarray"] == [[2.0]]
    assert response["meta"]["tags"] == {"route": -2}
    assert response["meta"]["routing"] == {"tag-router": -2}
    assert "requestPath" not in response["meta"]


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_a_route_past_the_children_is_a_500(gateway: Gateway, transport: str) -> None:
    status, response = predict(gateway, transport, 5)
    assert status == 500
    info = response["status"]["info"] if transport == "rest" else response["info"]
    assert "route 5" in info and "2 children" in info
