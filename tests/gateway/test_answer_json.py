"""A gRPC component's ndarray answer reaches a REST client printed as the component prints it
over REST: float32 values in their shortest float32 text, not the doubles that carry them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.gateway.message_json import answer_json
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings
from tests.gateway.conftest import deployment, node
from tests.grpc_servers import serving
from tests.servers import free_port

#: A softmax row as the 1x4 model computes it, in float32.
SCORES = np.array([[0.21419969, 0.78580034, 1.0e-8]], dtype=np.float32)


def _answer(values: Any, **meta: Any) -> Any:
    message = prediction_pb2.SeldonMessage()
    message.data.names.extend(["t:0", "t:1", "t:2"])
    message.data.ndarray.extend(values)
    json_format.ParseDict(meta, message.meta)
    return message


def test_widened_float32_values_print_as_float32() -> None:
    message = _answer(SCORES.tolist(), puid="p-1", tags={"model": "a"})
    assert message.data.ndarray[0][0] == 0.21419969201087952  # what the ListValue carries
    assert answer_json(message) == (
        b'{"meta":{"puid":"p-1","tags":{"model":"a"}},'
        b'"data":{"names":["t:0","t:1","t:2"],"ndarray":[[0.21419969,0.78580034,1e-8]]}}'
    )


def test_doubles_that_are_not_float32_values_keep_their_double_text() -> None:
    message = _answer([[0.1, float(np.float32(0.21419969)), 3.0]])
    assert json.loads(answer_json(message))["data"]["ndarray"] == [[0.1, 0.21419969201087952, 3.0]]
    assert b"[[0.1,0.21419969201087952,3.0]]" in answer_json(message)


@pytest.mark.parametrize(
    "values",
    [[["a", "b"]], [[1.0, 2.0], [3.0]], [[True, False]], [[1.0, "a"]], []],
    ids=["strings", "ragged", "bools", "mixed", "empty"],
)
def test_what_the_codec_does_not_print_is_printed_by_json_format(values: Any) -> None:
    message = _answer(values)
    assert answer_json(message) == json_format.MessageToJson(message, indent=None).encode()


def test_a_request_is_re_encoded_with_every_double_exact() -> None:
    """Only answers are printed as float32: a client's request keeps its doubles."""
    message = _answer(SCORES.tolist())
    assert b"0.21419969201087952" in Payload.from_proto("message", message).json_bytes()
    assert b"[[0.21419969,0.78580034,1e-8]]" in Payload.component_answer(message).json_bytes()


class _Float32Model(prediction_pb2_grpc.ModelServicer):  # type: ignore[misc]
    """A gRPC component whose model answers in float32 (the microservice widens it)."""

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return _answer(SCORES.tolist(), requestPath={"model-a": "scale:1"})


@pytest.fixture()
def float32_component() -> Iterator[int]:
    with serving(prediction_pb2_grpc.add_ModelServicer_to_server, _Float32Model()) as port:
        yield port


def test_a_rest_client_reads_the_grpc_components_float32_text(float32_component: int) -> None:
    sdep = parse_deployment(deployment("f32", [{"name": "p", "graph": node("model-a", "MODEL")}]))
    endpoint = ComponentEndpoint("127.0.0.1", 9, float32_component, transport="grpc")
    with Gateway(
        [sdep],
        {endpoint_key("f32", "p", "model-a"): endpoint},
        http_port=free_port(),
        grpc_port=free_port(),
        settings=GatewaySettings(component_transport="endpoint"),
    ) as gateway:
        reply = requests.post(
            gateway.http_url + "/api/v1.0/predictions",
            json={"data": {"ndarray": [[1.0, 2.0, 3.0, 4.0]]}},
            headers={"Seldon-Puid": "p-2"},
            timeout=20,
        )
    assert reply.status_code == 200, reply.text
    assert b'"ndarray":[[0.21419969,0.78580034,1e-8]]' in reply.content
    assert reply.json()["meta"]["puid"] == "p-2"
