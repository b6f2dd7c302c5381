"""What a class of ours answers of TF Serving's protocol: the one interface a class implements
to be served, beside Seldon's API, on the microservice's own HTTP and gRPC ports.

A class opts in with `tf_faces()`, naming the faces it has: a model's (TF Serving's
PredictionService and ModelService, REST and gRPC), a router's (`:route`,
`tfgraph.Router/Route`) or a combiner's (`:aggregate`, `tfgraph.Combiner/Aggregate`). Faces
take bodies and protos and give answers; the hosting (`tf_rest`, `tf_grpc`) owns the wire.
No TensorFlow here: a router's process imports what its faces use, when they are built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

#: A POST of TF Serving's REST API that a model answers.
InferenceVerb = Literal["predict", "classify", "regress"]
#: One of Seldon's custom metrics (`{"type", "key", "value", "tags"}`), recorded by the host.
Metric = dict[str, Any]


class MetricsSink(Protocol):
    """Where the host records a face's Seldon metrics (`BufferedSeldonMetrics`)."""

    def update(self, custom_metrics: list[Metric], method: str) -> None: ...


@dataclass(frozen=True)
class ModelPath:
    """The servable a TF Serving URL names: `/v1/models/<name>[/versions/<n>|/labels/<l>]`."""

    name: str
    version: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class CallerContext:
    """What the caller said besides its request: Seldon's request id, if it sent one (the
    executor forwards `Seldon-Puid` as a header, gRPC metadata `seldon-puid`)."""

    puid: str | None = None


@dataclass(frozen=True)
class TfAnswer:
    """A face's answer (REST: TF Serving's JSON bytes; gRPC: the response proto) and the
    Seldon metrics to record for it under the `method` tag."""

    body: Any
    method: str
    metrics: Sequence[Metric] = field(default_factory=tuple)


class ModelFace(Protocol):
    """TF Serving's API for one model: REST bodies in and out, gRPC protos in and out."""

    def rest_infer(self, verb: InferenceVerb, path: ModelPath, body: bytes) -> TfAnswer: ...

    def rest_status(self, path: ModelPath) -> TfAnswer: ...

    def rest_metadata(self, path: ModelPath) -> TfAnswer: ...

    def grpc(self, method: str, request: Any) -> TfAnswer:
        """`method` is PredictionService's or ModelService's method name (`Predict`, ...)."""
        ...


class RouterFace(Protocol):
    """A router's decision on a TF Serving request: `:route` (a SeldonMessage JSON naming
    the child) and `tfgraph.Router/Route` (a RouteResponse)."""

    def rest_route(self, path: ModelPath, body: bytes, caller: CallerContext) -> TfAnswer: ...

    def grpc_route(self, request: Any, caller: CallerContext) -> TfAnswer: ...


class CombinerFace(Protocol):
    """A combiner over the children's TF Serving answers: `:aggregate` (a JSON array of
    their bodies) and `tfgraph.Combiner/Aggregate` (their PredictResponses)."""

    def rest_aggregate(self, path: ModelPath, body: bytes) -> TfAnswer: ...

    def grpc_aggregate(self, request: Any) -> TfAnswer: ...


@dataclass(frozen=True)
class TfFaces:
    """The faces a class has; the host serves the routes and services of those given."""

    model: ModelFace | None = None
    router: RouterFace | None = None
    combiner: CombinerFace | None = None
    #: a REST body announced larger than this is refused (413) before it is read
    max_request_bytes: int | None = None


@runtime_checkable
class ServesTfProtocol(Protocol):
    """A class that answers TF Serving's protocol too."""

    def tf_faces(self) -> TfFaces: ...


def tf_faces_of(user_model: Any) -> TfFaces | None:
    """The TF faces `user_model` declares, or None when it speaks only Seldon's protocol."""
    if isinstance(user_model, ServesTfProtocol):
        return user_model.tf_faces()
    return None
