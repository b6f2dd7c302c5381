"""The two TF Serving clients against the real backend: same answers, same errors, per process.

Retrying is checked against tiny servers that fail on purpose (the real backend cannot be made
to answer UNAVAILABLE once and then succeed); everything else talks to the real backend.
"""

from __future__ import annotations

import http.server
import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import grpc
import numpy as np
import pytest
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.codec.tensors import as_ndarray
from seldon_tfserving.errors import (
    InvalidInput,
    NotFound,
    ServingError,
    Unavailable,
)
from seldon_tfserving.model import tfserving_endpoint
from seldon_tfserving.settings import TfServingSettings
from seldon_tfserving.tfserving import client_for
from seldon_tfserving.tfserving.client import (
    EndpointSettings,
    ModelSignatures,
    ModelTarget,
    PredictCall,
    TfServingClient,
)
from seldon_tfserving.tfserving.grpc_client import TfServingGrpcClient
from seldon_tfserving.tfserving.rest_client import TfServingRestClient
from seldon_tfserving.tfserving.signatures import SignatureCache, select_signature
from tests.grpc_servers import serving
from tests.servers import Backend, free_port

HALF = ModelTarget("half_plus_two")


def endpoint_of(**parameters: Any) -> EndpointSettings:
    """The endpoint TfServingModel would call, given these Seldon parameters."""
    return tfserving_endpoint(TfServingSettings.from_parameters(**parameters))


def make_client(backend: Backend, transport: str, **overrides: Any) -> TfServingClient:
    settings = endpoint_of(
        model_name="half_plus_two",
        grpc_endpoint=backend.grpc_endpoint,
        rest_endpoint=backend.rest_endpoint,
        transport=transport,
        **overrides,
    )
    return client_for(settings)


@pytest.fixture(params=["grpc", "rest"])
def client(request: pytest.FixtureRequest, backend: Backend) -> Iterator[TfServingClient]:
    made = make_client(backend, request.param)
    yield made
    made.close()


def test_a_client_is_given_only_the_endpoint_its_transport_calls() -> None:
    parameters: dict[str, Any] = {
        "model_name": "m",
        "grpc_endpoint": "tf:9000",
        "rest_endpoint": "http://tf:9001/",
        "timeout_ms": 250,
        "max_retries": 1,
        "max_message_bytes": 1024,
    }
    over_grpc = endpoint_of(**parameters)
    assert over_grpc == EndpointSettings("tf:9000", "grpc", 250, 1, 1024)
    assert over_grpc.timeout_s == 0.25
    over_rest = endpoint_of(transport="REST", **parameters)
    assert over_rest == EndpointSettings("http://tf:9001", "rest", 250, 1, 1024)


def test_transport_picks_the_implementation(backend: Backend) -> None:
    assert isinstance(make_client(backend, "grpc"), TfServingGrpcClient)
    assert isinstance(make_client(backend, "rest"), TfServingRestClient)


def test_metadata_reads_every_signature_def(client: TfServingClient) -> None:
    signatures = client.metadata(HALF)
    assert (signatures.model_name, signatures.version) == ("half_plus_two", 123)
    default = select_signature(signatures, "serving_default")
    (x,) = default.inputs.values()
    assert (x.name, x.tensor_name, x.dtype, x.shape) == ("x", "x:0", types_pb2.DT_FLOAT, (-1, 1))
    assert {"regress_x_to_y", "classify_x_to_y"} <= set(signatures.signatures)
    with pytest.raises(ServingError, match='"nope" not found') as caught:
        select_signature(signatures, "nope")
    assert caught.value.http_status == 400


def test_labels_resolve_to_their_version(client: TfServingClient) -> None:
    assert client.metadata(ModelTarget("two_versions", label="stable")).version == 123
    assert client.metadata(ModelTarget("two_versions", label="canary")).version == 124
    assert client.metadata(ModelTarget("two_versions", version=123)).version == 123


def test_status_lists_each_version(client: TfServingClient) -> None:
    states = {s.version: s.state for s in client.status(ModelTarget("two_versions"))}
    assert states == {123: "AVAILABLE", 124: "AVAILABLE"}
    assert [s.version for s in client.status(ModelTarget("two_versions", version=124))] == [124]


def test_predict_takes_protos_and_arrays_and_answers_alike(client: TfServingClient) -> None:
    signature = select_signature(client.metadata(HALF), "serving_default")
    x = np.array([[1.0], [3.0]], dtype=np.float32)
    for tensor in (x, ndarray_to_tensor_proto(x)):
        result = client.predict(PredictCall(HALF, "serving_default", {"x": tensor}, (), signature))
        assert list(result.outputs) == ["y"]
        y = as_ndarray(result.outputs["y"])
        assert y.dtype == np.float32 and y.tolist() == [[2.5], [3.5]]
        assert result.signature_name == "serving_default" and result.duration_ms > 0


