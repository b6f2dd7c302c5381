"""Feedback goes back down the routing recorded in the prediction it is about: to the router
that chose, and to the model it chose, and changes what the router does next."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import requests
from seldon_core.seldon_client import SeldonClient

from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.gateway.server import Gateway
from tests.gateway.components import read_events
from tests.gateway.conftest import (
    Components,
    deployment,
    node,
    seldon_client,
)
from tests.servers import Microservice, free_port

CLIENTS = [
    pytest.param("istio", "rest", id="istio-rest"),
    pytest.param("ambassador", "grpc", id="ambassador-grpc"),
]


def proto_client(gateway: Gateway, name: str, ingress: str, transport: str) -> SeldonClient:
    return seldon_client(gateway, name, ingress, transport, client_return_type="proto")


def predict_route(sc: SeldonClient) -> tuple[Any, int]:
    result = sc.predict(data=np.asarray([[3.0]]))
    assert result.success, result.msg
    return result, int(result.response.meta.routing["router"])


@pytest.mark.parametrize(("ingress", "transport"), CLIENTS)
def test_bandit_feedback_reaches_the_router_and_the_chosen_model_and_changes_the_route(
    gateway: Gateway, components: Components, ingress: str, transport: str
) -> None:
    sc = proto_client(gateway, "bandit", ingress, transport)
    router_state = components.state_file("router")
    earlier = read_events(router_state)
    prediction, route = predict_route(sc)
    chosen, other = ("model-a", "model-b")[route], ("model-a", "model-b")[1 - route]
    assert dict(prediction.response.meta.routing) == {"router": route, chosen: -1}

    # a punishment bigger than every reward so far, so the greedy router must switch
    reward = -2.0 * (1.0 + sum(abs(e["reward"]) for e in earlier))
    feedback = sc.feedback(
        prediction_request=prediction.request,
        prediction_response=prediction.response,
        reward=reward,
    )
    assert feedback.success, feedback.msg

    assert read_events(router_state)[len(earlier) :] == [
        {"event": "feedback", "reward": reward, "routing": route}
    ]
    assert any(e.get("reward") == reward for e in read_events(components.state_file(chosen)))
    assert not any(e.get("reward") == reward for e in read_events(components.state_file(other)))
    _, next_route = predict_route(sc)
    assert next_route == 1 - route


# -- our real routers behind the gateway ------------------------------------------------------


@pytest.fixture
def thompson_router(components: Components) -> Microservice:
    """Our ThompsonSamplingRouter (seed 7, state_path set), started with the components."""
    return components.services["thompson"]


def test_thompson_sampling_router_learns_from_feedback_through_the_gateway(
    components: Components, thompson_router: Microservice
) -> None:
    sdep = parse_deployment(
        deployment(
            "thompson",
            [
                {
                    "name": "default",
                    "graph": node(
                        "thompson",
                        "ROUTER",
                        [node("model-a", "MODEL"), node("model-b", "MODEL")],
                    ),
                }
            ],
        )
    )
    endpoints = {
        endpoint_key("thompson", "default", "thompson"): ComponentEndpoint(
            "127.0.0.1", thompson_router.http_port, thompson_router.grpc_port
        ),
        endpoint_key("thompson", "default", "model-a"): components.endpoint("model-a"),
        endpoint_key("thompson", "default", "model-b"): components.endpoint("model-b"),
    }
    with Gateway([sdep], endpoints, http_port=free_port(), grpc_port=free_port()) as gateway:
        for transport in ("rest", "grpc"):
            sc = proto_client(gateway, "thompson", "istio", transport)
            result = sc.predict(data=np.asarray([[1.0]]))
            assert result.success, result.msg
            branch = int(result.response.meta.routing["thompson"])
            before = _learned(thompson_router)
            feedback = sc.feedback(
                prediction_request=result.request, prediction_response=result.response, reward=1.0
            )
            assert feedback.success, feedback.msg
            after = _learned(thompson_router)
            assert after != before
            changed = [b for b in range(2) if after["branches"][b] != before["branches"][b]]
            # only the branch the router chose for that prediction learned the reward
            assert changed == [branch], (before, after)


def _learned(router: Microservice) -> dict[str, Any]:
    reply = requests.get(f"{router.http_url}/health/status", timeout=10)
    assert reply.ok, reply.text
    document = reply.json()
    return document.get("jsonData", document)  # type: ignore[no-any-return]
