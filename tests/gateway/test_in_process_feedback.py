"""Feedback in the graph walk, in process: it goes back down the routing recorded in the
prediction it is about, to every node that takes feedback on that path (models and routers),
and to every child where no route was recorded."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.deploy.model import SeldonDeployment
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.transport import Transport
from tests.gateway.conftest import NAMESPACE, seldon_client
from tests.gateway.in_process import recorded_dataplane, walk, walk_feedback
from tests.gateway.recorded_components import RecordedComponents

CLIENTS = [
    pytest.param("istio", "rest", id="istio-rest"),
    pytest.param("ambassador", "grpc", id="ambassador-grpc"),
]


@pytest.mark.parametrize(("ingress", "transport"), CLIENTS)
def test_bandit_feedback_reaches_the_router_and_the_chosen_model_and_changes_the_route(
    in_process_gateway: Gateway, recorded: RecordedComponents, ingress: str, transport: str
) -> None:
    sc = seldon_client(in_process_gateway, "bandit", ingress, transport, client_return_type="proto")
    prediction = sc.predict(data=np.asarray([[3.0]]))
    assert prediction.success, prediction.msg
    route = int(prediction.response.meta.routing["router"])
    chosen, other = ("model-a", "model-b")[route], ("model-a", "model-b")[1 - route]
    assert dict(prediction.response.meta.routing) == {"router": route, chosen: -1}
    assert recorded.steps() == [("router", "route"), (chosen, "predict")]

    predicted = len(recorded.calls)
    feedback = sc.feedback(
        prediction_request=prediction.request,
        prediction_response=prediction.response,
        reward=-1.0,
    )
    assert feedback.success, feedback.msg
    # the chosen child first, then the router, each handed the feedback as it came
    assert recorded.steps()[predicted:] == [(chosen, "send-feedback"), ("router", "send-feedback")]
    for call in recorded.calls[predicted:]:
        assert call.payload["reward"] == -1.0
        assert call.payload["response"]["meta"]["routing"] == {"router": route, chosen: -1}
    assert recorded.calls_to(other) == []

    again = sc.predict(data=np.asarray([[3.0]]))
    assert again.success, again.msg
    assert int(again.response.meta.routing["router"]) == 1 - route


def test_feedback_without_routing_goes_to_every_child(
    in_process_gateway: Gateway, recorded: RecordedComponents
) -> None:
    """No `meta.routing` in the response: the executor sends feedback to all children."""
    reward = float(np.random.default_rng().integers(10_000, 20_000))
    body = {"request": {"data": {"ndarray": [[1.0]]}}, "response": {"meta": {}}, "reward": reward}
    reply = requests.post(
        f"{in_process_gateway.http_url}/seldon/{NAMESPACE}/ensemble/api/v1.0/feedback",
        json=body,
        timeout=20,
    )
    assert reply.status_code == 200, reply.text
    for model in ("model-a", "model-b"):
        assert [c.payload["reward"] for c in recorded.calls_to(model, "send-feedback")] == [reward]
    # a combiner takes no feedback: the whole answer is the feedback as it was sent
    assert recorded.calls_to("combiner") == []
    assert reply.json() == body


def test_feedback_to_a_root_that_takes_none_answers_grpc_with_an_empty_message(
    in_process_gateway: Gateway, recorded: RecordedComponents
) -> None:
    feedback = json_format.ParseDict(
        {"request": {"data": {"ndarray": [[1.0]]}}, "reward": 1.0}, prediction_pb2.Feedback()
    )
    with grpc.insecure_channel(in_process_gateway.grpc_target) as channel:
        answer = prediction_pb2_grpc.SeldonStub(channel).SendFeedback(
            feedback, metadata=[("seldon", "ensemble"), ("namespace", NAMESPACE)], timeout=20
        )
    assert answer == prediction_pb2.SeldonMessage()
    assert sorted(recorded.steps()) == [("model-a", "send-feedback"), ("model-b", "send-feedback")]


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_ab_test_feedback_reaches_only_the_branch_the_prediction_took(
    recorded: RecordedComponents, recorded_deployments: list[SeldonDeployment], transport: Transport
) -> None:
    with recorded_dataplane(recorded_deployments, recorded) as plane:
        answer, ctx = walk(plane, "ab-test", {"data": {"ndarray": [[1.0]]}}, transport)
        predicted = len(recorded.calls)
        walk_feedback(plane, "ab-test", {"response": answer, "reward": 1.0}, transport)
    chosen = ("model-a", "model-b")[ctx.routing["ab"]]
    # the gateway's own router learns nothing; the model it chose gets the feedback
    assert recorded.steps()[predicted:] == [(chosen, "send-feedback")]


def test_feedback_through_a_chain_reaches_its_model_only(
    recorded: RecordedComponents, recorded_deployments: list[SeldonDeployment]
) -> None:
    with recorded_dataplane(recorded_deployments, recorded) as plane:
        answer, _ = walk(plane, "chain", {"data": {"ndarray": [[1.0]]}})
        predicted = len(recorded.calls)
        walk_feedback(plane, "chain", {"response": answer, "reward": 0.5})
    # transformers take no feedback; it passes them on down to the model
    assert recorded.steps()[predicted:] == [("model-b", "send-feedback")]


def test_a_router_that_sent_the_request_nowhere_gets_the_feedback_alone(
    recorded: RecordedComponents, recorded_deployments: list[SeldonDeployment]
) -> None:
    request = {"data": {"ndarray": [[1.0]]}, "meta": {"tags": {"route": -2}}}
    with recorded_dataplane(recorded_deployments, recorded) as plane:
        answer, _ = walk(plane, "tagged", request)
        assert answer["meta"]["routing"] == {"tag-router": -2}
        predicted = len(recorded.calls)
        reply = walk_feedback(plane, "tagged", {"response": answer, "reward": 1.0})
    assert recorded.steps()[predicted:] == [("tag-router", "send-feedback")]
    # the root took the feedback: its answer is the graph's
    assert reply["meta"]["requestPath"] == {"tag-router": "tests/tagrouter:0.1"}
