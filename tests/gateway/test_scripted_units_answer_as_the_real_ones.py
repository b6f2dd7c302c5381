"""The in-process twins are held against the real components: for each call the graph walk
makes, over REST and gRPC, a twin answers (or refuses) exactly as the real
`seldon-core-microservice` hosting the same class does, through the gateway's own clients.

A router's twin first learns the feedback its real router recorded, so both route alike.
(TagRouter has no process of its own: its twin's envelope is GreedyRouter's, checked here.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2

from seldon_tfserving.gateway.component_client import (
    ComponentClient,
    ComponentFailure,
    ComponentMethod,
    GrpcComponentClient,
    RestComponentClient,
)
from seldon_tfserving.gateway.payload import Payload, PayloadKind
from seldon_tfserving.transport import Transport
from tests.gateway.components import read_events
from tests.gateway.conftest import Components, image_of, twin_units
from tests.gateway.recorded_components import RecordedClient, RecordedComponents

TRANSPORTS: list[Transport] = ["rest", "grpc"]
UPSTREAM = {"tags": {"user": "u-1"}, "requestPath": {"upstream": "tests/upstream:0.1"}}

#: (node, method, what the walk sends): every kind of call, with tags and a path to carry
CALLS: list[tuple[str, ComponentMethod, Any]] = [
    ("model-a", "predict", {"data": {"ndarray": [[1.0, 2.0]]}, "meta": UPSTREAM}),
    ("model-b", "predict", {"data": {"tensor": {"shape": [1, 2], "values": [1.0, 3.0]}}}),
    ("model-a", "predict", {"data": {"names": ["a"], "ndarray": [[2.0]]}, "meta": {"puid": "p"}}),
    ("transformer", "transform-input", {"data": {"ndarray": [[1.0, 2.0]]}, "meta": UPSTREAM}),
    ("output", "transform-output", {"data": {"ndarray": [[1.0, 2.0]]}, "meta": UPSTREAM}),
    ("router", "route", {"data": {"ndarray": [[1.0]]}, "meta": {**UPSTREAM, "puid": "p"}}),
    ("router", "route", {"data": {"tensor": {"shape": [1, 1], "values": [1.0]}}}),
    (
        "combiner",
        "aggregate",
        [
            {"data": {"ndarray": [[1.0]]}, "meta": {"tags": {"a": 1}, "requestPath": {"m": "i:1"}}},
            {"data": {"ndarray": [[3.0]]}, "meta": {"tags": {"b": 2}, "requestPath": {"n": "i:1"}}},
        ],
    ),
    (
        "model-a",
        "send-feedback",
        {"request": {"data": {"ndarray": [[1.0]]}}, "response": {"meta": {}}, "reward": 0.0},
    ),
    (
        "router",
        "send-feedback",
        {"request": {"data": {"ndarray": [[1.0]]}}, "response": {"meta": {}}, "reward": 0.0},
    ),
]


@pytest.fixture
def clients(components: Components) -> Iterator[dict[tuple[str, Transport], ComponentClient]]:
    """The gateway's real client of each node, by transport, and each node's twin's."""
    channels: list[grpc.Channel] = []
    made: dict[tuple[str, Transport], ComponentClient] = {}
    for node in {node for node, _, _ in CALLS}:
        endpoint = components.endpoint(node)
        channel = grpc.insecure_channel(endpoint.grpc_target)
        channels.append(channel)
        made[(node, "rest")] = RestComponentClient(node, endpoint, 20, 2)
        made[(node, "grpc")] = GrpcComponentClient(node, channel, 20)
    yield made
    for client in made.values():
        client.close()
    for channel in channels:
        channel.close()


def twin(node: str, transport: Transport, components: Components) -> RecordedClient:
    """The node's twin, having learned what its real component learned so far."""
    recorded = RecordedComponents(twin_units())
    unit = recorded.unit(node, image_of(node))
    for event in read_events(components.state_file(node)):
        if event["event"] == "feedback":
            unit.send_feedback(event["reward"], event["routing"])
    return RecordedClient(recorded, node, image_of(node), transport)


def sent(document: Any, transport: Transport, kind: PayloadKind = "message") -> Payload:
    """The payload as the gateway hands it on: JSON from a REST request, a proto from gRPC."""
    if transport == "rest":
        return Payload.from_json(kind, json.dumps(document).encode())
    message = prediction_pb2.Feedback() if kind == "feedback" else prediction_pb2.SeldonMessage()
    return Payload.from_proto(kind, json_format.ParseDict(document, message))


def outcome(
    client: ComponentClient, method: ComponentMethod, document: Any, transport: Transport
) -> Any:
    if method == "aggregate":
        payload: Payload | list[Payload] = [sent(child, transport) for child in document]
    else:
        payload = sent(document, transport, "feedback" if method == "send-feedback" else "message")
    try:
        return client.call(method, payload, {"Seldon-Puid": "fidelity"}).as_json()
    except ComponentFailure as failure:
        return (
            failure.http_status,
            json.loads(failure.body),
            failure.content_type,
            failure.grpc_code,
            failure.message,
        )


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("node", "method", "document"), CALLS, ids=[f"{n}-{m}" for n, m, _ in CALLS]
)
def test_a_twin_answers_each_call_as_its_real_component(
    components: Components,
    clients: dict[tuple[str, Transport], ComponentClient],
    transport: Transport,
    node: str,
    method: ComponentMethod,
    document: Any,
) -> None:
    real = outcome(clients[(node, transport)], method, document, transport)
    assert outcome(twin(node, transport, components), method, document, transport) == real


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_twin_refuses_as_its_real_component(
    components: Components,
    clients: dict[tuple[str, Transport], ComponentClient],
    transport: Transport,
) -> None:
    negative = {"data": {"ndarray": [[-1.0]]}}
    real = outcome(clients[("model-a", transport)], "predict", negative, transport)
    assert real[0] == 400  # the real component refused
    assert outcome(twin("model-a", transport, components), "predict", negative, transport) == real


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("node", ["model-a", "combiner", "router"])
def test_a_twins_metadata_is_its_real_components(
    components: Components,
    clients: dict[tuple[str, Transport], ComponentClient],
    transport: Transport,
    node: str,
) -> None:
    headers = {"Seldon-Puid": "fidelity"}
    assert twin(node, transport, components).model_metadata(headers) == clients[
        (node, transport)
    ].model_metadata(headers)
