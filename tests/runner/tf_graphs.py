"""The `protocol: tensorflow` graphs of graphs/, run unchanged by `LocalRunner`, and called as
TF Serving's users call TF Serving: plain HTTP and TF Serving's own gRPC stubs.

Each graph's models volume is built from TF Serving's test models, under the names its
ModelServerConfig expects; the referee of every answer is the graph's own TF Serving (our
backend), asked directly for the servable the answering node pins.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import requests
import tensorflow as tf
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from seldon_tfserving.deploy.model import SeldonDeployment
from seldon_tfserving.gateway.endpoints import ServerAddress
from seldon_tfserving.gateway.settings import GatewaySettings
from seldon_tfserving.runner.local import LocalRunner
from seldon_tfserving.runner.plan import ComponentProcess
from tests.servers import PROJECT_ROOT, TFSERVING_TESTDATA

GRAPHS = PROJECT_ROOT / "graphs"
TIMEOUT_S = 30
#: A TfServingModel's own deadline on TF Serving (its `timeout_ms` default), then 504.
WRAPPER_TIMEOUT_MS = 5000
#: The gateway's deadline on a component: past the wrappers' own, so theirs answer first.
COMPONENT_TIMEOUT_S = 10.0
#: TF Serving's test SavedModels (x -> y), by what they compute.
HALF_PLUS_TWO = "saved_model_half_plus_two_cpu/00000123"  # 0.5 x + 2
HALF_PLUS_THREE = "saved_model_half_plus_three/00000123"  # 0.5 x + 3
#: 0.5 x + 2 as well, exported with more signatures (x2 -> y3 among them)
HALF_PLUS_TWO_MORE_SIGNATURES = "saved_model_half_plus_two_2_versions/00000124"

#: model name -> version -> the test model served as that version
ModelsLayout = Mapping[str, Mapping[int, str]]


def models_volume(root: Path, layout: ModelsLayout) -> Path:
    """A TF Serving models folder (`<root>/<model>/<version>/`) of symlinks to test models."""
    for model, versions in layout.items():
        for version, source in versions.items():
            target = root / model / str(version)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(TFSERVING_TESTDATA / source)
    return root


@contextmanager
def running_graph(file_name: str, layout: ModelsLayout, scratch: Path) -> Iterator[TfGraph]:
    """`up` graphs/<file_name> with its models volume; everything stops on leaving."""
    volume = models_volume(scratch / "models", layout)
    with LocalRunner(
        GRAPHS / file_name,
        volumes={"models": volume},
        log_dir=scratch / "logs",
        ready_timeout=240,
        gateway_settings=GatewaySettings(component_timeout_s=COMPONENT_TIMEOUT_S),
    ) as runner:
        yield TfGraph(runner)


@dataclass
class TfGraph:
    """One running TF-protocol graph: its gateway, its TF Serving, its components."""

    runner: LocalRunner

    @property
    def deployment(self) -> SeldonDeployment:
        assert self.runner.plan is not None
        return self.runner.plan.deployments[0]

    @property
    def base_url(self) -> str:
        deployment = self.deployment
        return f"{self.runner.http_url}/seldon/{deployment.namespace}/{deployment.name}"

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The gRPC metadata that routes a call to this deployment, as Istio's would."""
        return (("seldon", self.deployment.name), ("namespace", self.deployment.namespace))

    @property
    def tfserving(self) -> ServerAddress:
        """The graph's TF Serving (its one backend), to ask directly."""
        assert self.runner.plan is not None
        (backend,) = self.runner.plan.backends
        assert backend.rest_port is not None
        return ServerAddress("127.0.0.1", backend.rest_port, backend.grpc_port)

    def component(self, node: str) -> ComponentProcess:
        assert self.runner.plan is not None
        return next(c for c in self.runner.plan.components if c.key.endswith(f"/{node}"))

    def post(self, path: str, body: Any, **headers: str) -> requests.Response:
        """POST `body` (JSON, or bytes as they are) to the graph's `path`."""
        return _post(self.base_url + path, body, headers)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base_url + path, timeout=TIMEOUT_S)

    def direct_post(self, path: str, body: Any) -> requests.Response:
        """The same POST to the graph's TF Serving itself."""
        return _post(self.tfserving.http_url + path, body, {})

    def direct_get(self, path: str) -> requests.Response:
        return requests.get(self.tfserving.http_url + path, timeout=TIMEOUT_S)

    def signal_tfserving(self, signum: signal.Signals) -> None:
        """Send `signum` to the graph's TF Serving process group (SIGSTOP freezes it)."""
        assert self.runner.plan is not None
        (backend,) = self.runner.plan.backends
        pid = self.runner.child(backend.name).pid
        assert pid is not None
        os.killpg(pid, signum)

    @contextmanager
    def stubs(self) -> Iterator[TfStubs]:
        """TF Serving's stubs on the gateway's gRPC port."""
        with grpc.insecure_channel(self.runner.grpc_target) as channel:
            yield TfStubs(channel)

    @contextmanager
    def direct_stubs(self) -> Iterator[TfStubs]:
        """TF Serving's stubs on the graph's TF Serving itself."""
        with grpc.insecure_channel(self.tfserving.grpc_target) as channel:
            yield TfStubs(channel)


