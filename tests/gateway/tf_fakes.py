"""Recorded stand-ins for graph components under `protocol: tensorflow`, in process.

They answer through the executor's client seam (`tf_clients`) what our components' TF faces
answer on the wire: a model scales `instances` into `predictions` (gRPC: its first input into
output `y`), a bandit router names the branch with the highest total reward as a SeldonMessage
(gRPC: a RouteResponse) and learns from Seldon feedback, a combiner averages `predictions`.
Every call is recorded, so a test reads what the walk sent to each node.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from google.protobuf.message import Message
from tensorflow_serving.apis import get_model_status_pb2, predict_pb2

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.gateway.component_client import ComponentFailure, ComponentMethod
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.graph_plan import NodePlan
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.gateway.tf_component_client import TfComponentClient, rest_path
from seldon_tfserving.gateway.tf_payload import TfPayload, TfTarget
from seldon_tfserving.protos import tensorflow_graph_pb2
from seldon_tfserving.transport import Transport

#: What each fake model multiplies by.
FACTORS = {"model-a": 1.0, "model-b": 10.0}


@dataclass(frozen=True)
class Call:
    node: str
    method: str
    path: str
    target: TfTarget
    body: Any


@dataclass
class FakeComponents:
    """Every fake node's record, and the bandit's state (shared by REST and gRPC clients)."""

    calls: list[Call] = field(default_factory=list)
    totals: dict[str, list[float]] = field(default_factory=dict)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def factory(self, plan: NodePlan, endpoint: ComponentEndpoint, transport: Transport) -> Any:
        client: TfComponentClient = FakeTfComponent(plan.node.name, self)
        return client

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def of(self, node: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.node == node]

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()
            self.feedback.clear()
            self.totals.clear()


def _refuse(node: str, message: str) -> ComponentFailure:
    body = json.dumps({"error": message}).encode()
    return ComponentFailure(node, 400, body, "application/json")


def _scaled(node: str, values: Any) -> np.ndarray[Any, Any]:
    """The model's answer; what TF Serving would refuse is a 400 in its shape."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise _refuse(node, f"{node} takes numbers only") from None
    if values is None or not np.isfinite(array).all():
        raise _refuse(node, f"{node} takes finite numbers only")
    if (array < 0).any():
        raise _refuse(node, f"{node} takes non-negative input only")
    return array * FACTORS[node]


class FakeTfComponent:
    """One node's fake TF face."""

    def __init__(self, node: str, shared: FakeComponents) -> None:
        self._node = node
        self._shared = shared

    def service_name(self, method: ComponentMethod, target: TfTarget) -> str:
        return rest_path(self._node, method, target)

    def call(
        self,
        method: ComponentMethod,
        payload: TfPayload | Sequence[TfPayload],
        headers: Mapping[str, str],
        target: TfTarget,
    ) -> TfPayload:
        path = rest_path(self._node, method, target)
        if not isinstance(payload, TfPayload):
            return self._aggregate(method, path, list(payload), target)
        if payload.is_proto:
            return self._grpc(method, path, payload.message(), target)
        document = payload.document()
        self._shared.record(Call(self._node, method, path, target, document))
        if method == "route":
            return TfPayload.from_document({"data": {"ndarray": [[self._route()]]}})
        values = document.get("instances", document.get("inputs"))
        return TfPayload.from_document({"predictions": _scaled(self._node, values).tolist()})

    def _grpc(self, method: str, path: str, request: Any, target: TfTarget) -> TfPayload:
        self._shared.record(Call(self._node, method, path, target, request))
        if method == "route":
            return TfPayload.from_proto(tensorflow_graph_pb2.RouteResponse(route=self._route()))
        first = next(iter(request.inputs.values()))
        answer = predict_pb2.PredictResponse()
        answer.model_spec.CopyFrom(request.model_spec)
        scaled = _scaled(self._node, tensor_proto_to_ndarray(first)).astype(np.float32)
        answer.outputs["y"].CopyFrom(ndarray_to_tensor_proto(scaled))
        return TfPayload.from_proto(answer)

    def _aggregate(
        self, method: str, path: str, children: list[TfPayload], target: TfTarget
    ) -> TfPayload:
        if children[0].is_proto:
            responses = [child.message() for child in children]
            self._shared.record(Call(self._node, method, path, target, responses))
            arrays = [tensor_proto_to_ndarray(r.outputs["y"]) for r in responses]
            answer = predict_pb2.PredictResponse()
            answer.outputs["y"].CopyFrom(ndarray_to_tensor_proto(np.mean(arrays, axis=0)))
            return TfPayload.from_proto(answer)
        body = b"[" + b",".join(child.json_bytes() for child in children) + b"]"
        documents = json.loads(body)
        self._shared.record(Call(self._node, method, path, target, documents))
        mean = np.mean([_scaled("model-a", d["predictions"]) for d in documents], axis=0)
        return TfPayload.from_document({"predictions": mean.tolist()})

    def _route(self) -> int:
        with self._shared.lock:
            totals = self._shared.totals.setdefault(self._node, [0.0, 0.0])
            return int(np.argmax(totals))

    def status(
        self, target: TfTarget, request: Message | None, headers: Mapping[str, str]
    ) -> TfPayload:
        self._shared.record(Call(self._node, "status", target.model_path(self._node), target, None))
        if request is not None:
            answer = get_model_status_pb2.GetModelStatusResponse()
            answer.model_version_status.add(
                version=1, state=get_model_status_pb2.ModelVersionStatus.AVAILABLE
            )
            return TfPayload.from_proto(answer)
        document = {"model_version_status": [{"version": "1", "state": "AVAILABLE"}]}
        return TfPayload.from_document(document)

    def metadata(
        self, target: TfTarget, request: Message | None, headers: Mapping[str, str]
    ) -> TfPayload:
        return TfPayload.from_document({"model_spec": {"name": self._node}, "metadata": {}})

    def send_feedback(self, feedback: Payload, headers: Mapping[str, str]) -> Payload:
        document = feedback.as_json()
        routing = ((document.get("response") or {}).get("meta") or {}).get("routing") or {}
        branch = routing.get(self._node)
        with self._shared.lock:
            self._shared.feedback.append({"node": self._node, "routing": branch, **document})
            totals = self._shared.totals.setdefault(self._node, [0.0, 0.0])
            if branch is not None and 0 <= int(branch) < len(totals):
                totals[int(branch)] += float(document.get("reward", 0))
        return Payload.from_json("message", b"{}")

    def close(self) -> None:
        return None