def test_unknown_models_are_not_found(client: TfServingClient) -> None:
    with pytest.raises(NotFound, match="nothing_here"):
        client.metadata(ModelTarget("nothing_here"))
    with pytest.raises(NotFound):
        client.status(ModelTarget("two_versions", version=5))


def test_tf_serving_json_bodies_answer_alike(client: TfServingClient) -> None:
    signature = select_signature(client.metadata(HALF), "serving_default")
    answer = client.predict_json(HALF, {"instances": [[1.0], [2.0]]}, signature)
    assert answer.body == {"predictions": [[2.5], [3.0]]}
    with pytest.raises(InvalidInput):
        client.predict_json(HALF, {"instances": [["text"]]}, signature)


def _predict_in_child(client: TfServingClient, results: Any) -> None:
    try:
        x = np.array([[4.0]], dtype=np.float32)
        signature = select_signature(client.metadata(HALF), "serving_default")
        result = client.predict(PredictCall(HALF, "serving_default", {"x": x}, (), signature))
        results.put(as_ndarray(result.outputs["y"]).tolist())
    except Exception as error:  # reported to the parent, which fails the test
        results.put(repr(error))


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_opens_its_own_connection(client: TfServingClient) -> None:
    """gunicorn forks workers after Seldon used the model: the child must not reuse our pool."""
    x = np.array([[1.0]], dtype=np.float32)
    signature = select_signature(client.metadata(HALF), "serving_default")
    call = PredictCall(HALF, "serving_default", {"x": x}, (), signature)
    client.predict(call)  # the parent's connection is open
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_predict_in_child, args=(client, results))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert results.get(timeout=5) == [[4.0]]  # x/2 + 2
    again = client.predict(call)  # the parent's connection still works
    assert as_ndarray(again.outputs["y"]).tolist() == [[2.5]]


# --- retries: only UNAVAILABLE (gRPC) / connection failures and 503 (REST) -------------------


def test_nothing_listening_is_unavailable_after_the_retries() -> None:
    port = free_port()
    for transport in ("grpc", "rest"):
        settings = endpoint_of(
            model_name="m",
            grpc_endpoint=f"127.0.0.1:{port}",
            rest_endpoint=f"http://127.0.0.1:{port}",
            transport=transport,
            max_retries=3,
        )
        started = time.monotonic()
        with pytest.raises(Unavailable, match="after 3 retries"):
            client_for(settings).status(ModelTarget("m"))
        assert time.monotonic() - started >= 0.025 + 0.05 + 0.1  # the backoff floor


