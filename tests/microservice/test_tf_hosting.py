"""The hosting of TF faces inside seldon-core's own app and gRPC server, in process.

seldon-core's `wrapper.get_rest_microservice` and `get_grpc_server` (as hooked by our
classes) build the real Flask app and gRPC server; a small class declaring faces records
what each call hands it, so that the routes, the paths, the body limit, the error bodies and
the metrics are seen exactly as the host gives them, with nothing else in the way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from seldon_core import wrapper
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from seldon_tfserving.errors import InvalidInput, NotFound, ServingError
from seldon_tfserving.microservice.component import SeldonComponent
from seldon_tfserving.microservice.metrics_buffer import buffered
from seldon_tfserving.microservice.tf_faces import (
    CallerContext,
    ModelPath,
    TfAnswer,
    TfFaces,
)
from seldon_tfserving.microservice.tf_rest import GET_PATH, POST_PATH, model_path
from seldon_tfserving.protos import tensorflow_graph_pb2, tensorflow_graph_pb2_grpc

TIMER = {"type": "TIMER", "key": "tfserving_request_duration", "value": 2.0}


@dataclass
class RecordingFaces:
    """A model's, a router's and a combiner's faces that record every call, and fail on cue."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    fail_with: Exception | None = None

    def _answer(self, body: Any, *call: Any) -> TfAnswer:
        self.calls.append(call)
        if self.fail_with is not None:
            raise self.fail_with
        return TfAnswer(body, "predict", [dict(TIMER, tags={"tfserving_version": "1"})])

    def rest_infer(self, verb: str, path: ModelPath, body: bytes) -> TfAnswer:
        return self._answer(b'{"predictions": [1]}', verb, path, body)

    def rest_status(self, path: ModelPath) -> TfAnswer:
        return self._answer(b'{"model_version_status": []}', "status", path)

    def rest_metadata(self, path: ModelPath) -> TfAnswer:
        return self._answer(b'{"model_spec": {}}', "metadata", path)

    def grpc(self, method: str, request: Any) -> TfAnswer:
        answers = {
            "Predict": predict_pb2.PredictResponse(),
            "GetModelStatus": get_model_status_pb2.GetModelStatusResponse(),
        }
        return self._answer(answers[method], method, request.model_spec.name)

    def rest_route(self, path: ModelPath, body: bytes, caller: CallerContext) -> TfAnswer:
        return self._answer(b'{"data": {"ndarray": [[1]]}}', "route", path, body, caller)

    def grpc_route(self, request: Any, caller: CallerContext) -> TfAnswer:
        return self._answer(tensorflow_graph_pb2.RouteResponse(route=1), "Route", caller)

    def rest_aggregate(self, path: ModelPath, body: bytes) -> TfAnswer:
        return self._answer(b'{"outputs": [1]}', "aggregate", path, body)

    def grpc_aggregate(self, request: Any) -> TfAnswer:
        return self._answer(predict_pb2.PredictResponse(), "Aggregate", len(request.responses))


class ModelWithFaces(SeldonComponent):
    """A Seldon class declaring every face, with a 100-byte body limit."""

    def __init__(self, **faces: bool) -> None:
        super().__init__()
        self.recorded = RecordingFaces()
        self.faces = faces

    def tf_faces(self) -> TfFaces:
        recorded = self.recorded
        return TfFaces(
            model=recorded if self.faces.get("model", True) else None,
            router=recorded if self.faces.get("router", True) else None,
            combiner=recorded if self.faces.get("combiner", True) else None,
            max_request_bytes=100,
        )

    def predict(self, features: Any, names: Any) -> Any:
        return features


class SeldonOnly(SeldonComponent):
    def predict(self, features: Any, names: Any) -> Any:
        return features


