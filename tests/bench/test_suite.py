"""The TF-protocol targets' wiring: what each one sends where, what it accepts as an answer,
and which graphs and components the bench builds for them. Recording servers on loopback
stand in for the serving path here; the real path is run by test_command.py."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from seldon_tfserving.bench.graphs import (
    NAMESPACE,
    PREDICTOR,
    gateway_spec,
    graph_entries,
    tf_deployment_name,
)
from seldon_tfserving.bench.harness import CallFailed
from seldon_tfserving.bench.lineup import ReferenceClass, measures_gateway_floor, plan_targets
from seldon_tfserving.bench.models import BENCH_MODELS, INPUT_NAME, OUTPUT_NAME, SIGNATURE_NAME
from seldon_tfserving.bench.stack import WITH_TENSORFLOW_MICROSERVICE
from seldon_tfserving.bench.suite import (
    BATCHING_TARGET,
    FLOOR_TARGET,
    GATEWAY_FLOOR_TARGET,
    REFERENCE_GRPC_NDARRAY,
    REFERENCE_GRPC_TFTENSOR,
    REFERENCE_REST_NDARRAY,
    TARGET_GROUPS,
    TF_GRPC_FACE,
    TF_REST_FACE,
    TF_REST_FACE_REST_TRANSPORT,
    WRAPPER_REST_JSON_DATA_REST_TRANSPORT,
    WRAPPER_REST_NDARRAY,
    WRAPPER_REST_NDARRAY_REST_TRANSPORT,
    reference_parameters,
    tf_graph_targets,
    tf_wrapper_targets,
    wrapper_parameters,
    wrapper_targets,
)
from seldon_tfserving.bench.targets import Target
from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.gateway.endpoints import ServerAddress, endpoint_key
from seldon_tfserving.gateway.protocols import TENSORFLOW_PROTOCOL, deployment_protocol
from seldon_tfserving.grpc_runtime import EXPERIMENTS_VARIABLE, experiments_as_shipped
from seldon_tfserving.runner.launch import LOOPBACK
from seldon_tfserving.settings import TfServingSettings
from seldon_tfserving.transport import TRANSPORTS
from tests.bench.lineups import servers_at_one_address
from tests.grpc_servers import serving
from tests.servers import free_port

DENSE4 = BENCH_MODELS[0]
SCORES = [[0.2, 0.3, 0.5]]


@dataclass
class Recorder:
    """What a recording server was sent, and what it answers next."""

    requests: list[Any] = field(default_factory=list)
    scores: list[list[float]] = field(default_factory=lambda: SCORES)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _RestRecorder(BaseHTTPRequestHandler):
    recorder: Recorder

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.recorder.lock:
            self.recorder.requests.append((self.path, json.loads(body)))
        answer = json.dumps({"predictions": self.recorder.scores}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _GrpcRecorder(prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        with self.recorder.lock:
            self.recorder.requests.append((request, dict(context.invocation_metadata())))
        answer = predict_pb2.PredictResponse()
        answer.outputs[OUTPUT_NAME].CopyFrom(
            ndarray_to_tensor_proto(np.asarray(self.recorder.scores, np.float32))
        )
        return answer


@dataclass
class RecordingServer:
    """HTTP and gRPC on loopback, recording every TF predict call."""

    address: ServerAddress
    rest: Recorder
    grpc: Recorder


@contextmanager
def recording() -> Iterator[RecordingServer]:
    rest, grpc_recorder = Recorder(), Recorder()
    handler = type("Handler", (_RestRecorder,), {"recorder": rest})
    http = ThreadingHTTPServer((LOOPBACK, free_port()), handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    add = prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server
    try:
        with serving(add, _GrpcRecorder(grpc_recorder)) as grpc_port:
            yield RecordingServer(
                ServerAddress(LOOPBACK, http.server_address[1], grpc_port), rest, grpc_recorder
            )
    finally:
        http.shutdown()
        http.server_close()


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    with recording() as server:
        yield server


@pytest.fixture
def other_server() -> Iterator[RecordingServer]:
    with recording() as server:
        yield server


def call_once(target: Target) -> None:
    target.open_call()()


def test_the_wrapper_tf_targets_call_its_tf_faces_as_tf_servings_clients_do(
    recording_server: RecordingServer, other_server: RecordingServer
) -> None:
    grpc_transport, rest_transport = recording_server, other_server
    found = {
        t.name: t
        for t in tf_wrapper_targets(DENSE4, grpc_transport.address, rest_transport.address)
    }
    assert list(found) == [TF_GRPC_FACE, TF_REST_FACE, TF_REST_FACE_REST_TRANSPORT]
    assert [t.protocol for t in found.values()] == ["grpc", "rest", "rest"]

    call_once(found[TF_GRPC_FACE])
    [(request, _)] = grpc_transport.grpc.requests
    assert request.model_spec.name == DENSE4.name
    assert request.model_spec.signature_name == SIGNATURE_NAME
    sent = tensor_proto_to_ndarray(request.inputs[INPUT_NAME])
    np.testing.assert_array_equal(sent, DENSE4.payload())

    call_once(found[TF_REST_FACE])
    call_once(found[TF_REST_FACE_REST_TRANSPORT])
    expected = (f"/v1/models/{DENSE4.name}:predict", {"instances": DENSE4.payload().tolist()})
    assert grpc_transport.rest.requests == [expected], "the default wrapper's TF REST face"
    assert rest_transport.rest.requests == [expected], "the transport: rest wrapper's"
    assert rest_transport.grpc.requests == []


def test_seldons_rest_ndarray_goes_to_each_wrapper_as_seldons_clients_send_it(
    recording_server: RecordingServer, other_server: RecordingServer
) -> None:
    grpc_transport, rest_transport = recording_server, other_server
    found = {
        t.name: t for t in wrapper_targets(DENSE4, grpc_transport.address, rest_transport.address)
    }
    assert list(found)[:2] == [WRAPPER_REST_NDARRAY, WRAPPER_REST_NDARRAY_REST_TRANSPORT]
    for name in (WRAPPER_REST_NDARRAY, WRAPPER_REST_NDARRAY_REST_TRANSPORT):
        with pytest.raises(CallFailed):  # the recorder answers TF's JSON, not a SeldonMessage
            call_once(found[name])
    expected = ("/api/v1.0/predictions", {"data": {"ndarray": DENSE4.payload().tolist()}})
    assert grpc_transport.rest.requests == [expected], "the default wrapper's"
    assert rest_transport.rest.requests == [expected], "the transport: rest wrapper's"


def test_the_rest_transport_wrapper_is_configured_as_tfserving_model_reads_it() -> None:
    backend = ServerAddress(LOOPBACK, 9001, 9002)
    default = {p["name"]: p["value"] for p in wrapper_parameters(DENSE4, backend)}
    assert TfServingSettings.from_parameters(**default).transport == "grpc"
    over_rest = {p["name"]: p["value"] for p in wrapper_parameters(DENSE4, backend, "rest")}
    settings = TfServingSettings.from_parameters(**over_rest)
    assert settings.transport == "rest"
    assert settings.rest_endpoint == backend.http_url
    assert settings.model_name == DENSE4.name


def test_every_answer_is_checked_not_only_the_first(recording_server: RecordingServer) -> None:
    address = recording_server.address
    rest, grpc_face = (
        {t.name: t for t in tf_wrapper_targets(DENSE4, address, address)}[name]
        for name in (TF_REST_FACE, TF_GRPC_FACE)
    )
    rest_call, grpc_call = rest.open_call(), grpc_face.open_call()
    rest_call()
    grpc_call()
    recording_server.rest.scores = [[0.9, 0.9, 0.9]]  # no longer softmax scores
    recording_server.grpc.scores = [[0.5], [0.5]]  # two rows for one
    for call in (rest_call, grpc_call):
        with pytest.raises(CallFailed) as failed:
            call()
        assert failed.value.kind == "wrong answer"


def test_tf_graph_targets_reach_each_deployment_by_url_and_by_metadata(
    recording_server: RecordingServer,
) -> None:
    base = recording_server.address.http_url
    entries = graph_entries([DENSE4], base, recording_server.address.grpc_target, with_tf=True)
    found = {t.name: t for t in tf_graph_targets(DENSE4, entries[DENSE4.name])}
    assert list(found) == [
        "graph tf single rest",
        "graph tf single grpc",
        "graph tf ab rest",
        "graph tf ab grpc",
    ]
    for target in found.values():
        call_once(target)
    assert [path for path, _ in recording_server.rest.requests] == [
        f"/seldon/{NAMESPACE}/{DENSE4.name}-tf-{kind}-rest/v1/models/{DENSE4.name}:predict"
        for kind in ("single", "ab")
    ]
    routed = [(m["seldon"], m["namespace"]) for _, m in recording_server.grpc.requests]
    assert routed == [(f"{DENSE4.name}-tf-{kind}-grpc", NAMESPACE) for kind in ("single", "ab")]
    assert all(r.model_spec.name == DENSE4.name for r, _ in recording_server.grpc.requests)


def test_without_the_tf_groups_the_gateway_serves_no_tf_graph() -> None:
    entries = graph_entries([DENSE4], "http://h:1", "h:2", with_tf=False)
    assert tf_graph_targets(DENSE4, entries[DENSE4.name]) == []
    spec = gateway_spec(
        [DENSE4],
        {DENSE4.name: ServerAddress(LOOPBACK, 1, 2)},
        ServerAddress(LOOPBACK, 3, 4),
        ServerAddress(LOOPBACK, 5, 6),
    )
    assert all("protocol" not in doc["spec"] for doc in spec["deployments"])


def test_tf_graphs_are_tensorflow_deployments_over_the_wrapper_of_their_transport() -> None:
    grpc_transport = ServerAddress(LOOPBACK, 1, 2)
    rest_transport = ServerAddress(LOOPBACK, 3, 4)
    router, combiner = ServerAddress(LOOPBACK, 5, 6), ServerAddress(LOOPBACK, 7, 8)
    spec = gateway_spec(
        [DENSE4], {DENSE4.name: grpc_transport}, router, combiner, {DENSE4.name: rest_transport}
    )
    deployments = {doc["metadata"]["name"]: parse_deployment(doc) for doc in spec["deployments"]}
    tf_names = {
        tf_deployment_name(DENSE4, kind, transport)
        for kind in ("single", "ab")
        for transport in TRANSPORTS
    }
    assert tf_names < set(deployments)
    for name, deployment in deployments.items():
        assert (deployment_protocol(deployment) == TENSORFLOW_PROTOCOL) == (name in tf_names)
    endpoints = spec["endpoints"]
    wrapper_of = {"rest": rest_transport, "grpc": grpc_transport}
    for transport in TRANSPORTS:
        wrapper = wrapper_of[transport]
        single = tf_deployment_name(DENSE4, "single", transport)
        ab = tf_deployment_name(DENSE4, "ab", transport)
        assert endpoints[endpoint_key(single, PREDICTOR, "model")]["http_port"] == wrapper.http_port
        for child in ("a", "b"):
            assert endpoints[endpoint_key(ab, PREDICTOR, child)]["grpc_port"] == wrapper.grpc_port
        assert endpoints[endpoint_key(ab, PREDICTOR, "router")]["http_port"] == router.http_port
        root = deployments[ab].predictors[0].graph
        assert (root.type, [c.name for c in root.children]) == ("ROUTER", ["a", "b"])


def test_a_run_plans_each_models_targets_in_the_groups_order() -> None:
    models = BENCH_MODELS[:2]
    servers = servers_at_one_address(models, with_router=False)
    groups = {"direct", "wrapper", "tf-wrapper", "graph", "tf-graph"}
    plan = plan_targets(models, groups, servers, quick=True)
    assert [m.name for m, _ in plan] == [models[0].name] * 19 + [models[1].name] * 19
    assert [t.name for m, t in plan if m is models[0]] == [
        "tfserving grpc",
        "python grpc hop (floor)",
        "tfserving rest",
        "wrapper rest ndarray",
        WRAPPER_REST_NDARRAY_REST_TRANSPORT,
        "wrapper rest jsonData",
        WRAPPER_REST_JSON_DATA_REST_TRANSPORT,
        "wrapper grpc ndarray",
        "wrapper grpc tftensor",
        TF_GRPC_FACE,
        TF_REST_FACE,
        TF_REST_FACE_REST_TRANSPORT,
        "graph single rest",  # --quick: the Seldon graphs over REST only
        "graph ab rest",
        "graph ensemble rest",
        "graph tf single rest",  # the TF graphs over both
        "graph tf single grpc",
        "graph tf ab rest",
        "graph tf ab grpc",
    ]
    only_tf = plan_targets(models, {"tf-wrapper"}, servers, quick=False)
    assert [t.name for _, t in only_tf][:3] == [
        TF_GRPC_FACE,
        TF_REST_FACE,
        TF_REST_FACE_REST_TRANSPORT,
    ]
    assert len(only_tf) == 6


def test_the_graph_group_measures_the_floor_under_the_gateways_grpc_hop_unless_quick() -> None:
    models = BENCH_MODELS[:1]
    servers = servers_at_one_address(models, with_router=True)
    full = [t.name for _, t in plan_targets(models, {"graph"}, servers, quick=False)]
    assert full[:4] == [
        "router rest ndarray",
        "router grpc tftensor",
        GATEWAY_FLOOR_TARGET,  # after the components the graphs call, before the graphs
        "graph single rest",
    ]
    quick = [t.name for _, t in plan_targets(models, {"graph"}, servers, quick=True)]
    assert GATEWAY_FLOOR_TARGET not in quick, "--quick: no gRPC through the gateway either"


def test_every_planned_target_names_the_process_it_calls_whose_cpu_is_read() -> None:
    (dense,) = BENCH_MODELS[:1]
    servers = dataclasses.replace(
        servers_at_one_address([dense], with_router=True, with_reference=True),
        batching_backend=ServerAddress(LOOPBACK, 1, 2),
    )
    calls = {
        target.name: target.process
        for _, target in plan_targets([dense], TARGET_GROUPS, servers, quick=False)
    }
    assert None not in calls.values()
    assert calls["tfserving grpc"] == calls["tfserving rest"] == "backend"
    assert calls[FLOOR_TARGET] == "forwarder"
    assert calls[BATCHING_TARGET] == "backend-batching"
    assert calls[WRAPPER_REST_NDARRAY] == calls[TF_GRPC_FACE] == "wrapper-dense4"
    assert calls[WRAPPER_REST_NDARRAY_REST_TRANSPORT] == "wrapper-rest-dense4"
    assert calls[TF_REST_FACE_REST_TRANSPORT] == "wrapper-rest-dense4"
    assert calls[REFERENCE_GRPC_TFTENSOR] == "reference-dense4"
    assert calls["router grpc tftensor"] == "router"
    assert calls[GATEWAY_FLOOR_TARGET] == "forwarder-wrapper-dense4"
    assert calls["graph ab rest"] == calls["graph tf single grpc"] == "gateway"


def test_the_wrappers_forwarders_are_started_only_where_the_floor_is_measured() -> None:
    """start_servers and plan_targets ask the same rule: no idle forwarder under --quick."""
    assert measures_gateway_floor({"graph", "wrapper"}, quick=False)
    assert not measures_gateway_floor({"graph"}, quick=True)
    assert not measures_gateway_floor({"wrapper", "direct"}, quick=False)


def test_a_reference_class_is_measured_after_the_wrapper_on_the_same_bodies() -> None:
    models = BENCH_MODELS[:1]
    servers = servers_at_one_address(models, with_router=False, with_reference=True)
    names = [t.name for _, t in plan_targets(models, {"wrapper"}, servers, quick=False)]
    assert names[-3:] == [REFERENCE_REST_NDARRAY, REFERENCE_GRPC_NDARRAY, REFERENCE_GRPC_TFTENSOR]
    alone = plan_targets(models, {"direct"}, servers, quick=False)
    assert [t.name for _, t in alone][-3:] == names[-3:], "measured whatever else is"


def test_a_reference_class_takes_tfservingproxys_parameters_for_the_same_model() -> None:
    backend = ServerAddress(LOOPBACK, 8501, 8500)
    (model,) = BENCH_MODELS[:1]
    given = {p["name"]: p["value"] for p in reference_parameters(model, backend)}
    # Seldon v1.18.2's servers/tfserving_proxy/TfServingProxy.py: TfServingProxy.__init__
    assert set(given) == {
        "rest_endpoint",
        "grpc_endpoint",
        "model_name",
        "signature_name",
        "model_input",
        "model_output",
    }
    assert (given["model_name"], given["grpc_endpoint"]) == (model.name, backend.grpc_target)
    wrapper = {p["name"]: p["value"] for p in wrapper_parameters(model, backend)}
    assert all(wrapper[name] == value for name, value in given.items()), "the wrapper's own"


def test_a_reference_class_is_a_file_named_as_its_class_run_by_seldons_entrypoint(
    tmp_path: Path,
) -> None:
    source = tmp_path / "TfServingProxy.py"
    source.write_text("class TfServingProxy: ...\n")
    reference = ReferenceClass.of_file(source)
    spec = reference.component(BENCH_MODELS[0], ServerAddress(LOOPBACK, 1, 2), threads=8)
    assert (spec.interface, spec.threads) == ("TfServingProxy", 8)
    assert spec.env["PYTHONPATH"] == str(tmp_path)
    assert spec.program == WITH_TENSORFLOW_MICROSERVICE, "as Seldon runs it"
    assert spec.env[EXPERIMENTS_VARIABLE] == experiments_as_shipped(), "gRPC as Seldon ships it"
    for wrong, why in [
        (tmp_path / "missing.py", "no such file"),
        (tmp_path / "tf-serving-proxy.py", "NAME.py"),
        (tmp_path / "TfServingProxy.txt", "NAME.py"),
    ]:
        with pytest.raises(ValueError, match=why):
            ReferenceClass.of_file(wrong)
