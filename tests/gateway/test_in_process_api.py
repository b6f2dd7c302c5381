"""The external API's edges, in process over recorded components: paths, the puid in the
header, in `meta` and on every component call, the headers passed on, routing injection,
unknown deployments, and CORS."""

from __future__ import annotations

import re
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.deploy.model import SeldonDeployment, parse_deployment
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings
from tests.gateway.conftest import NAMESPACE, deployment, node
from tests.gateway.in_process import recorded_dataplane, walk
from tests.gateway.recorded_components import RecordedComponents

REQUEST = {"data": {"ndarray": [[1.0, 2.0]]}}


def seldon_path(name: str, operation: str = "predictions") -> str:
    return f"/seldon/{NAMESPACE}/{name}/api/v1.0/{operation}"


def test_the_puid_comes_back_in_the_header_and_in_meta(
    in_process_gateway: Gateway, recorded: RecordedComponents
) -> None:
    given = requests.post(
        in_process_gateway.http_url + seldon_path("ensemble"),
        json=REQUEST,
        headers={"Seldon-Puid": "my-request-1"},
        timeout=20,
    )
    assert given.status_code == 200, given.text
    assert given.headers["Seldon-Puid"] == "my-request-1"
    assert given.json()["meta"]["puid"] == "my-request-1"
    # every component of the graph was called with it
    assert len(recorded.calls) == 3
    assert {call.headers["Seldon-Puid"] for call in recorded.calls} == {"my-request-1"}

    generated = requests.post(
        in_process_gateway.http_url + seldon_path("ensemble"), json=REQUEST, timeout=20
    )
    puid = generated.headers["Seldon-Puid"]
    assert re.fullmatch(r"[0-9a-f-]{36}", puid)
    assert generated.json()["meta"]["puid"] == puid
    assert {call.headers["Seldon-Puid"] for call in recorded.calls[3:]} == {puid}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        pytest.param(f"/seldon/{NAMESPACE}/chain/api/v0.1/predictions", {}, id="v0.1"),
        pytest.param("/seldon/chain/api/v1.0/predictions", {}, id="no-namespace"),
        pytest.param(
            "/api/v1.0/predictions", {"seldon": "chain", "namespace": NAMESPACE}, id="headers"
        ),
    ],
)
def test_every_path_form_reaches_the_named_deployment(
    in_process_gateway: Gateway, path: str, headers: dict[str, str]
) -> None:
    reply = requests.post(
        in_process_gateway.http_url + path, json=REQUEST, headers=headers, timeout=20
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["ndarray"] == [[-20.0, -30.0]]


def test_an_unknown_deployment_is_404_with_seldon_error_json(
    in_process_gateway: Gateway, recorded: RecordedComponents
) -> None:
    reply = requests.post(
        in_process_gateway.http_url + seldon_path("nowhere"), json=REQUEST, timeout=20
    )
    assert reply.status_code == 404
    status = reply.json()["status"]
    assert status["code"] == 404 and status["status"] == "FAILURE"
    assert "nowhere" in status["info"]

    channel = grpc.insecure_channel(in_process_gateway.grpc_target)
    with pytest.raises(grpc.RpcError) as caught:
        prediction_pb2_grpc.SeldonStub(channel).Predict(
            prediction_pb2.SeldonMessage(), metadata=[("seldon", "nowhere")], timeout=20
        )
    channel.close()
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert recorded.calls == []


def test_grpc_answers_on_its_own_port_too(in_process_gateway: Gateway) -> None:
    channel = grpc.insecure_channel(in_process_gateway.grpc_target)
    request = prediction_pb2.SeldonMessage()
    request.data.ndarray.extend([[2.0]])
    response, call = prediction_pb2_grpc.SeldonStub(channel).Predict.with_call(
        request,
        metadata=[("seldon", "chain"), ("namespace", NAMESPACE), ("seldon-puid", "p-42")],
        timeout=20,
    )
    channel.close()
    assert ("seldon-puid", "p-42") in list(call.initial_metadata())
    assert response.meta.puid == "p-42"
    assert np.isclose(response.data.ndarray[0][0], -30.0)


def test_the_requests_headers_reach_every_component_but_this_hops_own(
    in_process_gateway: Gateway, recorded: RecordedComponents
) -> None:
    reply = requests.post(
        in_process_gateway.http_url + seldon_path("chain"),
        json=REQUEST,
        headers={"X-Team": "search", "Authorization": "Bearer t"},
        timeout=20,
    )
    assert reply.status_code == 200, reply.text
    request = prediction_pb2.SeldonMessage()
    request.data.ndarray.extend([[2.0]])
    with grpc.insecure_channel(in_process_gateway.grpc_target) as channel:
        prediction_pb2_grpc.SeldonStub(channel).Predict(
            request,
            metadata=[("seldon", "chain"), ("namespace", NAMESPACE), ("x-team", "search")],
            timeout=20,
        )
    rest_calls, grpc_calls = recorded.calls[:3], recorded.calls[3:]
    assert len(grpc_calls) == 3
    for call in rest_calls:
        assert call.headers["X-Team"] == "search"
        assert call.headers["Authorization"] == "Bearer t"
        assert not {"Host", "Content-Length", "Content-Type"} & set(call.headers)
    for call in grpc_calls:
        assert call.headers["x-team"] == "search"
        assert "user-agent" not in call.headers


def _ensemble(**predictor: Any) -> SeldonDeployment:
    models = [node("model-a", "MODEL"), node("model-b", "MODEL")]
    graph = node("combiner", "COMBINER", models)
    return parse_deployment(
        deployment("ensemble", [{"name": "default", "graph": graph, **predictor}])
    )


def test_routing_is_injected_only_when_asked_for(recorded: RecordedComponents) -> None:
    quiet = GatewaySettings(inject_routing=False)
    with recorded_dataplane([_ensemble()], recorded, quiet) as plane:
        answer, ctx = walk(plane, "ensemble", REQUEST)
    assert "routing" not in answer["meta"]
    assert ctx.routing == {"combiner": -1, "model-a": -1, "model-b": -1}  # recorded all the same
    assert answer["meta"]["puid"] == "walk-1"

    asked = _ensemble(
        svcOrchSpec={"env": [{"name": "SELDON_ENABLE_ROUTING_INJECTION", "value": "true"}]}
    )
    with recorded_dataplane([asked], recorded, quiet) as plane:
        answer, _ = walk(plane, "ensemble", REQUEST)
    assert answer["meta"]["routing"] == {"combiner": -1, "model-a": -1, "model-b": -1}


def test_the_puid_is_left_out_of_meta_when_not_injected(recorded: RecordedComponents) -> None:
    with recorded_dataplane([_ensemble()], recorded, GatewaySettings(inject_puid=False)) as plane:
        answer, _ = walk(plane, "ensemble", REQUEST, transport="grpc")
    assert "puid" not in answer["meta"]
    assert {call.headers["Seldon-Puid"] for call in recorded.calls} == {"walk-1"}


def test_cors_preflight_is_answered_but_no_origin_is_allowed_by_default(
    in_process_gateway: Gateway,
) -> None:
    """The executor's default is `*`; ours is none (test_cors.py has named origins)."""
    origin = {"Origin": "https://page.example"}
    url = in_process_gateway.http_url + seldon_path("ensemble")
    preflight = requests.options(url, headers=origin, timeout=10)
    assert preflight.status_code == 200
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Headers" not in preflight.headers
    reply = requests.post(url, json=REQUEST, headers=origin, timeout=20)
    assert reply.status_code == 200
    assert "Access-Control-Allow-Origin" not in reply.headers
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
