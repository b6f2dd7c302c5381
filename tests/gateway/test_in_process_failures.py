"""A failing node in the graph walk, in process: its error status comes back as it answered
(a refusal keeps its status and body, a component nobody reaches is 503, one too slow 504),
the walk stops there, and a node the runner marked down fails its graphs before any call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.errors import DeadlineExceeded, InternalError, InvalidInput, Unavailable
from seldon_tfserving.gateway.component_client import ComponentMethod
from seldon_tfserving.gateway.endpoints import endpoint_key
from seldon_tfserving.gateway.server import Gateway
from tests.gateway.conftest import NAMESPACE
from tests.gateway.recorded_components import RecordedComponents
from tests.gateway.scripted_units import AddTransformer, Document, ScaleModel, TagRouter

REQUEST = {"data": {"ndarray": [[1.0, 2.0]]}}


def rest_predict(gateway: Gateway, name: str, body: Any = REQUEST) -> requests.Response:
    url = f"{gateway.http_url}/seldon/{NAMESPACE}/{name}/api/v1.0/predictions"
    return requests.post(url, json=body, timeout=20)


def grpc_failure(gateway: Gateway, name: str, body: Any = REQUEST) -> grpc.RpcError:
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            prediction_pb2_grpc.SeldonStub(channel).Predict(
                json_format.ParseDict(body, prediction_pb2.SeldonMessage()),
                metadata=[("seldon", name), ("namespace", NAMESPACE)],
                timeout=20,
            )
    return caught.value


def failing_with(error: Exception) -> type[ScaleModel]:
    """A ScaleModel twin whose every prediction fails with `error`."""

    class Failing(ScaleModel):
        def predict(self, array: np.ndarray[Any, Any], meta: Document) -> np.ndarray[Any, Any]:
            raise error

    return Failing


def test_a_refusal_keeps_its_status_and_body_and_the_combiner_is_never_called(
    in_process_gateway: Gateway, recorded: RecordedComponents
) -> None:
    """ScaleModel refuses negative input with 400: the executor passes that answer on."""
    reply = rest_predict(in_process_gateway, "ensemble", {"data": {"ndarray": [[-1.0]]}})
    assert reply.status_code == 400, reply.text
    assert reply.json()["status"] == {
        "code": 400,
        "info": "ScaleModel takes non-negative input only",
        "reason": "MICROSERVICE_BAD_DATA",
        "status": "FAILURE",
    }
    # both children ran (at once), and nothing after them
    assert sorted(recorded.steps()) == [("model-a", "predict"), ("model-b", "predict")]

    failure = grpc_failure(in_process_gateway, "ensemble", {"data": {"ndarray": [[-1.0]]}})
    assert failure.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "non-negative" in (failure.details() or "")
    assert recorded.calls_to("combiner") == []


def test_a_failing_transformer_stops_the_chain_before_the_model(
    in_process_gateway: Gateway, recorded: RecordedComponents
) -> None:
    class Refusing(AddTransformer):
        def transform_input(
            self, array: np.ndarray[Any, Any], meta: Document
        ) -> np.ndarray[Any, Any]:
            raise InvalidInput("the transformer takes two columns exactly")

    recorded.script("transformer", Refusing)
    reply = rest_predict(in_process_gateway, "chain")
    assert reply.status_code == 400
    assert reply.json()["status"]["info"] == "the transformer takes two columns exactly"
    assert recorded.steps() == [("transformer", "transform-input")]


@pytest.mark.parametrize(
    ("error", "status", "reason", "code"),
    [
        pytest.param(
            Unavailable("component 'model-a': cannot reach 127.0.0.1:9/predict"),
            503,
            "MICROSERVICE_UNAVAILABLE",
            grpc.StatusCode.UNAVAILABLE,
            id="unreachable",
        ),
        pytest.param(
            DeadlineExceeded("component 'model-a': no answer within 0.3s"),
            504,
            "MICROSERVICE_TIMEOUT",
            grpc.StatusCode.DEADLINE_EXCEEDED,
            id="too-slow",
        ),
    ],
)
def test_a_component_that_does_not_answer_fails_its_graph_with_the_clients_status(
    in_process_gateway: Gateway,
    recorded: RecordedComponents,
    error: Exception,
    status: int,
    reason: str,
    code: grpc.StatusCode,
) -> None:
    recorded.script("model-a", failing_with(error))
    reply = rest_predict(in_process_gateway, "chained")
    assert reply.status_code == status
    assert reply.json()["status"]["reason"] == reason
    assert reply.json()["status"]["info"] == str(error)
    assert grpc_failure(in_process_gateway, "chained").code() == code
    # model-b answered before its child failed
    assert recorded.steps() == [("model-b", "predict"), ("model-a", "predict")] * 2


def test_a_router_answering_no_route_is_its_own_500(
    in_process_gateway: Gateway, recorded: RecordedComponents
) -> None:
    class Mute(TagRouter):
        def answer(self, method: ComponentMethod, request: Any) -> Document:
            return {"data": {"ndarray": []}, "meta": {}}

    recorded.script("tag-router", Mute)
    reply = rest_predict(in_process_gateway, "tagged")
    assert reply.status_code == 500
    assert "router 'tag-router' answered no route" in reply.json()["status"]["info"]
    assert reply.json()["status"]["reason"] == InternalError.seldon_reason
    assert recorded.steps() == [("tag-router", "route")]


@pytest.fixture
def model_a_down(in_process_gateway: Gateway) -> Iterator[str]:
    key = endpoint_key("chained", "default", "model-a")
    in_process_gateway.mark_down(key, "exited with 137")
    try:
        yield key
    finally:
        in_process_gateway.mark_up(key)


def test_a_node_marked_down_fails_its_graph_before_any_call(
    in_process_gateway: Gateway, recorded: RecordedComponents, model_a_down: str
) -> None:
    reply = rest_predict(in_process_gateway, "chained")
    assert reply.status_code == 503
    assert reply.json()["status"]["reason"] == "MICROSERVICE_UNAVAILABLE"
    assert f"component {model_a_down} is down: exited with 137" in reply.json()["status"]["info"]
    failure = grpc_failure(in_process_gateway, "chained")
    assert failure.code() == grpc.StatusCode.UNAVAILABLE
    assert "exited with 137" in (failure.details() or "")
    # not even the graph's first node, which is up, was called
    assert recorded.calls == []

    # graphs that do not need it are served; once it is back, so is its own
    assert rest_predict(in_process_gateway, "ensemble").status_code == 200
    in_process_gateway.mark_up(model_a_down)
    assert rest_predict(in_process_gateway, "chained").status_code == 200
