"""Graph-level metadata (`/api/v1.0/metadata`, gRPC `Seldon/GraphMetadata`): every node's own
metadata, and the graph's inputs and outputs taken from the nodes Seldon's executor takes them
from, by node kind. The test components name their inputs and outputs after their node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import requests
from google.protobuf import empty_pb2, json_format
from seldon_core.proto import prediction_pb2_grpc

from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.gateway.graph_metadata import graph_metadata
from seldon_tfserving.gateway.graph_plan import plan_node
from seldon_tfserving.gateway.server import Gateway
from tests.gateway.conftest import NAMESPACE, Components, deployment, node
from tests.servers import free_port


def ends(node_name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The inputs and outputs a test component serving `node_name` declares."""
    return (
        [{"messagetype": "ndarray", "schema": {"names": [f"{node_name}-in"]}}],
        [{"messagetype": "ndarray", "schema": {"names": [f"{node_name}-out"]}}],
    )


def rest_graph_metadata(gateway: Gateway, name: str) -> requests.Response:
    return requests.get(
        gateway.http_url + f"/seldon/{NAMESPACE}/{name}/api/v1.0/metadata", timeout=20
    )


def own_metadata(components: Components, node_name: str) -> dict[str, Any]:
    reply = requests.get(components.services[node_name].http_url + "/metadata", timeout=10)
    assert reply.status_code == 200, reply.text
    return {key: value for key, value in reply.json().items() if value}


def test_every_node_is_listed_with_its_components_own_metadata(
    gateway: Gateway, components: Components
) -> None:
    document = rest_graph_metadata(gateway, "chain").json()
    assert set(document["models"]) == {"transformer", "output", "model-b"}
    for node_name, metadata in document["models"].items():
        assert metadata == own_metadata(components, node_name)
        assert metadata["custom"] == {"node": node_name}


def test_grpc_graph_metadata_is_the_same_document_in_seldons_message(
    gateway: Gateway, components: Components
) -> None:
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        answer = prediction_pb2_grpc.SeldonStub(channel).GraphMetadata(
            empty_pb2.Empty(), metadata=[("seldon", "chain"), ("namespace", NAMESPACE)], timeout=20
        )
    got = json_format.MessageToDict(answer)
    rest = rest_graph_metadata(gateway, "chain").json()
    assert got["name"] == rest["name"] == "default"
    assert got["models"] == rest["models"]
    assert got["inputs"] == rest["graphinputs"] == ends("transformer")[0]
    assert got["outputs"] == rest["graphoutputs"] == ends("output")[1]


@pytest.fixture
def half_dead_gateway(components: Components) -> Iterator[Gateway]:
    """`chained`, with nobody listening where its second model should be."""
    documents = [
        deployment(
            "chained",
            [{"name": "default", "graph": node("model-b", "MODEL", [node("model-a", "MODEL")])}],
        )
    ]
    endpoints = {
        endpoint_key("chained", "default", "model-b"): components.endpoint("model-b"),
        endpoint_key("chained", "default", "model-a"): ComponentEndpoint(
            "127.0.0.1", free_port(), free_port()
        ),
    }
    with Gateway(
        [parse_deployment(d) for d in documents],
        endpoints,
        http_port=free_port(),
        grpc_port=free_port(),
    ) as gateway:
        yield gateway


def test_a_node_that_does_not_answer_fails_the_whole_with_503(half_dead_gateway: Gateway) -> None:
    reply = rest_graph_metadata(half_dead_gateway, "chained")
    assert reply.status_code == 503, reply.text
    assert reply.json()["status"]["reason"] == "MICROSERVICE_UNAVAILABLE"
    assert "model-a" in reply.json()["status"]["info"]
    with grpc.insecure_channel(half_dead_gateway.grpc_target) as channel:
        with pytest.raises(grpc.RpcError) as failure:
            prediction_pb2_grpc.SeldonStub(channel).GraphMetadata(
                empty_pb2.Empty(), metadata=[("seldon", "chained")], timeout=20
            )
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE


def test_graph_ends_follow_node_kinds_also_for_types_given_by_methods() -> None:
    """A node typed only by `methods` counts as the kind those methods make it."""
    document = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "d"},
        "spec": {
            "predictors": [
                {
                    "name": "p",
                    "graph": node(
                        "post",
                        methods=["TRANSFORM_OUTPUT"],
                        children=[node("pick", methods=["ROUTE"], children=[node("m", "MODEL")])],
                    ),
                }
            ]
        },
    }
    predictor = parse_deployment(document).predictors[0]
    root = plan_node("d", predictor, predictor.graph)
    models = {
        name: {"name": name, "inputs": ends(name)[0], "outputs": ends(name)[1]}
        for name in ("post", "pick", "m")
    }
    answer = graph_metadata("p", root, models)
    assert answer["graphinputs"] == ends("m")[0]  # through the output transformer and router
    assert answer["graphoutputs"] == ends("post")[1]
    assert answer["models"] == models
