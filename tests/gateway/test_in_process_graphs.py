"""Combiners, the gateway's AVERAGE_COMBINER, transformers and chains in the graph walk, in
process: SeldonClient, as users call a cluster through Istio or Ambassador, against the
gateway whose components are recorded twins; the recording shows each hop's input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from seldon_core.seldon_client import SeldonClient

from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.gateway.server import Gateway
from tests.gateway.conftest import deployment, node, seldon_client
from tests.gateway.in_process import recorded_dataplane, values_of, walk
from tests.gateway.recorded_components import RecordedComponents
from tests.gateway.scripted_units import Document, ScaleModel

CLIENTS = [
    pytest.param("istio", "rest", id="istio-rest"),
    pytest.param("istio", "grpc", id="istio-grpc"),
    pytest.param("ambassador", "rest", id="ambassador-rest"),
    pytest.param("ambassador", "grpc", id="ambassador-grpc"),
]
IMAGE = "tests/scalemodel:0.1"


def client(gateway: Gateway, name: str, ingress: str, transport: str) -> SeldonClient:
    return seldon_client(gateway, name, ingress, transport)


def values(response: dict[str, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(values_of(response))


def predict(sc: SeldonClient, x: list[list[float]]) -> dict[str, Any]:
    result = sc.predict(data=np.asarray(x))
    assert result.success, result.msg
    assert isinstance(result.response, dict)
    return result.response


# -- combiners ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("ingress", "transport"), CLIENTS)
def test_ensemble_combiner_averages_both_models(
    in_process_gateway: Gateway, recorded: RecordedComponents, ingress: str, transport: str
) -> None:
    response = predict(client(in_process_gateway, "ensemble", ingress, transport), [[1.0, 2.0]])
    assert values(response).tolist() == [[5.5, 11.0]]
    assert response["meta"]["routing"] == {"combiner": -1, "model-a": -1, "model-b": -1}
    assert set(response["meta"]["requestPath"]) == {"combiner", "model-a", "model-b"}

    steps = recorded.steps()
    assert sorted(steps[:2]) == [("model-a", "predict"), ("model-b", "predict")]
    assert steps[2:] == [("combiner", "aggregate")]
    # the combiner is handed its children's answers, in the graph's order of children
    children = recorded.calls_to("combiner")[0].payload
    assert [values_of(child) for child in children] == [[[1.0, 2.0]], [[10.0, 20.0]]]
    assert [child["meta"]["requestPath"] for child in children] == [
        {"model-a": IMAGE},
        {"model-b": IMAGE},
    ]


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_average_combiner_is_built_in(
    in_process_gateway: Gateway, recorded: RecordedComponents, transport: str
) -> None:
    response = predict(client(in_process_gateway, "average", "istio", transport), [[1.0, 3.0]])
    assert values(response).tolist() == [[5.5, 16.5]]
    assert response["meta"]["routing"]["mean"] == -1
    # the gateway averages itself: no component is asked to aggregate
    assert sorted(recorded.steps()) == [("model-a", "predict"), ("model-b", "predict")]
    assert response["meta"]["requestPath"] == {"model-a": IMAGE, "model-b": IMAGE}


class _Widening(ScaleModel):
    """Answers one column more than it was given."""

    def predict(self, array: np.ndarray[Any, Any], meta: Document) -> np.ndarray[Any, Any]:
        return np.concatenate([array, array[:, :1]], axis=1)


def _average() -> dict[str, Any]:
    models = [node("model-a", "MODEL"), node("model-b", "MODEL")]
    graph = node("mean", implementation="AVERAGE_COMBINER", children=models)
    return deployment("average", [{"name": "default", "graph": graph}])


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_average_combiner_keeps_a_tensor_a_tensor(
    recorded: RecordedComponents, transport: Any
) -> None:
    request = {"data": {"tensor": {"shape": [1, 2], "values": [2.0, 4.0]}}}
    with recorded_dataplane([parse_deployment(_average())], recorded) as plane:
        answer, _ = walk(plane, "average", request, transport)
    assert answer["data"]["tensor"] == {"shape": [1, 2], "values": [11.0, 22.0]}


def test_average_combiner_children_of_other_shapes_are_refused_naming_them(
    recorded: RecordedComponents,
) -> None:
    recorded.script("model-b", _Widening)
    with recorded_dataplane([parse_deployment(_average())], recorded) as plane:
        with pytest.raises(InvalidInput, match=r"disagree on shape: \[\[1, 2\], \[1, 3\]\]"):
            walk(plane, "average", {"data": {"ndarray": [[1.0, 2.0]]}})


# -- transformers and chains --------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_transformer_chain_runs_input_model_output_in_order(
    in_process_gateway: Gateway, recorded: RecordedComponents, transport: str
) -> None:
    response = predict(client(in_process_gateway, "chain", "ambassador", transport), [[1.0, 2.0]])
    # transformer adds 1, model-b multiplies by 10, the output transformer negates
    assert values(response).tolist() == [[-20.0, -30.0]]
    # every node called records -1; so does a node whose children all ran
    assert response["meta"]["routing"] == {"transformer": -1, "output": -1, "model-b": -1}
    assert set(response["meta"]["requestPath"]) == {"transformer", "output", "model-b"}

    transform, model, output = recorded.calls
    assert [(c.node, c.method) for c in (transform, model, output)] == [
        ("transformer", "transform-input"),
        ("model-b", "predict"),
        ("output", "transform-output"),
    ]
    # each hop is handed the answer of the one before
    assert values_of(transform.payload) == [[1.0, 2.0]]
    assert values_of(model.payload) == [[2.0, 3.0]]
    assert values_of(output.payload) == [[20.0, 30.0]]
    assert model.payload["meta"]["requestPath"] == {"transformer": "tests/addtransformer:0.1"}


@pytest.mark.parametrize(("ingress", "transport"), CLIENTS)
def test_a_model_with_a_child_chains_its_output_into_it(
    in_process_gateway: Gateway, recorded: RecordedComponents, ingress: str, transport: str
) -> None:
    response = predict(client(in_process_gateway, "chained", ingress, transport), [[1.5]])
    assert values(response).tolist() == [[15.0]]
    assert response["meta"]["routing"] == {"model-b": -1, "model-a": -1}
    assert response["meta"]["requestPath"] == {
        "model-b": "tests/scalemodel:0.1",
        "model-a": "tests/scalemodel:0.1",
    }
    parent, child = recorded.calls
    assert (parent.node, child.node) == ("model-b", "model-a")
    assert values_of(child.payload) == [[15.0]]