class TfStubs:
    """TF Serving's PredictionService and ModelService on one channel."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        self.prediction = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(channel)


def _post(url: str, body: Any, headers: Mapping[str, str]) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **headers}
    return requests.post(url, data=data, headers=sent, timeout=TIMEOUT_S)


def routing_of(answer: requests.Response) -> dict[str, int]:
    """The routing the graph took, from the gateway's `Seldon-Routing` header."""
    routing: dict[str, int] = json.loads(answer.headers["Seldon-Routing"])
    return routing


def grpc_routing(call: Any) -> dict[str, int]:
    """The routing the graph took, from the `seldon-routing` trailing metadata."""
    routing: dict[str, int] = json.loads(dict(call.trailing_metadata())["seldon-routing"])
    return routing


def grpc_puid(call: Any) -> str:
    return str(dict(call.initial_metadata())["seldon-puid"])


def predict_request(
    values: Any, name: str = "half_plus_two", version: int | None = None, label: str = ""
) -> predict_pb2.PredictRequest:
    """TF Serving's PredictRequest of float32 `x`, as its users build it."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    elif label:
        request.model_spec.version_label = label
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.asarray(values, dtype=np.float32)))
    return request


def outputs_of(response: Any) -> dict[str, list[Any]]:
    """A PredictResponse's outputs as lists, whichever TensorProto field holds them."""
    return {name: tf.make_ndarray(t).tolist() for name, t in response.outputs.items()}


def grpc_outcome(call: Any, request: Any, **kwargs: Any) -> tuple[grpc.StatusCode, Any]:
    """(OK, the response) or (the error's code, its details)."""
    try:
        return grpc.StatusCode.OK, call(request, timeout=TIMEOUT_S, **kwargs)
    except grpc.RpcError as error:
        return error.code(), error.details()


# -- fuzzing ---------------------------------------------------------------------------------


def fuzzed(examples: int) -> settings:
    """Hypothesis settings for calls into a running graph: no per-example deadline (a
    shared machine), the module's graph fixture reused by every example."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


#: gRPC codes a bad request must never get: the server's own failures, or a hang.
SERVER_FAILURES = frozenset(
    {
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.DATA_LOSS,
    }
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers(-(2**70), 2**70) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
_KEYS = st.sampled_from(
    ["instances", "inputs", "signature_name", "examples", "context", "reward", "response", "x"]
)
#: Bodies for any REST route: bytes, and JSON objects of TF's and Seldon's keys, NaN included.
BAD_BODIES = st.one_of(
    st.binary(max_size=48),
    st.dictionaries(_KEYS, _JSON, max_size=3).map(lambda d: json.dumps(d).encode()),
    st.lists(_JSON, max_size=3).map(lambda d: json.dumps(d).encode()),
)
_SPECS: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["", "half_plus_two", "nope"]),
        "signature": st.sampled_from(["", "serving_default", "regress_x_to_y", "zz"]),
        "version": st.one_of(st.none(), st.integers(-2, 4)),
        "label": st.sampled_from(["", "stable", "canary", "q"]),
    }
)
_TENSORS: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {
        "key": st.sampled_from(["x", "inputs", ""]),
        "dtype": st.integers(0, 30),
        "dims": st.lists(st.integers(-2, 4), max_size=3),
        "floats": st.lists(st.floats(width=32), max_size=6),
        "ints": st.lists(st.integers(-(2**31), 2**31 - 1), max_size=4),
        "content": st.binary(max_size=16),
    }
)


@st.composite
def bad_predict_requests(draw: st.DrawFn) -> predict_pb2.PredictRequest:
    """PredictRequests that parse, with any model_spec and mistyped, misshapen tensors."""
    spec = draw(_SPECS)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = spec["name"]
    request.model_spec.signature_name = spec["signature"]
    if spec["version"] is not None:
        request.model_spec.version.value = spec["version"]
    elif spec["label"]:
        request.model_spec.version_label = spec["label"]
    for tensor in draw(st.lists(_TENSORS, max_size=2)):
        proto = request.inputs[tensor["key"]]
        proto.dtype = tensor["dtype"]
        for size in tensor["dims"]:
            proto.tensor_shape.dim.add().size = size
        proto.float_val.extend(tensor["floats"])
        proto.int_val.extend(tensor["ints"])
        if tensor["content"]:
            proto.tensor_content = tensor["content"]
    return request


def assert_rest_is_never_a_5xx(graph: TfGraph, route: str, body: bytes) -> None:
    """A fuzzed body into a graph's REST route is refused as the client's fault, or served."""
    answer = graph.post(route, body)
    assert answer.status_code < 500, (answer.status_code, answer.text)


def assert_grpc_is_never_a_server_failure(graph: TfGraph, request: Any) -> None:
    """A fuzzed PredictRequest into a graph's gRPC Predict never gets a server's failure."""
    with graph.stubs() as stubs:
        code, details = grpc_outcome(stubs.prediction.Predict, request, metadata=graph.metadata)
    assert code not in SERVER_FAILURES, (code, details)
