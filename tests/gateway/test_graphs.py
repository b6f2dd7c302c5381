"""SeldonClient, as users call a cluster through Istio or Ambassador, against the gateway
over real components: one end-to-end run per kind of graph, over REST and over gRPC.

Every way a graph is walked is specified in process (test_in_process_*.py, over recorded
twins of these components, all four ingress and transport pairs); these runs show the same
walks hold with the real processes, on the real wire."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from seldon_core.seldon_client import SeldonClient

from seldon_tfserving.gateway.server import Gateway
from tests.gateway.components import read_events
from tests.gateway.conftest import Components, seldon_client
from tests.waiting import eventually

#: one REST and one gRPC representative of the ingress and transport pairs
CLIENTS = [
    pytest.param("istio", "rest", id="istio-rest"),
    pytest.param("ambassador", "grpc", id="ambassador-grpc"),
]


def client(gateway: Gateway, name: str, ingress: str, transport: str) -> SeldonClient:
    return seldon_client(gateway, name, ingress, transport)


def values(response: dict[str, Any]) -> np.ndarray:
    data = response["data"]
    if "tensor" in data:
        return np.asarray(data["tensor"]["values"]).reshape(data["tensor"]["shape"])
    return np.asarray(data["ndarray"])


def predict(sc: SeldonClient, x: list[list[float]]) -> dict[str, Any]:
    result = sc.predict(data=np.asarray(x))
    assert result.success, result.msg
    assert isinstance(result.response, dict)
    return result.response


@pytest.mark.parametrize(("ingress", "transport"), CLIENTS)
def test_ab_test_splits_between_both_models_and_records_the_branch(
    gateway: Gateway, ingress: str, transport: str
) -> None:
    sc = client(gateway, "ab-test", ingress, transport)
    branches: Counter[int] = Counter()
    for _ in range(30):
        response = predict(sc, [[2.0]])
        routing = response["meta"]["routing"]
        branch = routing["ab"]
        branches[branch] += 1
        chosen = ("model-a", "model-b")[branch]
        assert values(response).tolist() == [[2.0 * (1, 10)[branch]]]
        assert routing[chosen] == -1
        assert response["meta"]["requestPath"] == {chosen: "tests/scalemodel:0.1"}
    assert set(branches) == {0, 1}


@pytest.mark.parametrize(("ingress", "transport"), CLIENTS)
def test_ensemble_combiner_averages_both_models(
    gateway: Gateway, ingress: str, transport: str
) -> None:
    response = predict(client(gateway, "ensemble", ingress, transport), [[1.0, 2.0]])
    assert values(response).tolist() == [[5.5, 11.0]]
    assert response["meta"]["routing"] == {"combiner": -1, "model-a": -1, "model-b": -1}
    assert set(response["meta"]["requestPath"]) == {"combiner", "model-a", "model-b"}


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_average_combiner_is_built_in(gateway: Gateway, transport: str) -> None:
    response = predict(client(gateway, "average", "istio", transport), [[1.0, 3.0]])
    assert values(response).tolist() == [[5.5, 16.5]]
    assert response["meta"]["routing"]["mean"] == -1


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_transformer_chain_runs_input_model_output_in_order(
    gateway: Gateway, transport: str
) -> None:
    response = predict(client(gateway, "chain", "ambassador", transport), [[1.0, 2.0]])
    # transformer adds 1, model-b multiplies by 10, the output transformer negates
    assert values(response).tolist() == [[-20.0, -30.0]]
    # every node called records -1; so does a node whose children all ran
    assert response["meta"]["routing"] == {"transformer": -1, "output": -1, "model-b": -1}
    assert set(response["meta"]["requestPath"]) == {"transformer", "output", "model-b"}


@pytest.mark.parametrize(("ingress", "transport"), CLIENTS)
def test_a_model_with_a_child_chains_its_output_into_it(
    gateway: Gateway, ingress: str, transport: str
) -> None:
    response = predict(client(gateway, "chained", ingress, transport), [[1.5]])
    assert values(response).tolist() == [[15.0]]
    assert response["meta"]["routing"] == {"model-b": -1, "model-a": -1}
    assert response["meta"]["requestPath"] == {
        "model-b": "tests/scalemodel:0.1",
        "model-a": "tests/scalemodel:0.1",
    }


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_canary_takes_about_its_traffic_share(gateway: Gateway, transport: str) -> None:
    """Both predictors' processes answer; the share itself is measured in process, over 400
    requests (test_in_process_traffic.py)."""
    sc = client(gateway, "canary", "istio", transport)
    answers: Counter[float] = Counter()
    for _ in range(100):
        answers[float(values(predict(sc, [[1.0]]))[0][0])] += 1
    canary = answers[10.0]
    assert answers[1.0] + canary == 100
    # 10% of 100: none at all has odds of 3 in 100,000, half or more far less
    assert 1 <= canary < 50, answers


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_shadow_gets_a_copy_and_the_main_predictor_answers(
    gateway: Gateway, components: Components, transport: str
) -> None:
    shadow_state = components.state_file("model-b")
    before = len(read_events(shadow_state))
    marker = float(np.random.default_rng().integers(1000, 2000))
    response = predict(client(gateway, "shadowed", "istio", transport), [[marker]])
    assert values(response).tolist() == [[marker]]
    assert response["meta"]["requestPath"] == {"model-a": "tests/scalemodel:0.1"}

    def copies() -> list[dict[str, Any]]:
        return [e for e in read_events(shadow_state)[before:] if e["input"] == [[marker]]]

    assert len(eventually(copies, 10, awaited=f"the shadow's copy of {marker}")) == 1
