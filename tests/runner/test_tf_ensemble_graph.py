"""graphs/tf-ensemble.yaml, unchanged, under `up`: a MeanCombiner over two TfServingModel
children, `half_plus_two` (0.5x + 2) and `half_plus_three` (0.5x + 3), called with TF Serving's
own API; every answer is the element-wise mean of TF Serving's own answers of both models.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from tensorflow_serving.apis import get_model_status_pb2, inference_pb2

from tests.runner.tf_graphs import (
    BAD_BODIES,
    COMPONENT_TIMEOUT_S,
    HALF_PLUS_THREE,
    HALF_PLUS_TWO,
    TIMEOUT_S,
    TfGraph,
    assert_grpc_is_never_a_server_failure,
    assert_rest_is_never_a_5xx,
    bad_predict_requests,
    fuzzed,
    grpc_outcome,
    grpc_routing,
    outputs_of,
    predict_request,
    routing_of,
    running_graph,
)

pytestmark = pytest.mark.timeout(900)

MODELS = {"model-half-plus-two": "half_plus_two", "model-half-plus-three": "half_plus_three"}
ALL_TAKEN = {"ensemble": -1, "model-half-plus-two": -1, "model-half-plus-three": -1}


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TfGraph]:
    layout = {"half_plus_two": {1: HALF_PLUS_TWO}, "half_plus_three": {1: HALF_PLUS_THREE}}
    scratch = tmp_path_factory.mktemp("ensemble")
    with running_graph("tf-ensemble.yaml", layout, scratch) as running:
        yield running


def _mean_of_both(graph: TfGraph, suffix: str, body: Any, key: str) -> list[Any]:
    answers = [
        graph.direct_post(f"/v1/models/{model}{suffix}", body).json()[key]
        for model in MODELS.values()
    ]
    mean: list[Any] = np.mean(np.asarray(answers, dtype=np.float64), axis=0).tolist()
    return mean


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        ("/v1/models/half_plus_two:predict", {"instances": [1.0, 2.0, 5.0]}, "predictions"),
        ("/v1/models:predict", {"instances": [[1.0], [3.0]]}, "predictions"),
        ("/v1/models/any/:predict", {"inputs": {"x": [[1.0], [3.0]]}}, "outputs"),
        ("/v1/models/any/versions/1:predict", {"instances": [4.0]}, "predictions"),
    ],
)
def test_rest_answers_are_the_mean_of_tf_servings_own(
    graph: TfGraph, path: str, body: Any, key: str
) -> None:
    answer = graph.post(path, body)
    assert answer.status_code == 200, answer.text
    assert list(answer.json()) == [key]
    suffix = "/versions/1:predict" if "/versions/1" in path else ":predict"
    np.testing.assert_allclose(answer.json()[key], _mean_of_both(graph, suffix, body, key))
    assert routing_of(answer) == ALL_TAKEN


def test_grpc_answers_are_the_mean_of_tf_servings_own(graph: TfGraph) -> None:
    with graph.direct_stubs() as direct:
        children = [
            outputs_of(direct.prediction.Predict(predict_request([1.0, 3.0], m), timeout=TIMEOUT_S))
            for m in MODELS.values()
        ]
    with graph.stubs() as stubs:
        for version in (None, 1):
            answer, call = stubs.prediction.Predict.with_call(
                predict_request([1.0, 3.0], version=version),
                metadata=graph.metadata,
                timeout=TIMEOUT_S,
            )
            assert list(outputs_of(answer)) == ["y"]
            mean = np.mean([c["y"] for c in children], axis=0)
            np.testing.assert_allclose(outputs_of(answer)["y"], mean)
            assert grpc_routing(call) == ALL_TAKEN


def test_a_version_neither_model_has_is_tf_servings_404(graph: TfGraph) -> None:
    answer = graph.post("/v1/models/any/versions/7:predict", {"instances": [1.0]})
    assert answer.status_code == 404, answer.text
    direct = {
        graph.direct_post(f"/v1/models/{m}/versions/7:predict", {"instances": [1.0]}).text
        for m in MODELS.values()
    }
    assert answer.text in direct
    with graph.stubs() as stubs:
        code, details = grpc_outcome(
            stubs.prediction.Predict, predict_request([1.0], version=7), metadata=graph.metadata
        )
    assert code == grpc.StatusCode.NOT_FOUND, details


def test_classify_is_refused_by_the_model_without_the_signature(graph: TfGraph) -> None:
    """`half_plus_three` has no classify signature: TF Serving's 400, as it says it."""
    body = {"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}]}
    answer = graph.post("/v1/models/any:classify", body)
    assert answer.status_code == 400, answer.text
    refused = graph.direct_post("/v1/models/half_plus_three:classify", body)
    assert answer.json() == refused.json()
    multi = inference_pb2.MultiInferenceRequest()
    task = multi.tasks.add()
    task.model_spec.signature_name = "regress_x_to_y"
    task.method_name = "tensorflow/serving/regress"
    example = multi.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.append(1.0)
    with graph.stubs() as stubs:
        code, details = grpc_outcome(
            stubs.prediction.MultiInference, multi, metadata=graph.metadata
        )
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details


@pytest.mark.parametrize("node", list(MODELS))
def test_status_and_metadata_of_each_child_are_its_models(graph: TfGraph, node: str) -> None:
    for suffix in ("", "/metadata"):
        answer = graph.get(f"/v1/models/{node}{suffix}")
        assert answer.status_code == 200, answer.text
        assert answer.json() == graph.direct_get(f"/v1/models/{MODELS[node]}{suffix}").json()
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = node
    with graph.stubs() as stubs, graph.direct_stubs() as direct:
        answer = stubs.models.GetModelStatus(request, metadata=graph.metadata, timeout=TIMEOUT_S)
        request.model_spec.name = MODELS[node]
        assert answer == direct.models.GetModelStatus(request, timeout=TIMEOUT_S)


def test_ready_asks_both_children_for_their_models(graph: TfGraph) -> None:
    ready = requests.get(graph.runner.http_url + "/ready", timeout=TIMEOUT_S)
    assert ready.status_code == 200, ready.text


def test_misshapen_input_is_tf_servings_400(
    graph: TfGraph,
) -> None:
    ragged = graph.post("/v1/models/any:predict", {"instances": [[1.0], [1.0, 2.0]]})
    assert ragged.status_code == 400 and list(ragged.json()) == ["error"], ragged.text
    empty = graph.post("/v1/models/any:predict", {"instances": []})
    assert empty.status_code == 400, empty.text


_ROUTES = (
    "/v1/models/half_plus_two:predict",
    "/v1/models:predict",
    "/v1/models/half_plus_two/versions/1:predict",
    "/v1/models/half_plus_two:classify",
    "/v1/models/half_plus_two:regress",
    "/api/v1.0/feedback",
)


@fuzzed(40)
@given(route=st.sampled_from(_ROUTES), body=BAD_BODIES)
def test_a_fuzzed_body_into_any_route_is_never_a_5xx(
    graph: TfGraph, route: str, body: bytes
) -> None:
    assert_rest_is_never_a_5xx(graph, route, body)


@fuzzed(30)
@given(request=bad_predict_requests())
def test_a_fuzzed_predict_request_is_never_a_server_failure(graph: TfGraph, request: Any) -> None:
    assert_grpc_is_never_a_server_failure(graph, request)


# -- a frozen combiner (last: it stops a component for a while) ---------------------------------


def test_a_frozen_combiner_is_the_gateways_504_then_answers_again(graph: TfGraph) -> None:
    combiner = graph.runner.child(graph.component("ensemble").key)
    assert combiner.pid is not None
    os.killpg(combiner.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        late = graph.post("/v1/models/any:predict", {"instances": [1.0]})
        assert late.status_code == 504, late.text
        assert list(late.json()) == ["error"] and "ensemble" in late.json()["error"]
        with graph.stubs() as stubs:
            code, details = grpc_outcome(
                stubs.prediction.Predict, predict_request([1.0]), metadata=graph.metadata
            )
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED, details
        assert time.monotonic() - started < 2 * COMPONENT_TIMEOUT_S + 10
    finally:
        os.killpg(combiner.pid, signal.SIGCONT)
    answer = graph.post("/v1/models/any:predict", {"instances": [1.0]})
    assert answer.status_code == 200, answer.text