class _FlakyPrediction(prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
    """Fails the first `failures` calls with `code`, then answers y = x."""

    def __init__(self, code: grpc.StatusCode, failures: int) -> None:
        self.code, self.failures, self.calls = code, failures, 0

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self.calls += 1
        if self.calls <= self.failures:
            context.abort(self.code, f"flaky call {self.calls}")
        response = predict_pb2.PredictResponse()
        response.outputs["y"].CopyFrom(request.inputs["x"])
        return response


@pytest.fixture
def flaky_grpc() -> Iterator[Callable[[grpc.StatusCode, int], tuple[_FlakyPrediction, str]]]:
    with ExitStack() as servers:

        def start(code: grpc.StatusCode, failures: int) -> tuple[_FlakyPrediction, str]:
            servicer = _FlakyPrediction(code, failures)
            add = prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server
            port = servers.enter_context(serving(add, servicer))
            return servicer, f"127.0.0.1:{port}"

        yield start


def _grpc_predict(endpoint: str, max_retries: int) -> list[float]:
    settings = endpoint_of(model_name="m", grpc_endpoint=endpoint, max_retries=max_retries)
    client = TfServingGrpcClient(settings)
    try:
        x = ndarray_to_tensor_proto(np.array([7.0], dtype=np.float32))
        result = client.predict(PredictCall(ModelTarget("m"), "serving_default", {"x": x}))
        return list(tensor_proto_to_ndarray(result.outputs["y"]).tolist())
    finally:
        client.close()


def test_grpc_retries_unavailable_until_it_answers(flaky_grpc: Any) -> None:
    servicer, endpoint = flaky_grpc(grpc.StatusCode.UNAVAILABLE, 2)
    assert _grpc_predict(endpoint, max_retries=2) == [7.0]
    assert servicer.calls == 3


def test_grpc_gives_up_after_max_retries(flaky_grpc: Any) -> None:
    servicer, endpoint = flaky_grpc(grpc.StatusCode.UNAVAILABLE, 5)
    with pytest.raises(Unavailable, match="flaky call 2"):
        _grpc_predict(endpoint, max_retries=1)
    assert servicer.calls == 2


def test_grpc_never_retries_other_failures(flaky_grpc: Any) -> None:
    servicer, endpoint = flaky_grpc(grpc.StatusCode.INVALID_ARGUMENT, 1)
    with pytest.raises(InvalidInput, match="flaky call 1"):
        _grpc_predict(endpoint, max_retries=3)
    assert servicer.calls == 1


class _FlakyRest(http.server.BaseHTTPRequestHandler):
    """Answers `status` with TF's error JSON for the first `failures` POSTs, then y = x."""

    status = 503
    failures = 2
    calls = 0

    def do_POST(self) -> None:  # noqa: N802
        type(self).calls += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).calls <= type(self).failures:
            body = json.dumps({"error": f"flaky call {type(self).calls}"}).encode()
            self.send_response(type(self).status)
        else:
            body = b'{"outputs": [7.0]}'
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("status", "calls", "error"), [(503, 3, None), (400, 1, InvalidInput)])
def test_rest_retries_503_only(status: int, calls: int, error: type[Exception] | None) -> None:
    handler = type("Handler", (_FlakyRest,), {"status": status, "failures": 2, "calls": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = endpoint_of(
            model_name="m",
            rest_endpoint=f"http://127.0.0.1:{server.server_address[1]}",
            transport="rest",
            max_retries=2,
        )
        call = PredictCall(ModelTarget("m"), "serving_default", {"x": np.array([7.0])})
        if error is None:
            result = TfServingRestClient(settings).predict(call)
            assert as_ndarray(result.outputs["outputs"]).tolist() == [7.0]
        else:
            with pytest.raises(error, match="flaky call 1"):
                TfServingRestClient(settings).predict(call)
        assert handler.calls == calls
    finally:
        server.shutdown()
        server.server_close()


# --- the signature cache ---------------------------------------------------------------------


def test_signatures_are_fetched_once_per_version_and_refreshed_when_the_version_moves() -> None:
    answers = iter([1, 2])
    fetched: list[ModelTarget] = []

    def fetch(target: ModelTarget) -> ModelSignatures:
        fetched.append(target)
        version = target.version or next(answers)
        return ModelSignatures(target.name, version, {})

    cache = SignatureCache(fetch)
    latest = ModelTarget("m")
    assert cache.get(latest).version == 1
    assert cache.get(latest).version == 1
    assert len(fetched) == 1
    cache.observe(latest, 1)  # same version answered: nothing to do
    assert cache.get(latest).version == 1 and len(fetched) == 1
    cache.observe(latest, 2)  # a new version answered: read its signature next time
    assert cache.resolved_version(latest) is None
    assert cache.get(latest).version == 2 and len(fetched) == 2
    pinned = ModelTarget("m", version=1)
    assert cache.get(pinned).version == 1 and len(fetched) == 2  # version 1 is cached
    cache.observe(pinned, 7)  # a pinned target never moves
    assert cache.resolved_version(pinned) == 1


def test_grpc_reaches_tf_serving_over_its_unix_socket(
    backend_factory: Callable[..., Backend], tfserving_testdata: Any, tmp_path: Any
) -> None:
    """A wrapper in TF Serving's pod can share a volume with it and skip TCP
    (tensorflow_model_server's --grpc_socket_path)."""
    socket_path = tmp_path / "tfserving.sock"
    backend_factory(
        [
            "--model_name=half_plus_two",
            f"--model_base_path={tfserving_testdata / 'saved_model_half_plus_two_cpu'}",
            f"--grpc_socket_path={socket_path}",
        ],
        ready_model="half_plus_two",
    )
    client = client_for(
        endpoint_of(model_name="half_plus_two", grpc_endpoint=f"unix:{socket_path}")
    )
    try:
        signature = select_signature(client.metadata(HALF), "serving_default")
        x = np.array([[1.0], [2.0], [5.0]], dtype=np.float32)
        result = client.predict(
            PredictCall(HALF, signature.name, {"x": ndarray_to_tensor_proto(x)})
        )
        np.testing.assert_allclose(as_ndarray(result.outputs["y"]), x / 2 + 2)
    finally:
        client.close()
