"""Which calls each node gets, read from the node as the executor reads it (after the
operator's defaults), and how routes are read from a router's answer."""

from __future__ import annotations

from typing import Any

import pytest

from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.errors import InternalError
from seldon_tfserving.gateway.graph_plan import NodePlan, effective_type, plan_node
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.gateway.routing import feedback_route, route_of


def plan(graph: dict[str, Any]) -> NodePlan:
    sdep = parse_deployment(
        {
            "metadata": {"name": "d"},
            "spec": {
                "predictors": [
                    {
                        "name": "p",
                        "graph": graph,
                        "componentSpecs": [
                            {"spec": {"containers": [{"name": "n", "image": "repo/img:1.2"}]}}
                        ],
                    }
                ]
            },
        }
    )
    predictor = sdep.predictors[0]
    return plan_node(sdep.name, predictor, predictor.graph)


def calls(node: NodePlan) -> dict[str, object]:
    return {
        "input": node.input_method,
        "output": node.output_method,
        "routes": node.routes,
        "aggregates": node.aggregates,
        "feedback": node.takes_feedback,
    }


NONE: dict[str, object] = {
    "input": None,
    "output": False,
    "routes": False,
    "aggregates": False,
    "feedback": False,
}


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"name": "n"}, {**NONE, "input": "predict", "feedback": True}),
        ({"name": "n", "type": "MODEL"}, {**NONE, "input": "predict", "feedback": True}),
        ({"name": "n", "type": "TRANSFORMER"}, {**NONE, "input": "transform-input"}),
        ({"name": "n", "type": "OUTPUT_TRANSFORMER"}, {**NONE, "output": True}),
        ({"name": "n", "type": "ROUTER"}, {**NONE, "routes": True, "feedback": True}),
        ({"name": "n", "type": "COMBINER"}, {**NONE, "aggregates": True}),
        (
            {"name": "n", "type": "UNKNOWN_TYPE", "methods": ["TRANSFORM_INPUT", "SEND_FEEDBACK"]},
            {**NONE, "input": "transform-input", "feedback": True},
        ),
        (
            {"name": "n", "implementation": "TENSORFLOW_SERVER", "modelUri": "gs://m"},
            {**NONE, "input": "predict", "feedback": True},
        ),
        ({"name": "n", "implementation": "RANDOM_ABTEST"}, NONE),
        ({"name": "n", "implementation": "AVERAGE_COMBINER"}, NONE),
    ],
)
def test_each_node_kind_gets_the_executors_calls(
    graph: dict[str, Any], expected: dict[str, object]
) -> None:
    node = plan(graph)
    assert calls(node) == expected
    assert node.needs_component == any(v for v in expected.values())


def test_untyped_nodes_default_to_model_only_when_nothing_else_is_said() -> None:
    assert effective_type(plan({"name": "n"}).node) == "MODEL"
    assert effective_type(plan({"name": "n", "methods": ["ROUTE"]}).node) is None
    assert effective_type(plan({"name": "n", "implementation": "RANDOM_ABTEST"}).node) is None


def test_the_ab_test_ratio_is_ratio_a_when_it_is_the_only_parameter() -> None:
    def ratio(parameters: list[dict[str, str]]) -> float | None:
        return plan(
            {"name": "n", "implementation": "RANDOM_ABTEST", "parameters": parameters}
        ).ab_test_ratio

    assert ratio([{"name": "ratioA", "type": "FLOAT", "value": "0.9"}]) == 0.9
    assert ratio([]) == 0.5
    # as in the executor, a second parameter means the default split
    assert (
        ratio(
            [
                {"name": "ratioA", "type": "FLOAT", "value": "0.9"},
                {"name": "other", "type": "INT", "value": "1"},
            ]
        )
        == 0.5
    )


def test_the_node_image_labels_client_metrics() -> None:
    assert plan({"name": "n"}).image == ("repo/img", "1.2")
    assert plan({"name": "other"}).image == ("", "")


@pytest.mark.parametrize(
    ("answer", "route"),
    [
        (b'{"data": {"ndarray": [[1]]}}', 1),
        (b'{"data": {"ndarray": [2]}}', 2),
        (b'{"data": {"tensor": {"shape": [1, 1], "values": [-2]}}}', -2),
        (b'{"data": {"tftensor": {"dtype": "DT_INT32", "intVal": [0]}}}', 0),
        # Seldon answers a tftensor request with an int64 tftensor, its bytes in tensorContent
        (
            b'{"data": {"tftensor": {"dtype": "DT_INT64", "tensorShape": {"dim": '
            b'[{"size": "1"}, {"size": "1"}]}, "tensorContent": "AQAAAAAAAAA="}}}',
            1,
        ),
        (b'{"data": {"tftensor": {"dtype": "DT_INT64", "int64Val": ["1"]}}}', 1),
        (b"[1]", 1),
    ],
)
def test_a_route_is_the_first_value_of_the_routers_answer(answer: bytes, route: int) -> None:
    assert route_of("r", Payload.from_json("message", answer)) == route


def test_an_answer_without_a_route_is_the_routers_error() -> None:
    with pytest.raises(InternalError, match="router 'r' answered no route"):
        route_of("r", Payload.from_json("message", b'{"strData": "left"}'))


def test_feedback_follows_the_recorded_route_or_goes_everywhere() -> None:
    recorded = b'{"response": {"meta": {"routing": {"r": 1, "m": -1}}}, "reward": 1}'
    assert feedback_route(Payload.from_json("feedback", recorded), "r") == 1
    assert feedback_route(Payload.from_json("feedback", recorded), "other") == -1
    proto = Payload.from_json("feedback", recorded).as_proto()
    assert feedback_route(Payload.from_proto("feedback", proto), "r") == 1
    assert feedback_route(Payload.from_json("feedback", b'{"reward": 1}'), "r") == -1
