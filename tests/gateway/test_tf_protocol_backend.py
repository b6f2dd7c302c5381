"""`protocol: tensorflow` graphs whose nodes are TF Serving servers themselves (our backend,
as a `tensorflow/serving` container of the pod would be), through the gateway's REST and gRPC
faces, with TF Serving's own stubs and plain HTTP; every answer is compared with the model's
own answer, asked directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings
from tests.servers import Backend, free_port

NAMESPACE = "seldon"
HALF_PLUS_TWO = {"name": "half_plus_two", "type": "MODEL"}
HALF_PLUS_THREE = {"name": "half_plus_three", "type": "MODEL"}


def _sdep(name: str, graph: dict[str, Any], **predictor: Any) -> dict[str, Any]:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "protocol": "tensorflow",
            "predictors": [{"name": "default", "graph": graph, **predictor}],
        },
    }


def _nodes(graph: dict[str, Any]) -> list[str]:
    return [graph["name"], *(n for c in graph.get("children", []) for n in _nodes(c))]


GRAPHS = {
    "hpt": HALF_PLUS_TWO,
    "chain": {**HALF_PLUS_TWO, "children": [HALF_PLUS_THREE]},
    "ab": {
        "name": "ab",
        "implementation": "RANDOM_ABTEST",
        "parameters": [{"name": "ratioA", "type": "FLOAT", "value": "0.0"}],
        "children": [HALF_PLUS_TWO, HALF_PLUS_THREE],
    },
    "versions": {"name": "two_versions", "type": "MODEL"},
    "missing": {"name": "not_served", "type": "MODEL"},
}
#: A graph over the slow model, with the executor's per-call deadlines (100 ms).
_DEADLINES = {"seldon.io/rest-timeout": "100", "seldon.io/grpc-timeout": "100"}


@pytest.fixture(scope="module")
def gateway(backend: Backend, generated_backend: Backend) -> Iterator[Gateway]:
    documents = [_sdep(n, g) for n, g in GRAPHS.items()]
    documents.append(_sdep("slow", {"name": "slow", "type": "MODEL"}, annotations=_DEADLINES))
    documents.append(_sdep("gone", {"name": "half_plus_two", "type": "MODEL"}))
    deployments = [parse_deployment(d) for d in documents]
    served = ComponentEndpoint("127.0.0.1", backend.rest_port, backend.grpc_port)
    endpoints = {
        endpoint_key(name, "default", node): served
        for name, graph in GRAPHS.items()
        for node in _nodes(graph)
        if node != "ab"
    }
    generated = generated_backend.address
    endpoints[endpoint_key("slow", "default", "slow")] = ComponentEndpoint(
        "127.0.0.1", generated.http_port, generated.grpc_port
    )
    # nothing listens here: the node is down
    endpoints[endpoint_key("gone", "default", "half_plus_two")] = ComponentEndpoint(
        "127.0.0.1", free_port(), free_port()
    )
    server = Gateway(
        deployments,
        endpoints,
        http_port=free_port(),
        grpc_port=free_port(),
        settings=GatewaySettings(component_timeout_s=20),
    )
    server.start()
    yield server
    server.stop()


def _url(gateway: Gateway, deployment: str, path: str) -> str:
    return f"{gateway.http_url}/seldon/{NAMESPACE}/{deployment}{path}"


def _direct(backend: Backend, path: str, body: Any | None = None) -> requests.Response:
    if body is None:
        return requests.get(backend.rest_endpoint + path, timeout=10)
    return requests.post(backend.rest_endpoint + path, json=body, timeout=10)


# -- REST ------------------------------------------------------------------------------------


def test_the_notebooks_curl_answers_what_the_model_answers(
    gateway: Gateway, backend: Backend
) -> None:
    body = {"instances": [1.0, 2.0, 5.0]}
    answer = requests.post(
        _url(gateway, "hpt", "/v1/models/half_plus_two/:predict"), json=body, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": [2.5, 3.0, 4.5]}
    assert answer.json() == _direct(backend, "/v1/models/half_plus_two:predict", body).json()


def test_a_chain_of_two_tf_models_feeds_one_answer_into_the_other(
    gateway: Gateway, backend: Backend
) -> None:
    body = {"instances": [1.0, 4.0]}
    answer = requests.post(_url(gateway, "chain", "/v1/models:predict"), json=body, timeout=10)
    first = _direct(backend, "/v1/models/half_plus_two:predict", body).json()
    second = _direct(
        backend, "/v1/models/half_plus_three:predict", {"instances": first["predictions"]}
    )
    assert answer.json() == second.json()
    # the executor's override: both nodes called as the client's model, so the second misses
    overridden = requests.post(
        _url(gateway, "chain", "/v1/models/half_plus_two:predict"), json=body, timeout=10
    )
    assert (
        overridden.json()
        == _direct(
            backend, "/v1/models/half_plus_two:predict", {"instances": first["predictions"]}
        ).json()
    )


def test_random_abtest_sends_everything_to_b_at_ratio_zero(
    gateway: Gateway, backend: Backend
) -> None:
    body = {"instances": [2.0]}
    answer = requests.post(_url(gateway, "ab", "/v1/models:predict"), json=body, timeout=10)
    assert answer.json() == _direct(backend, "/v1/models/half_plus_three:predict", body).json()
    assert json.loads(answer.headers["Seldon-Routing"]) == {"ab": 1, "half_plus_three": -1}


@pytest.mark.parametrize(
    "path", ["/versions/123", "/versions/124", "/labels/stable", "/labels/canary"]
)
def test_versions_and_labels_reach_the_model(gateway: Gateway, backend: Backend, path: str) -> None:
    body = {"instances": [1.0, 2.0]}
    answer = requests.post(
        _url(gateway, "versions", f"/v1/models/two_versions{path}:predict"), json=body, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == _direct(backend, f"/v1/models/two_versions{path}:predict", body).json()
    status = requests.get(_url(gateway, "versions", f"/v1/models/two_versions{path}"), timeout=10)
    assert status.json() == _direct(backend, f"/v1/models/two_versions{path}").json()


@pytest.mark.parametrize(
    ("verb", "signature"), [("classify", "classify_x_to_y"), ("regress", "regress_x_to_y")]
)
def test_classify_and_regress_go_through_the_graph(
    gateway: Gateway, backend: Backend, verb: str, signature: str
) -> None:
    body = {"signature_name": signature, "examples": [{"x": 1.0}, {"x": 3.0}]}
    answer = requests.post(_url(gateway, "hpt", f"/v1/models/half_plus_two:{verb}"), json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == _direct(backend, f"/v1/models/half_plus_two:{verb}", body).json()


def test_status_and_metadata_are_the_nodes_own(gateway: Gateway, backend: Backend) -> None:
    for path in ("/v1/models/half_plus_three", "/v1/models/half_plus_three/metadata"):
        answer = requests.get(_url(gateway, "chain", path), timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json() == _direct(backend, path).json()


def test_each_failure_has_tf_servings_body_and_status(gateway: Gateway) -> None:
    unknown = requests.post(
        _url(gateway, "hpt", "/v1/models/nope:predict"), json={"instances": [1.0]}, timeout=10
    )
    assert unknown.status_code == 404
    assert "nope" in unknown.json()["error"]
    bad = requests.post(
        _url(gateway, "hpt", "/v1/models/half_plus_two:predict"), json={"instances": "x"}
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"error"}
    down = requests.post(
        _url(gateway, "gone", "/v1/models/half_plus_two:predict"), json={"instances": [1.0]}
    )
    assert down.status_code == 503
    assert set(down.json()) == {"error"}
    late = requests.post(
        _url(gateway, "slow", "/v1/models/slow:predict"), json={"instances": [1.0]}
    )
    assert late.status_code == 504
    assert set(late.json()) == {"error"}


def test_ready_waits_for_every_tf_model_to_be_available(gateway: Gateway) -> None:
    ready = requests.get(gateway.http_url + "/ready", timeout=30)
    assert ready.status_code == 503  # `missing` names a model the backend does not serve
    assert "not_served" in ready.text
    assert "hpt/" not in ready.text and "chain/" not in ready.text


@pytest.mark.parametrize(
    ("models", "status"),
    [(("half_plus_two", "half_plus_three"), 200), (("half_plus_two", "absent"), 503)],
)
def test_ready_asks_a_tf_serving_node_after_every_model_it_serves(
    backend: Backend, models: tuple[str, ...], status: int
) -> None:
    """A node that is TF Serving with a model config serves models named otherwise than it."""
    deployment = parse_deployment(_sdep("multi", {"name": "multi", "type": "MODEL"}))
    served = ComponentEndpoint("127.0.0.1", backend.rest_port, backend.grpc_port, models=models)
    server = Gateway(
        [deployment],
        {endpoint_key("multi", "default", "multi"): served},
        http_port=free_port(),
        grpc_port=free_port(),
    )
    server.start()
    try:
        ready = requests.get(server.http_url + "/ready", timeout=30)
    finally:
        server.stop()
    assert ready.status_code == status, ready.text
    if status != 200:
        assert "'absent' of multi/default/multi" in ready.text
        assert "half_plus_two" not in ready.text


_ROUTES = (
    "/v1/models/half_plus_two:predict",
    "/v1/models/half_plus_two/:predict",
    "/v1/models:predict",
    "/v1/models/half_plus_two/versions/123:predict",
    "/v1/models/half_plus_two:classify",
    "/v1/models/half_plus_two:regress",
    "/api/v1.0/feedback",
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers(-5, 5) | st.text(),
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
@given(route=st.sampled_from(_ROUTES), body=_BODIES, deployment=st.sampled_from(["hpt", "chain"]))
def test_a_fuzzed_body_into_any_route_is_never_a_5xx(
    gateway: Gateway, route: str, body: bytes, deployment: str
) -> None:
    answer = requests.post(_url(gateway, deployment, route), data=body, timeout=20)
    assert answer.status_code < 500, (answer.status_code, answer.text)


# -- gRPC ------------------------------------------------------------------------------------


def _metadata(deployment: str) -> tuple[tuple[str, str], ...]:
    return (("seldon", deployment), ("namespace", NAMESPACE))


def _predict(model: str, values: list[float], version: int | None = None) -> Any:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = version
    request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.asarray(values, dtype=np.float32)))
    return request


def test_grpc_predict_classify_regress_status_and_metadata_are_the_models(
    gateway: Gateway, backend: Backend
) -> None:
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name, classify.model_spec.signature_name = (
        "half_plus_two",
        "classify_x_to_y",
    )
    classify.input.example_list.examples.add().features.feature["x"].float_list.value.append(2.0)
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name, regress.model_spec.signature_name = "half_plus_two", "regress_x_to_y"
    regress.input.CopyFrom(classify.input)
    status = get_model_status_pb2.GetModelStatusRequest()
    status.model_spec.name = "half_plus_two"
    metadata = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    metadata.model_spec.name = "half_plus_two"
    with (
        grpc.insecure_channel(gateway.grpc_target) as through,
        grpc.insecure_channel(backend.grpc_endpoint) as direct,
    ):
        calls = [
            ("Predict", _predict("half_plus_two", [1.0, 2.0, 3.0])),
            ("Classify", classify),
            ("Regress", regress),
            ("GetModelMetadata", metadata),
        ]
        for name, request in calls:
            mine = getattr(prediction_service_pb2_grpc.PredictionServiceStub(through), name)
            theirs = getattr(prediction_service_pb2_grpc.PredictionServiceStub(direct), name)
            assert mine(request, metadata=_metadata("hpt"), timeout=10) == theirs(request), name
        answered = model_service_pb2_grpc.ModelServiceStub(through).GetModelStatus(
            status, metadata=_metadata("hpt"), timeout=10
        )
        assert answered == model_service_pb2_grpc.ModelServiceStub(direct).GetModelStatus(status)


def test_grpc_the_notebooks_call_and_a_version_through_the_graph(gateway: Gateway) -> None:
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        answer = stub.Predict(_predict("half_plus_two", [1.0, 2.0, 3.0]), metadata=_metadata("hpt"))
        assert tensor_proto_to_ndarray(answer.outputs["y"]).tolist() == [2.5, 3.0, 3.5]
        # the executor's gRPC MultiInference/empty-name rule: each node by its own name
        routed = stub.Predict(_predict("", [1.0]), metadata=_metadata("ab"))
        assert tensor_proto_to_ndarray(routed.outputs["y"]).tolist() == [1.0 / 2 + 3]
        pinned = stub.Predict(_predict("two_versions", [2.0], 124), metadata=_metadata("versions"))
        assert pinned.model_spec.version.value == 124


def test_grpc_failures_keep_tf_servings_codes(gateway: Gateway) -> None:
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        expected = {
            ("hpt", "nope"): grpc.StatusCode.NOT_FOUND,
            ("gone", "half_plus_two"): grpc.StatusCode.UNAVAILABLE,
            ("slow", "slow"): grpc.StatusCode.DEADLINE_EXCEEDED,
        }
        for (deployment, model), code in expected.items():
            with pytest.raises(grpc.RpcError) as failure:
                stub.Predict(_predict(model, [1.0]), metadata=_metadata(deployment), timeout=10)
            assert failure.value.code() == code, (deployment, model)
        bad = _predict("half_plus_two", [1.0])
        bad.inputs["x"].dtype = 7  # DT_STRING with float values
        with pytest.raises(grpc.RpcError) as invalid:
            stub.Predict(bad, metadata=_metadata("hpt"), timeout=10)
        assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
