"""Graph-level and model metadata, in process: every node's own metadata, asked of its
component alone, and the graph's inputs and outputs taken from the nodes Seldon's executor
takes them from, by node kind. The twins name their inputs and outputs after their node."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from seldon_tfserving.errors import Unavailable
from seldon_tfserving.gateway.server import Gateway
from tests.gateway.conftest import NAMESPACE
from tests.gateway.recorded_components import RecordedComponents
from tests.gateway.scripted_units import Document, ScaleModel, ScriptedUnit


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


def own_metadata(unit: ScriptedUnit) -> dict[str, Any]:
    """A component's metadata as the graph lists it (without its empty fields)."""
    return {key: value for key, value in unit.metadata().items() if value}


@pytest.mark.parametrize(
    ("name", "takes_from", "gives_from"),
    [
        pytest.param("chain", "transformer", "output", id="transformer-output_transformer-model"),
        pytest.param("chained", "model-b", "model-a", id="model-model"),
        pytest.param("ensemble", "model-a", "combiner", id="combiner"),
        pytest.param("bandit", "model-a", "model-a", id="router"),
        pytest.param("ab-test", "model-a", "model-a", id="builtin-ab-test"),
        pytest.param("average", "model-a", "model-a", id="builtin-average-combiner"),
        pytest.param("logged", "model-a", "model-a", id="single-model"),
    ],
)
def test_the_graph_takes_and_gives_what_seldons_executor_says(
    in_process_gateway: Gateway,
    recorded: RecordedComponents,
    name: str,
    takes_from: str,
    gives_from: str,
) -> None:
    reply = rest_graph_metadata(in_process_gateway, name)
    assert reply.status_code == 200, reply.text
    document = reply.json()
    assert document["name"] == "default"
    assert document["graphinputs"] == ends(takes_from)[0]
    if name == "average":
        # the gateway averages itself: AVERAGE_COMBINER declares no outputs of its own
        assert document["graphoutputs"] is None
    else:
        assert document["graphoutputs"] == ends(gives_from)[1]
    # each component was asked once for its own
    component_nodes = set(document["models"]) - {"ab", "mean"}
    assert sorted(recorded.steps()) == sorted((n, "metadata") for n in component_nodes)


def test_a_node_the_gateway_runs_itself_says_which_implementation_it_is(
    in_process_gateway: Gateway, recorded: RecordedComponents
) -> None:
    document = rest_graph_metadata(in_process_gateway, "ab-test").json()
    assert document["models"]["ab"] == {
        "name": "ab",
        "platform": "seldon",
        "custom": {"implementation": "RANDOM_ABTEST"},
    }
    assert document["models"]["model-b"] == own_metadata(
        recorded.unit("model-b", "tests/scalemodel:0.1")
    )


def test_other_path_forms_and_unknown_deployments(in_process_gateway: Gateway) -> None:
    by_headers = requests.get(
        in_process_gateway.http_url + "/api/v1.0/metadata",
        headers={"seldon": "chained", "namespace": NAMESPACE},
        timeout=20,
    )
    assert by_headers.status_code == 200, by_headers.text
    assert by_headers.json()["graphinputs"] == ends("model-b")[0]
    assert (
        requests.get(
            in_process_gateway.http_url + "/seldon/chained/api/v1.0/metadata", timeout=20
        ).json()
        == by_headers.json()
    )

    unknown = rest_graph_metadata(in_process_gateway, "nowhere")
    assert unknown.status_code == 404
    assert unknown.json()["status"]["status"] == "FAILURE"
    old_api = requests.get(
        in_process_gateway.http_url + f"/seldon/{NAMESPACE}/chain/api/v0.1/metadata", timeout=20
    )
    assert old_api.status_code == 404  # the executor serves graph metadata on v1.0 only


def test_a_nodes_metadata_is_asked_of_its_component_alone(
    in_process_gateway: Gateway, recorded: RecordedComponents
) -> None:
    base = in_process_gateway.http_url + f"/seldon/{NAMESPACE}/ab-test/api/v1.0/metadata"
    one = requests.get(base + "/model-a", timeout=20)
    assert one.status_code == 200, one.text
    assert one.json() == recorded.unit("model-a", "tests/scalemodel:0.1").metadata()
    assert recorded.steps() == [("model-a", "metadata")]
    # a node with no component behind it, and a node the graph does not have, are not found
    assert requests.get(base + "/ab", timeout=20).status_code == 404
    assert requests.get(base + "/nobody", timeout=20).status_code == 404
    assert recorded.steps() == [("model-a", "metadata")]


def test_a_node_that_does_not_answer_fails_the_whole_with_503(
    in_process_gateway: Gateway, recorded: RecordedComponents
) -> None:
    class Gone(ScaleModel):
        def metadata(self) -> Document:
            raise Unavailable("component 'model-a': cannot reach 127.0.0.1:9/metadata")

    recorded.script("model-a", Gone)
    reply = rest_graph_metadata(in_process_gateway, "chained")
    assert reply.status_code == 503, reply.text
    assert reply.json()["status"]["reason"] == "MICROSERVICE_UNAVAILABLE"
    assert "model-a" in reply.json()["status"]["info"]
