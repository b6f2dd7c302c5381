"""`protocol: tensorflow` through the gateway, in process, over recorded fake components.

The gateway's REST and gRPC faces are real (plain HTTP and TF Serving's own stubs); the nodes
behind them are the fakes of tf_fakes.py, so each test reads exactly what the walk sent to
each node: the executor's model name override, ChainTensorflow, RANDOM_ABTEST, routes read as
the executor reads them, combiners given their children in order, and ours beyond it
(versions, verbs, routers over gRPC, feedback by puid).
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
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings
from tests.gateway.sink import CloudEventSink
from tests.gateway.tf_fakes import FakeComponents
from tests.servers import free_port

NAMESPACE = "seldon"
MODELS = [
    {"name": "model-a", "type": "MODEL"},
    {"name": "model-b", "type": "MODEL"},
]


def _tf_deployment(name: str, graph: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"protocol": "tensorflow", "predictors": [{"name": "default", "graph": graph}]},
    }


GRAPHS = {
    "tf-ab": {
        "name": "ab",
        "implementation": "RANDOM_ABTEST",
        "parameters": [{"name": "ratioA", "type": "FLOAT", "value": "1.0"}],
        "children": MODELS,
    },
    "tf-bandit": {"name": "router", "type": "ROUTER", "children": MODELS},
    "tf-ensemble": {"name": "combiner", "type": "COMBINER", "children": MODELS},
    "tf-chain": {"name": "model-a", "type": "MODEL", "children": [MODELS[1]]},
    "tf-single": {"name": "model-b", "type": "MODEL"},
}


def _nodes(graph: dict[str, Any]) -> list[str]:
    return [graph["name"], *(n for c in graph.get("children", []) for n in _nodes(c))]


@pytest.fixture(scope="module")
def fakes() -> FakeComponents:
    return FakeComponents()


def _logged(sink: CloudEventSink) -> dict[str, Any]:
    """A chain whose second node logs everything to the sink."""
    logged = {**MODELS[1], "logger": {"mode": "all", "url": sink.url + "/events"}}
    return {**MODELS[0], "children": [logged]}


@pytest.fixture(scope="module")
def tf_gateway(fakes: FakeComponents, sink: CloudEventSink) -> Iterator[Gateway]:
    graphs = {**GRAPHS, "tf-logged": _logged(sink)}
    deployments = [parse_deployment(_tf_deployment(n, g)) for n, g in graphs.items()]
    endpoints = {
        endpoint_key(name, "default", node): ComponentEndpoint("127.0.0.1", 1, 2)
        for name, graph in graphs.items()
        for node in _nodes(graph)
        if node != "ab"
    }
    server = Gateway(
        deployments,
        endpoints,
        http_port=free_port(),
        grpc_port=free_port(),
        settings=GatewaySettings(component_timeout_s=10),
        tf_clients=fakes.factory,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh(fakes: FakeComponents) -> None:
    fakes.clear()


def _url(gateway: Gateway, deployment: str, path: str) -> str:
    return f"{gateway.http_url}/seldon/{NAMESPACE}/{deployment}{path}"


def _post(gateway: Gateway, deployment: str, path: str, body: Any, **kw: Any) -> Any:
    return requests.post(_url(gateway, deployment, path), json=body, timeout=10, **kw)


# -- REST: the executor's walk ---------------------------------------------------------------


def test_a_chain_renames_predictions_to_instances_and_overrides_every_nodes_name(
    tf_gateway: Gateway, fakes: FakeComponents
) -> None:
    answer = _post(tf_gateway, "tf-chain", "/v1/models/anything/:predict", {"instances": [1.0]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": [10.0]}
    assert [c.path for c in fakes.of("model-a")] == ["/v1/models/anything:predict"]
    [second] = fakes.of("model-b")
    assert second.path == "/v1/models/anything:predict"
    assert second.body == {"instances": [1.0]}  # model-a's predictions, renamed
    assert answer.headers["Seldon-Puid"]
    assert json.loads(answer.headers["Seldon-Routing"]) == {"model-a": -1, "model-b": -1}


def test_the_graph_level_path_calls_each_node_by_its_own_name(
    tf_gateway: Gateway, fakes: FakeComponents
) -> None:
    for path in ("/v1/models:predict", "/v1/models/:predict"):
        answer = _post(tf_gateway, "tf-chain", path, {"instances": [2.0]})
        assert answer.json() == {"predictions": [20.0]}
    assert [c.path for c in fakes.of("model-b")] == ["/v1/models/model-b:predict"] * 2


def test_random_abtest_is_built_in_and_its_routing_comes_back_in_a_header(
    tf_gateway: Gateway, fakes: FakeComponents
) -> None:
    answer = _post(tf_gateway, "tf-ab", "/v1/models/m:predict", {"instances": [[3.0]]})
    assert answer.json() == {"predictions": [[3.0]]}  # ratioA 1.0: always model-a
    assert json.loads(answer.headers["Seldon-Routing"]) == {"ab": 0, "model-a": -1}
    assert fakes.of("model-b") == []


def test_a_combiner_gets_its_childrens_bodies_as_one_json_array_in_child_order(
    tf_gateway: Gateway, fakes: FakeComponents
) -> None:
    answer = _post(tf_gateway, "tf-ensemble", "/v1/models/m:predict", {"instances": [2.0]})
    assert answer.json() == {"predictions": [11.0]}
    [aggregate] = fakes.of("combiner")
    assert aggregate.path == "/v1/models/m:aggregate"
    assert aggregate.body == [{"predictions": [2.0]}, {"predictions": [20.0]}]


def test_versions_labels_and_verbs_reach_the_model_nodes_only(
    tf_gateway: Gateway, fakes: FakeComponents
) -> None:
    versioned = _post(tf_gateway, "tf-bandit", "/v1/models/m/versions/2:predict", {"inputs": [1]})
    assert versioned.status_code == 200, versioned.text
    labelled = _post(tf_gateway, "tf-bandit", "/v1/models/m/labels/stable:regress", {"x": 1})
    assert labelled.status_code == 400  # a :regress request has no instances for the fake
    assert [c.path for c in fakes.of("router")] == ["/v1/models/m:route"] * 2
    assert [c.path for c in fakes.of("model-a")] == [
        "/v1/models/m/versions/2:predict",
        "/v1/models/m/labels/stable:regress",
    ]


def test_a_bandit_learns_from_feedback_that_names_only_the_puid(
    tf_gateway: Gateway, fakes: FakeComponents
) -> None:
    first = _post(tf_gateway, "tf-bandit", "/v1/models/m:predict", {"instances": [1.0]})
    assert json.loads(first.headers["Seldon-Routing"])["router"] == 0
    # feedback with the routing written out, as Seldon's protocol has it, moves branch 1 ahead
    told = {"reward": 5.0, "response": {"meta": {"routing": {"router": 1}}}}
    assert _post(tf_gateway, "tf-bandit", "/api/v1.0/feedback", told).status_code == 200
    second = _post(tf_gateway, "tf-bandit", "/v1/models/m:predict", {"instances": [1.0]})
    assert second.json() == {"predictions": [10.0]}
    puid = second.headers["Seldon-Puid"]
    # a TF client has no meta to give back: the puid finds the routing the gateway kept
    by_puid = {"reward": 2.0}
    echoed = _post(
        tf_gateway, "tf-bandit", "/api/v1.0/feedback", by_puid, headers={"Seldon-Puid": puid}
    )
    assert echoed.status_code == 200
    assert echoed.json() == by_puid  # the executor's answer: the feedback itself
    in_meta = {"reward": 1.0, "response": {"meta": {"puid": first.headers["Seldon-Puid"]}}}
    assert _post(tf_gateway, "tf-bandit", "/api/v1.0/feedback", in_meta).status_code == 200
    assert [(f["node"], f["routing"], f["reward"]) for f in fakes.feedback] == [
        ("router", 1, 5.0),
        ("router", 1, 2.0),
        ("router", 0, 1.0),
    ]
    assert fakes.totals["router"] == [1.0, 7.0]
    assert fakes.of("model-a") and not [c for c in fakes.calls if c.method == "send-feedback"]


def test_the_request_logger_sends_tf_bodies_with_ce_protocol_tensorflow(
    tf_gateway: Gateway, sink: CloudEventSink
) -> None:
    answer = _post(tf_gateway, "tf-logged", "/v1/models:predict", {"instances": [1.0]})
    assert answer.status_code == 200, answer.text
    puid = answer.headers["Seldon-Puid"]
    [request] = sink.wait_for(
        1, **{"Ce-Requestid": puid, "Ce-Type": "io.seldon.serving.inference.request"}
    )
    [response] = sink.wait_for(
        1, **{"Ce-Requestid": puid, "Ce-Type": "io.seldon.serving.inference.response"}
    )
    for event in (request, response):
        assert event.headers["Ce-Protocol"] == "tensorflow"
        assert event.headers["Ce-Modelid"] == "model-b"
        assert event.headers["Ce-Inferenceservicename"] == "tf-logged"
    assert json.loads(request.body) == {"instances": [1.0]}  # model-a's answer, chained
    assert json.loads(response.body) == {"predictions": [10.0]}
    with grpc.insecure_channel(tf_gateway.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        stub.Predict(
            _predict_request("", [1.0]),
            metadata=(*_metadata("tf-logged"), ("seldon-puid", "grpc-logged-tf")),
        )
    [logged] = sink.wait_for(
        1, **{"Ce-Requestid": "grpc-logged-tf", "Ce-Type": "io.seldon.serving.inference.request"}
    )
    assert logged.headers["Content-Type"] == "application/protobuf"
    assert predict_pb2.PredictRequest.FromString(logged.body).model_spec.name == "model-b"


def test_the_executors_metrics_label_tf_routes_and_node_calls(tf_gateway: Gateway) -> None:
    _post(tf_gateway, "tf-chain", "/v1/models/metered:predict", {"instances": [1.0]})
    requests.get(_url(tf_gateway, "tf-chain", "/v1/models/model-a"), timeout=10)
    text = requests.get(tf_gateway.http_url + "/prometheus", timeout=10).text
    server = [
        line
        for line in text.splitlines()
        if line.startswith("seldon_api_executor_server_requests_seconds_count")
        and 'deployment_name="tf-chain"' in line
    ]
    assert any('service="predictions"' in line and 'code="200"' in line for line in server)
    assert any('service="status"' in line for line in server)
    assert 'service="/v1/models/metered:predict"' in text


# -- REST: paths, methods and errors -----------------------------------------------------------


def test_unknown_paths_are_muxs_404_page_and_wrong_methods_an_empty_405(
    tf_gateway: Gateway,
) -> None:
    for path in ("/api/v1.0/predictions", "/v1/models/m:explain/x", "/v1/other"):
        answer = requests.post(_url(tf_gateway, "tf-single", path), json={}, timeout=10)
        assert (answer.status_code, answer.text) == (404, "404 page not found\n"), path
        assert "Seldon-Puid" not in answer.headers
    for method, path in (("GET", "/v1/models/m/:predict"), ("POST", "/v1/models/m")):
        answer = requests.request(method, _url(tf_gateway, "tf-single", path), timeout=10)
        assert (answer.status_code, answer.content) == (405, b""), (method, path)


def test_status_and_metadata_name_a_graph_node_and_an_unknown_one_is_404(
    tf_gateway: Gateway,
) -> None:
    status = requests.get(_url(tf_gateway, "tf-chain", "/v1/models/model-b"), timeout=10)
    assert status.json()["model_version_status"][0]["state"] == "AVAILABLE"
    metadata = requests.get(_url(tf_gateway, "tf-chain", "/v1/models/model-a/metadata"), timeout=10)
    assert metadata.json()["model_spec"] == {"name": "model-a"}
    unknown = requests.get(_url(tf_gateway, "tf-chain", "/v1/models/nope"), timeout=10)
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Failed to find model nope"}
    # mux's fall-through: GET on a :predict path is the status of a model called `m:predict`
    fallen = requests.get(_url(tf_gateway, "tf-chain", "/v1/models/m:predict"), timeout=10)
    assert fallen.status_code == 404


def test_a_nodes_error_comes_back_as_tf_servings_error_body_with_its_status(
    tf_gateway: Gateway,
) -> None:
    answer = _post(tf_gateway, "tf-single", "/v1/models/m:predict", {"instances": [-1.0]})
    assert answer.status_code == 400
    assert answer.json() == {"error": "model-b takes non-negative input only"}
    # a body opening with its tensor goes on unparsed: its malformed tail is the node's 400
    for body in (b"", b"[1, 2]", b"not json", b'{"instances": [1.0,'):
        bad = requests.post(_url(tf_gateway, "tf-single", "/v1/models/m:predict"), data=body)
        assert bad.status_code == 400, body
        assert set(bad.json()) == {"error"}
    unchainable = _post(tf_gateway, "tf-single", "/v1/models/m:predict", {"examples": []})
    assert unchainable.status_code == 400
    assert "chained" in unchainable.json()["error"]


def test_a_down_component_is_503_in_tf_servings_shape(tf_gateway: Gateway) -> None:
    key = endpoint_key("tf-single", "default", "model-b")
    tf_gateway.mark_down(key, "exited with 1")
    try:
        answer = _post(tf_gateway, "tf-single", "/v1/models/m:predict", {"instances": [1.0]})
    finally:
        tf_gateway.mark_up(key)
    assert answer.status_code == 503
    assert "exited with 1" in answer.json()["error"]


_ROUTES = (
    "/v1/models/m:predict",
    "/v1/models/m/:predict",
    "/v1/models:predict",
    "/v1/models/m/versions/1:predict",
    "/v1/models/m/labels/stable:classify",
    "/v1/models/m:regress",
    "/api/v1.0/feedback",
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_BODIES = st.one_of(
    st.binary(max_size=64),
    _JSON.map(lambda d: json.dumps(d).encode()),
    st.dictionaries(
        st.sampled_from(["instances", "inputs", "predictions", "outputs", "reward", "response"]),
        _JSON,
        max_size=3,
    ).map(lambda d: json.dumps(d).encode()),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(_ROUTES), body=_BODIES, deployment=st.sampled_from(sorted(GRAPHS)))
def test_a_fuzzed_body_into_any_route_is_never_a_5xx(
    tf_gateway: Gateway, route: str, body: bytes, deployment: str
) -> None:
    answer = requests.post(_url(tf_gateway, deployment, route), data=body, timeout=10)
    assert answer.status_code < 500, (answer.status_code, answer.text)


# -- gRPC ------------------------------------------------------------------------------------


def _metadata(deployment: str) -> tuple[tuple[str, str], ...]:
    return (("seldon", deployment), ("namespace", NAMESPACE))


def _predict_request(model: str, values: list[float]) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.asarray(values, dtype=np.float32)))
    return request


def test_grpc_chains_outputs_into_inputs_and_trails_the_routing(
    tf_gateway: Gateway, fakes: FakeComponents
) -> None:
    with grpc.insecure_channel(tf_gateway.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        answer, call = stub.Predict.with_call(
            _predict_request("m", [1.0, 2.0]), metadata=_metadata("tf-chain"), timeout=10
        )
    assert tensor_proto_to_ndarray(answer.outputs["y"]).tolist() == [10.0, 20.0]
    [second] = fakes.of("model-b")
    assert list(second.body.inputs) == ["y"]  # model-a's outputs, as inputs
    assert second.body.model_spec.name == "m"
    trailing = dict(call.trailing_metadata())
    assert json.loads(trailing["seldon-routing"]) == {"model-a": -1, "model-b": -1}
    assert dict(call.initial_metadata())["seldon-puid"]


def test_grpc_routers_and_combiners_are_called_through_our_services(
    tf_gateway: Gateway, fakes: FakeComponents
) -> None:
    with grpc.insecure_channel(tf_gateway.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        routed = stub.Predict(_predict_request("m", [1.0]), metadata=_metadata("tf-bandit"))
        combined = stub.Predict(_predict_request("m", [2.0]), metadata=_metadata("tf-ensemble"))
    assert tensor_proto_to_ndarray(routed.outputs["y"]).tolist() == [1.0]
    assert tensor_proto_to_ndarray(combined.outputs["y"]).tolist() == [11.0]
    [aggregate] = fakes.of("combiner")
    assert len(aggregate.body) == 2


def test_grpc_status_of_an_unknown_node_is_not_found_and_seldons_service_unimplemented(
    tf_gateway: Gateway,
) -> None:
    with grpc.insecure_channel(tf_gateway.grpc_target) as channel:
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = "model-b"
        status = models.GetModelStatus(request, metadata=_metadata("tf-single"), timeout=10)
        assert (
            status.model_version_status[0].state
            == get_model_status_pb2.ModelVersionStatus.AVAILABLE
        )
        request.model_spec.name = "nope"
        with pytest.raises(grpc.RpcError) as unknown:
            models.GetModelStatus(request, metadata=_metadata("tf-single"), timeout=10)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as missing:
            models.GetModelStatus(
                get_model_status_pb2.GetModelStatusRequest(), metadata=_metadata("tf-single")
            )
        assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        seldon = prediction_pb2_grpc.SeldonStub(channel)
        with pytest.raises(grpc.RpcError) as other_protocol:
            seldon.Predict(prediction_pb2.SeldonMessage(), metadata=_metadata("tf-single"))
        assert other_protocol.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_grpc_bad_input_is_invalid_argument(tf_gateway: Gateway) -> None:
    with grpc.insecure_channel(tf_gateway.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as negative:
            stub.Predict(_predict_request("m", [-1.0]), metadata=_metadata("tf-single"))
    assert negative.value.code() == grpc.StatusCode.INVALID_ARGUMENT