class Recorder:
    """Seldon's metrics object, as far as the buffering front uses it."""

    def __init__(self) -> None:
        self.updates: list[tuple[list[dict[str, Any]], str]] = []

    def update(self, custom_metrics: list[dict[str, Any]], method: str) -> None:
        self.updates.append((custom_metrics, method))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/models/m:predict", ("m", None, None, "predict")),
        ("/v1/models/m/:predict", ("m", None, None, "predict")),
        ("/v1/models/m/versions/12:classify", ("m", "12", None, "classify")),
        ("/v1/models/m/labels/canary/:regress", ("m", None, "canary", "regress")),
        ("/v1/models/a.b-c_d:route", ("a.b-c_d", None, None, "route")),
        ("/v1/models/m:aggregate", ("m", None, None, "aggregate")),
        ("/v1/models/m/versions/x:predict", None),
        ("/v1/models/m/v/1:predict", None),
        ("/v1/models/:predict", None),
        ("/v1/models:predict", None),
        ("/v1/models/a:b:predict", None),
    ],
)
def test_post_paths_are_tf_servings_and_the_executors(
    path: str, expected: tuple[str | None, ...] | None
) -> None:
    match = POST_PATH.fullmatch(path)
    if expected is None:
        assert match is None
    else:
        assert match is not None and match.group("name", "version", "label", "verb") == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/models", (None, None, None, None)),
        ("/v1/models/m", ("m", None, None, None)),
        ("/v1/models/m/metadata", ("m", None, None, "/metadata")),
        ("/v1/models/m/versions/3/metadata", ("m", "3", None, "/metadata")),
        ("/v1/models/m/labels/l", ("m", None, "l", None)),
        ("/v1/models/m/", None),
        ("/v1/models/m:predict", None),
        ("/v1/models/m/other", None),
    ],
)
def test_get_paths_are_tf_servings(path: str, expected: tuple[str | None, ...] | None) -> None:
    match = GET_PATH.fullmatch(path)
    if expected is None:
        assert match is None
    else:
        assert match is not None and match.group("name", "version", "label", "metadata") == expected


def test_a_version_past_int64_is_tf_servings_400() -> None:
    match = POST_PATH.fullmatch(f"/v1/models/m/versions/{2**63}:predict")
    assert match is not None
    with pytest.raises(InvalidInput, match=re.escape(f"Failed to convert version: {2**63}")):
        model_path(match)
    within = POST_PATH.fullmatch(f"/v1/models/m/versions/{2**63 - 1}:predict")
    assert within is not None and model_path(within) == ModelPath("m", 2**63 - 1, None)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def rest_app(user_model: Any, recorder: Recorder) -> Any:
    return wrapper.get_rest_microservice(user_model, recorder).test_client()


def test_rest_calls_reach_the_faces_with_path_body_and_caller(recorder: Recorder) -> None:
    model = ModelWithFaces()
    client = rest_app(model, recorder)
    reply = client.post("/v1/models/m/versions/7/:predict", data=b'{"instances": [1]}')
    assert reply.status_code == 200 and reply.data == b'{"predictions": [1]}'
    assert reply.content_type == "application/json"
    route = client.post("/v1/models/r:route", data=b"{}", headers={"Seldon-Puid": "p-1"})
    assert route.status_code == 200
    assert client.post("/v1/models/c:aggregate", data=b"[]").status_code == 200
    assert client.get("/v1/models/m/labels/l/metadata").status_code == 200
    assert client.get("/v1/models/m").status_code == 200
    assert model.recorded.calls == [
        ("predict", ModelPath("m", 7, None), b'{"instances": [1]}'),
        ("route", ModelPath("r", None, None), b"{}", CallerContext("p-1")),
        ("aggregate", ModelPath("c", None, None), b"[]"),
        ("metadata", ModelPath("m", None, "l")),
        ("status", ModelPath("m", None, None)),
    ]
    buffered(recorder).flush()
    assert [method for _, method in recorder.updates] == ["predict"]
    (metrics, _) = recorder.updates[0]
    assert len(metrics) == 5 and all(m["key"] == TIMER["key"] for m in metrics)


def test_a_body_over_the_limit_is_a_413_before_any_face_sees_it(recorder: Recorder) -> None:
    model = ModelWithFaces()
    reply = rest_app(model, recorder).post("/v1/models/m:predict", data=b"x" * 101)
    assert reply.status_code == 413 and "exceeds the limit of 100" in reply.json["error"]
    assert model.recorded.calls == []


