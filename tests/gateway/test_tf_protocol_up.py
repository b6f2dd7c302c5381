"""`up` on a `protocol: tensorflow` graph whose MODEL nodes are TF Serving containers: the
runner starts each as a backend on the node's ports and the gateway calls it in TF Serving's
protocol (REST for one node, gRPC for the other, as their `endpoint.type` says).

Each answer is compared with the answering node's own TF Serving, asked directly; each
container is a pod of its own, so one that freezes or dies fails only the requests it takes."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.settings import GatewaySettings
from seldon_tfserving.gateway.tf_rest_api import ROUTING_HEADER
from seldon_tfserving.runner.local import LocalRunner
from tests.runner.tf_graphs import SERVER_FAILURES, bad_predict_requests

GRAPH = Path(__file__).parent / "graphs" / "tf-protocol-ab.yaml"
#: half_plus_two and half_plus_three of x = 2
EXPECTED = {"half_plus_two": 3.0, "half_plus_three": 4.0}
NODES = ("half_plus_two", "half_plus_three")
#: the gateway's deadline on a node (the executor's `seldon.io/rest-timeout`, in seconds)
COMPONENT_TIMEOUT_S = 5.0
#: draws of a 0.5 split: both branches are taken but once in ~30,000 runs
DRAWS = 16


@pytest.fixture(scope="module")
def running(tfserving_testdata: Path, log_dir: Path) -> Iterator[LocalRunner]:
    with LocalRunner(
        GRAPH,
        volumes={"models": tfserving_testdata},
        log_dir=log_dir,
        gateway_settings=GatewaySettings(component_timeout_s=COMPONENT_TIMEOUT_S),
    ) as runner:
        yield runner


def test_up_serves_a_tf_graph_of_tf_serving_containers_over_rest(running: LocalRunner) -> None:
    assert running.plan is not None
    assert sorted(running.plan.served_nodes) == [
        "tf-ab/default/half_plus_three",
        "tf-ab/default/half_plus_two",
    ]
    seen = set()
    for _ in range(20):
        answer = requests.post(
            running.http_url + "/seldon/seldon/tf-ab/v1/models:predict",
            json={"instances": [2.0]},
            timeout=20,
        )
        assert answer.status_code == 200, answer.text
        routing = json.loads(answer.headers["Seldon-Routing"])
        model = ["half_plus_two", "half_plus_three"][routing["ab"]]
        assert answer.json() == {"predictions": [EXPECTED[model]]}
        seen.add(model)
    assert seen == set(EXPECTED)  # 20 draws at 0.5 miss a branch once in ~500k runs
    assert requests.get(running.http_url + "/ready", timeout=20).status_code == 200


def test_up_serves_it_over_grpc_with_tf_servings_stubs(running: LocalRunner) -> None:
    request = predict_pb2.PredictRequest()
    request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.asarray([2.0], dtype=np.float32)))
    metadata = (("seldon", "tf-ab"), ("namespace", "seldon"))
    with grpc.insecure_channel(running.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        for _ in range(6):
            answer, call = stub.Predict.with_call(request, metadata=metadata, timeout=20)
            routing = json.loads(dict(call.trailing_metadata())["seldon-routing"])
            model = ["half_plus_two", "half_plus_three"][routing["ab"]]
            assert tensor_proto_to_ndarray(answer.outputs["y"]).tolist() == [EXPECTED[model]]


# -- each answer is the node's own TF Serving's ------------------------------------------------


def _served(running: LocalRunner, node: str) -> ComponentEndpoint:
    """Where the TF Serving container that IS graph node `node` listens."""
    assert running.plan is not None
    return running.plan.served_nodes[f"tf-ab/default/{node}"]


def _url(running: LocalRunner, path: str) -> str:
    return running.http_url + "/seldon/seldon/tf-ab" + path


def _node_taken(routing: dict[str, int]) -> str:
    return NODES[routing["ab"]]


def _outcome(call: Any, request: Any, **kwargs: Any) -> tuple[grpc.StatusCode, Any]:
    try:
        return grpc.StatusCode.OK, call(request, timeout=20, **kwargs)
    except grpc.RpcError as error:
        return error.code(), error.details()


def test_each_rest_answer_is_the_answering_nodes_own(running: LocalRunner) -> None:
    body = {"instances": [[1.0], [5.0]]}
    direct = {
        node: requests.post(
            f"{_served(running, node).http_url}/v1/models/{node}:predict", json=body, timeout=20
        )
        for node in NODES
    }
    for _ in range(12):
        answer = requests.post(_url(running, "/v1/models:predict"), json=body, timeout=20)
        assert answer.status_code == 200, answer.text
        taken = _node_taken(json.loads(answer.headers[ROUTING_HEADER]))
        assert answer.content == direct[taken].content


def test_a_version_path_reaches_the_node_whose_model_it_names(running: LocalRunner) -> None:
    """The executor's override: every node is called as the URL's model, so the other node's
    TF Serving answers its own 404 for a model it does not serve."""
    body = {"instances": [2.0]}
    path = "/v1/models/half_plus_two/versions/123:predict"
    direct = requests.post(_served(running, "half_plus_two").http_url + path, json=body, timeout=20)
    missing = requests.post(
        _served(running, "half_plus_three").http_url + path, json=body, timeout=20
    )
    assert missing.status_code == 404
    outcomes = set()
    for _ in range(DRAWS):
        answer = requests.post(_url(running, path), json=body, timeout=20)
        expected = direct if answer.status_code == 200 else missing
        assert (answer.status_code, answer.content) == (expected.status_code, expected.content)
        outcomes.add(answer.status_code)
        if outcomes == {200, 404}:
            break
    assert outcomes == {200, 404}


def test_grpc_with_no_model_name_calls_each_node_by_its_own_at_the_version_asked(
    running: LocalRunner,
) -> None:
    request = predict_pb2.PredictRequest()
    request.model_spec.version.value = 123
    request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.asarray([2.0], dtype=np.float32)))
    metadata = (("seldon", "tf-ab"), ("namespace", "seldon"))
    direct = {}
    for node in NODES:
        mine = predict_pb2.PredictRequest()
        mine.CopyFrom(request)
        mine.model_spec.name = node
        with grpc.insecure_channel(_served(running, node).grpc_target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            direct[node] = stub.Predict(mine, timeout=20)
    with grpc.insecure_channel(running.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        for _ in range(8):
            answer, call = stub.Predict.with_call(request, metadata=metadata, timeout=20)
            routing = json.loads(dict(call.trailing_metadata())["seldon-routing"])
            assert answer == direct[_node_taken(routing)]


def test_grpc_classify_answers_as_the_answering_nodes_model_does(running: LocalRunner) -> None:
    """half_plus_two has `classify_x_to_y`; half_plus_three has not, and says so."""
    request = classification_pb2.ClassificationRequest()
    request.model_spec.signature_name = "classify_x_to_y"
    example = request.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.append(2.0)
    metadata = (("seldon", "tf-ab"), ("namespace", "seldon"))
    direct = {}
    for node in NODES:
        mine = classification_pb2.ClassificationRequest()
        mine.CopyFrom(request)
        mine.model_spec.name = node
        with grpc.insecure_channel(_served(running, node).grpc_target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            direct[node] = _outcome(stub.Classify, mine)
    assert direct["half_plus_two"][0] == grpc.StatusCode.OK
    assert direct["half_plus_three"][0] == grpc.StatusCode.INVALID_ARGUMENT
    with grpc.insecure_channel(running.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        for _ in range(8):
            outcome = _outcome(stub.Classify, request, metadata=metadata)
            assert outcome in direct.values(), outcome


@pytest.mark.parametrize("node", NODES)
def test_status_and_metadata_are_the_named_nodes_own(running: LocalRunner, node: str) -> None:
    for suffix in ("", "/metadata"):
        answer = requests.get(_url(running, f"/v1/models/{node}{suffix}"), timeout=20)
        direct = requests.get(
            f"{_served(running, node).http_url}/v1/models/{node}{suffix}", timeout=20
        )
        assert (answer.status_code, answer.json()) == (200, direct.json())
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = node
    metadata = (("seldon", "tf-ab"), ("namespace", "seldon"))
    with (
        grpc.insecure_channel(running.grpc_target) as through,
        grpc.insecure_channel(_served(running, node).grpc_target) as direct_channel,
    ):
        answer = model_service_pb2_grpc.ModelServiceStub(through).GetModelStatus(
            request, metadata=metadata, timeout=20
        )
        theirs = model_service_pb2_grpc.ModelServiceStub(direct_channel).GetModelStatus(request)
    assert answer == theirs


def test_bad_input_is_the_nodes_own_400_and_unknown_nodes_404(running: LocalRunner) -> None:
    body = b'{"instances": [[1.0], [1.0, 2.0]]}'
    direct = {
        requests.post(
            f"{_served(running, n).http_url}/v1/models/{n}:predict", data=body, timeout=20
        ).content
        for n in NODES
    }
    for _ in range(8):
        answer = requests.post(_url(running, "/v1/models:predict"), data=body, timeout=20)
        assert answer.status_code == 400, answer.text
        assert answer.content in direct
    unknown = requests.get(_url(running, "/v1/models/ab/metadata"), timeout=20)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Failed to find model ab"})


_ROUTES = (
    "/v1/models/half_plus_two:predict",
    "/v1/models:predict",
    "/v1/models/half_plus_three/versions/123:predict",
    "/v1/models/half_plus_two:regress",
    "/api/v1.0/feedback",
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers(-(2**70), 2**70) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_BODIES = st.one_of(
    st.binary(max_size=48),
    st.dictionaries(
        st.sampled_from(["instances", "inputs", "signature_name", "examples", "reward"]),
        _JSON,
        max_size=3,
    ).map(lambda d: json.dumps(d).encode()),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(_ROUTES), body=_BODIES)
def test_a_fuzzed_body_into_any_route_is_never_a_5xx(
    running: LocalRunner, route: str, body: bytes
) -> None:
    answer = requests.post(_url(running, route), data=body, timeout=20)
    assert answer.status_code < 500, (answer.status_code, answer.text)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=bad_predict_requests())
def test_a_fuzzed_predict_request_is_never_a_server_failure(
    running: LocalRunner, request: Any
) -> None:
    with grpc.insecure_channel(running.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        code, details = _outcome(
            stub.Predict, request, metadata=(("seldon", "tf-ab"), ("namespace", "seldon"))
        )
    assert code not in SERVER_FAILURES, (code, details)


# -- failures (last: they stop a node) ---------------------------------------------------------


def _backend_pid(running: LocalRunner, node: str) -> int:
    assert running.plan is not None
    (backend,) = [b for b in running.plan.backends if b.serves == (f"tf-ab/default/{node}",)]
    pid = running.child(backend.name).pid
    assert pid is not None
    return pid


def test_a_frozen_node_is_the_gateways_504_and_the_other_node_still_answers(
    running: LocalRunner,
) -> None:
    pid = _backend_pid(running, "half_plus_three")
    os.killpg(pid, signal.SIGSTOP)
    try:
        outcomes = set()
        for _ in range(DRAWS):
            answer = requests.post(
                _url(running, "/v1/models:predict"), json={"instances": [2.0]}, timeout=30
            )
            if answer.status_code == 200:
                assert answer.json() == {"predictions": [3.0]}
            else:
                assert answer.status_code == 504, answer.text
                assert list(answer.json()) == ["error"]
            outcomes.add(answer.status_code)
            if outcomes == {200, 504}:
                break
        assert outcomes == {200, 504}
    finally:
        os.killpg(pid, signal.SIGCONT)


def test_a_dead_node_is_tf_servings_503_and_ready_names_it(running: LocalRunner) -> None:
    """The runner reports the exit and the gateway answers 503 for the graph that needs the
    node (TF's body, naming it) instead of waiting on a port nobody listens on."""
    reported = len(running.failures)
    os.killpg(_backend_pid(running, "half_plus_three"), signal.SIGKILL)
    assert running.wait_for_failure(timeout_s=20, since=reported) is not None
    for _ in range(4):
        answer = requests.post(
            _url(running, "/v1/models:predict"), json={"instances": [2.0]}, timeout=20
        )
        assert answer.status_code == 503, answer.text
        assert list(answer.json()) == ["error"] and "half_plus_three" in answer.json()["error"]
    with grpc.insecure_channel(running.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest()
        request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.asarray([2.0], np.float32)))
        code, details = _outcome(
            stub.Predict, request, metadata=(("seldon", "tf-ab"), ("namespace", "seldon"))
        )
    assert code == grpc.StatusCode.UNAVAILABLE and "half_plus_three" in details, details
    ready = requests.get(running.http_url + "/ready", timeout=20)
    assert ready.status_code == 503 and "half_plus_three" in ready.text
