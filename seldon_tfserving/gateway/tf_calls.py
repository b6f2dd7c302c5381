"""TF Serving's protocol for the graph walk (`spec.protocol: tensorflow`).

Nodes are called as the executor calls them (tf_component_client.py), answers are chained as
ChainTensorflow does (tf_chain.py), a REST router's answer is read as the executor reads it (a
SeldonMessage whose data names the branch), a gRPC one's from our RouteResponse. Ours beyond
the executor: AVERAGE_COMBINER averages `predictions` / `outputs`, and feedback reaches the
routers (a MODEL node is a TF model, which takes none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from tensorflow_serving.apis import predict_pb2

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.gateway.component_client import ComponentMethod
from seldon_tfserving.gateway.context import RequestContext
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.graph_plan import NodePlan
from seldon_tfserving.gateway.node_calls import build_clients, transport_for
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.gateway.routing import route_of
from seldon_tfserving.gateway.tf_chain import chain
from seldon_tfserving.gateway.tf_component_client import TfComponentClient
from seldon_tfserving.gateway.tf_payload import TfPayload
from seldon_tfserving.transport import Transport

TfClientFactory = Callable[[NodePlan, ComponentEndpoint, Transport], TfComponentClient]


class TfNodeCalls:
    """Calls each node in TF Serving's protocol, through the clients `client_factory` makes."""

    protocol = "tensorflow"

    def __init__(
        self,
        root: NodePlan,
        endpoints: Mapping[str, ComponentEndpoint],
        client_factory: TfClientFactory,
        follow_request: bool,
    ) -> None:
        self._endpoints = endpoints
        self._follow_request = follow_request
        self._clients = build_clients(root, endpoints, client_factory)

    def client(self, plan: NodePlan, ctx: RequestContext) -> TfComponentClient:
        return self._clients[(plan.key, self.transport_for(plan, ctx))]

    def call(
        self,
        plan: NodePlan,
        method: ComponentMethod,
        payload: TfPayload | Sequence[TfPayload],
        ctx: RequestContext,
    ) -> TfPayload:
        client = self.client(plan, ctx)
        return client.call(method, payload, ctx.component_headers(), ctx.tf_target)

    def service_name(self, plan: NodePlan, method: ComponentMethod, ctx: RequestContext) -> str:
        return self.client(plan, ctx).service_name(method, ctx.tf_target)

    def transport_for(self, plan: NodePlan, ctx: RequestContext) -> Transport:
        return transport_for(plan, ctx, self._endpoints, self._follow_request)

    def chain(self, plan: NodePlan, payload: TfPayload, ctx: RequestContext) -> TfPayload:
        return chain(plan.node.name, payload, ctx.tf_target)

    def route(self, plan: NodePlan, answer: TfPayload) -> int:
        if answer.is_proto:
            return int(answer.message().route)
        return route_of(plan.node.name, Payload.from_json("message", answer.json_bytes()))

    def average(self, plan: NodePlan, outputs: list[TfPayload]) -> TfPayload:
        if outputs[0].is_proto:
            return _average_grpc(plan.node.name, outputs)
        return _average_rest(plan.node.name, outputs)

    def takes_feedback(self, plan: NodePlan) -> bool:
        return plan.routes or "SEND_FEEDBACK" in plan.node.methods

    def send_feedback(self, plan: NodePlan, feedback: Payload, ctx: RequestContext) -> Payload:
        return self.client(plan, ctx).send_feedback(feedback, ctx.component_headers())

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def _mean(node: str, arrays: list[np.ndarray[Any, Any]], what: str) -> np.ndarray[Any, Any]:
    if any(array.shape != arrays[0].shape for array in arrays):
        shapes = [list(array.shape) for array in arrays]
        raise InvalidInput(f"{node}: AVERAGE_COMBINER children disagree on {what}: {shapes}")
    mean: np.ndarray[Any, Any] = np.mean(np.stack(arrays), axis=0)
    return mean


def _numbers(node: str, value: Any, what: str) -> np.ndarray[Any, Any]:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{node}: AVERAGE_COMBINER needs numbers in {what}") from None


def _average_rest(node: str, outputs: list[TfPayload]) -> TfPayload:
    documents = [output.document() for output in outputs]
    if all(isinstance(d, dict) and "predictions" in d for d in documents):
        arrays = [_numbers(node, d["predictions"], "predictions") for d in documents]
        mean = _mean(node, arrays, "predictions")
        return TfPayload.from_document({"predictions": mean.tolist()}, outputs[0].content_type)
    if all(isinstance(d, dict) and isinstance(d.get("outputs"), dict) for d in documents):
        names = documents[0]["outputs"].keys()
        averaged = {}
        for name in names:
            arrays = [_numbers(node, d["outputs"].get(name), name) for d in documents]
            averaged[name] = _mean(node, arrays, name).tolist()
        return TfPayload.from_document({"outputs": averaged}, outputs[0].content_type)
    raise InvalidInput(f"{node}: AVERAGE_COMBINER needs every child to answer predictions")


def _average_grpc(node: str, outputs: list[TfPayload]) -> TfPayload:
    answers = [output.message() for output in outputs]
    if not all(isinstance(answer, predict_pb2.PredictResponse) for answer in answers):
        raise InvalidInput(f"{node}: AVERAGE_COMBINER averages PredictResponses only")
    result = predict_pb2.PredictResponse()
    result.model_spec.CopyFrom(answers[0].model_spec)
    for name in answers[0].outputs:
        if not all(name in answer.outputs for answer in answers):
            raise InvalidInput(f"{node}: AVERAGE_COMBINER children disagree on output {name!r}")
        arrays = [tensor_proto_to_ndarray(answer.outputs[name]) for answer in answers]
        if not all(np.issubdtype(array.dtype, np.number) for array in arrays):
            raise InvalidInput(f"{node}: AVERAGE_COMBINER needs numbers in {name}")
        mean = _mean(node, [array.astype(np.float64) for array in arrays], name)
        dtype = arrays[0].dtype if np.issubdtype(arrays[0].dtype, np.floating) else np.float64
        result.outputs[name].CopyFrom(ndarray_to_tensor_proto(mean.astype(dtype)))
    return TfPayload.from_proto(result)