@pytest.mark.parametrize(
    ("error", "status", "says"),
    [
        (NotFound("Servable not found"), 404, "Servable not found"),
        (InvalidInput("bad"), 400, "bad"),
        (RecursionError("deep"), 400, "nesting too deep"),
        (ValueError("a bug of ours"), 500, "ValueError: a bug of ours"),
    ],
)
def test_every_failure_is_tf_servings_error_body(
    recorder: Recorder, error: Exception, status: int, says: str
) -> None:
    model = ModelWithFaces()
    model.recorded.fail_with = error
    reply = rest_app(model, recorder).post("/v1/models/m:predict", data=b"{}")
    assert reply.status_code == status
    assert list(reply.json) == ["error"] and says in reply.json["error"]


def test_only_the_declared_faces_are_served(recorder: Recorder) -> None:
    client = rest_app(ModelWithFaces(model=False, combiner=False), recorder)
    assert client.post("/v1/models/m:route", data=b"{}").status_code == 200
    for method, path in [("POST", "/v1/models/m:predict"), ("GET", "/v1/models/m")]:
        reply = client.open(path, method=method, data=b"{}")
        assert reply.status_code == 400
        assert reply.json == {"error": f"Malformed request: {method} {path}"}
    assert client.get("/health/ping").status_code == 200  # Seldon's own routes stay


def test_a_class_without_faces_gets_no_tf_routes(recorder: Recorder) -> None:
    """seldon-core answers any path it lacks with Seldon's error JSON: a POST meets only its
    GET-only static route there, so werkzeug's 405 (it was a 500, seldon-core's catch-all)."""
    reply = rest_app(SeldonOnly(), recorder).post("/v1/models/m:predict", data=b"{}")
    assert reply.status_code == 405 and list(reply.json) == ["status"], reply.json
    assert reply.json["status"]["code"] == 405


@pytest.fixture
def grpc_server(recorder: Recorder) -> Iterator[tuple[ModelWithFaces, str]]:
    model = ModelWithFaces(combiner=False)
    server = wrapper.get_grpc_server(model, recorder, num_threads=2)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield model, f"127.0.0.1:{port}"
    finally:
        server.stop(None)


def test_grpc_services_reach_the_faces(
    grpc_server: tuple[ModelWithFaces, str], recorder: Recorder
) -> None:
    model, endpoint = grpc_server
    with grpc.insecure_channel(endpoint) as channel:
        prediction = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        router = tensorflow_graph_pb2_grpc.RouterStub(channel)
        combiner = tensorflow_graph_pb2_grpc.CombinerStub(channel)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "asked"
        prediction.Predict(request, timeout=10)
        models.GetModelStatus(get_model_status_pb2.GetModelStatusRequest(), timeout=10)
        assert router.Route(
            tensorflow_graph_pb2.RouteRequest(), timeout=10, metadata=(("seldon-puid", "p-2"),)
        ) == tensorflow_graph_pb2.RouteResponse(route=1)
        with pytest.raises(grpc.RpcError) as reload:
            models.HandleReloadConfigRequest(model_management_pb2.ReloadConfigRequest())
        with pytest.raises(grpc.RpcError) as undeclared:
            combiner.Aggregate(tensorflow_graph_pb2.AggregateRequest(), timeout=10)
    assert model.recorded.calls == [
        ("Predict", "asked"),
        ("GetModelStatus", ""),
        ("Route", CallerContext("p-2")),
    ]
    assert reload.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert undeclared.value.code() == grpc.StatusCode.UNIMPLEMENTED
    buffered(recorder).flush()
    assert sum(len(metrics) for metrics, _ in recorder.updates) == 3


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFound("gone"), grpc.StatusCode.NOT_FOUND),
        (InvalidInput("bad"), grpc.StatusCode.INVALID_ARGUMENT),
        (ValueError("a bug of ours"), grpc.StatusCode.INTERNAL),
    ],
)
def test_grpc_failures_keep_their_own_code(
    grpc_server: tuple[ModelWithFaces, str], error: Exception, code: grpc.StatusCode
) -> None:
    model, endpoint = grpc_server
    model.recorded.fail_with = error
    with grpc.insecure_channel(endpoint) as channel:
        with pytest.raises(grpc.RpcError) as raised:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
                predict_pb2.PredictRequest(), timeout=10
            )
    assert raised.value.code() == code
    message = error.message if isinstance(error, ServingError) else "ValueError: a bug of ours"
    assert raised.value.details() == message
