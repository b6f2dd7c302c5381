"""Routers in the graph walk, in process: a router's answer decides the walk as in the
executor (-1 every child, -2 none and the request comes back as it was, an index one child,
anything else is the router's error), and RANDOM_ABTEST is a router the gateway runs itself.

The graphs are the real-process tests' own; their components are recorded twins.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.errors import InternalError, InvalidInput
from seldon_tfserving.gateway.server import Gateway
from tests.gateway.conftest import NAMESPACE, deployment, node, seldon_client
from tests.gateway.in_process import recorded_dataplane, walk
from tests.gateway.recorded_components import RecordedComponents

TRANSPORTS = ["rest", "grpc"]
CLIENTS = [
    pytest.param("istio", "rest", id="istio-rest"),
    pytest.param("istio", "grpc", id="istio-grpc"),
    pytest.param("ambassador", "rest", id="ambassador-rest"),
    pytest.param("ambassador", "grpc", id="ambassador-grpc"),
]


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


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_route_to_one_child(
    in_process_gateway: Gateway, recorded: RecordedComponents, transport: str
) -> None:
    status, response = predict(in_process_gateway, transport, 1)
    assert status == 200
    assert response["data"]["ndarray"] == [[20.0]]
    assert response["meta"]["routing"] == {"tag-router": 1, "model-b": -1}
    assert response["meta"]["requestPath"] == {"model-b": "tests/scalemodel:0.1"}
    assert recorded.steps() == [("tag-router", "route"), ("model-b", "predict")]
    route, chosen = recorded.calls
    # the router and the child it chose are each handed the request as it came
    assert route.payload == chosen.payload
    assert route.payload["data"]["ndarray"] == [[2.0]]
    assert {call.transport for call in recorded.calls} == {transport}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_route_minus_one_runs_every_child_and_without_combiner_the_first_answers(
    in_process_gateway: Gateway, recorded: RecordedComponents, transport: str
) -> None:
    status, response = predict(in_process_gateway, transport, -1)
    assert status == 200
    assert response["data"]["ndarray"] == [[2.0]]
    assert response["meta"]["routing"] == {"tag-router": -1, "model-a": -1, "model-b": -1}
    assert recorded.steps()[0] == ("tag-router", "route")
    assert sorted(recorded.steps()[1:]) == [("model-a", "predict"), ("model-b", "predict")]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_route_minus_two_returns_the_request_untouched(
    in_process_gateway: Gateway, recorded: RecordedComponents, transport: str
) -> None:
    status, response = predict(in_process_gateway, transport, -2)
    assert status == 200
    assert response["data"]["ndarray"] == [[2.0]]
    assert response["meta"]["tags"] == {"route": -2}
    assert response["meta"]["routing"] == {"tag-router": -2}
    assert "requestPath" not in response["meta"]
    assert recorded.steps() == [("tag-router", "route")]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_route_past_the_children_is_a_500(
    in_process_gateway: Gateway, recorded: RecordedComponents, transport: str
) -> None:
    status, response = predict(in_process_gateway, transport, 5)
    assert status == 500
    info = response["status"]["info"] if transport == "rest" else response["info"]
    assert "route 5" in info and "2 children" in info
    assert recorded.steps() == [("tag-router", "route")]


def test_a_route_below_minus_two_is_the_routers_error_too(recorded: RecordedComponents) -> None:
    with recorded_dataplane([parse_deployment(_tagged())], recorded) as plane:
        with pytest.raises(InternalError, match="route -3") as failure:
            walk(plane, "tagged", {"data": {"ndarray": [[1.0]]}, "meta": {"tags": {"route": -3}}})
    assert failure.value.http_status == 500
    assert recorded.steps() == [("tag-router", "route")]


# -- RANDOM_ABTEST: the gateway's own router --------------------------------------------------


def values(response: dict[str, Any]) -> np.ndarray[Any, Any]:
    data = response["data"]
    if "tensor" in data:
        return np.asarray(data["tensor"]["values"]).reshape(data["tensor"]["shape"])
    return np.asarray(data["ndarray"])


@pytest.mark.parametrize(("ingress", "transport"), CLIENTS)
def test_ab_test_splits_between_both_models_and_records_the_branch(
    in_process_gateway: Gateway, recorded: RecordedComponents, ingress: str, transport: str
) -> None:
    sc = seldon_client(in_process_gateway, "ab-test", ingress, transport)
    branches: Counter[int] = Counter()
    for _ in range(30):
        before = len(recorded.calls)
        result = sc.predict(data=np.asarray([[2.0]]))
        assert result.success, result.msg
        response = result.response
        assert isinstance(response, dict)
        routing = response["meta"]["routing"]
        branch = routing["ab"]
        branches[branch] += 1
        chosen = ("model-a", "model-b")[branch]
        assert values(response).tolist() == [[2.0 * (1, 10)[branch]]]
        assert routing[chosen] == -1
        assert response["meta"]["requestPath"] == {chosen: "tests/scalemodel:0.1"}
        # the gateway routes itself: only the chosen model is called
        assert recorded.steps()[before:] == [(chosen, "predict")]
    assert set(branches) == {0, 1}


def _ab(ratio_a: str) -> dict[str, Any]:
    models = [node("model-a", "MODEL"), node("model-b", "MODEL")]
    ratio = [{"name": "ratioA", "type": "FLOAT", "value": ratio_a}]
    graph = node("ab", implementation="RANDOM_ABTEST", parameters=ratio, children=models)
    return deployment("skewed", [{"name": "default", "graph": graph}])


def _tagged() -> dict[str, Any]:
    models = [node("model-a", "MODEL"), node("model-b", "MODEL")]
    return deployment(
        "tagged", [{"name": "default", "graph": node("tag-router", "ROUTER", models)}]
    )


def test_ratio_a_is_the_first_childs_share_of_the_traffic(recorded: RecordedComponents) -> None:
    with recorded_dataplane([parse_deployment(_ab("0.8"))], recorded) as plane:
        routes = Counter(
            walk(plane, "skewed", {"data": {"ndarray": [[1.0]]}})[1].routing["ab"]
            for _ in range(1000)
        )
    # 80% of 1000 is 800, sd 12.6: 4 sd either side
    assert set(routes) == {0, 1} and 750 <= routes[0] <= 850, routes
    assert len(recorded.calls_to("model-a")) == routes[0]
    assert len(recorded.calls_to("model-b")) == routes[1]


def test_a_ratio_a_that_is_not_a_number_is_refused_when_the_graph_is_planned(
    recorded: RecordedComponents,
) -> None:
    with pytest.raises(InvalidInput, match="ratioA 'half' is not a number"):
        with recorded_dataplane([parse_deployment(_ab("half"))], recorded):
            pass
