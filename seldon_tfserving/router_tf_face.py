"""A router's decision on a TF Serving request: Seldon's executor's `POST /v1/models/<m>:route`
under `protocol: tensorflow`, and `seldon_tfserving.tfgraph.Router/Route` for our gateway.

The request's tensors are not read: the policy decides (sticky routes use the caller's
`Seldon-Puid`, TF bodies having no `meta.tags`). The REST reply is the SeldonMessage JSON the
executor's strict parse takes, the branch as `data.ndarray` [[n]] and the tags in `meta`.
Feedback keeps Seldon's `send-feedback` path. Seldon's own gRPC executor cannot call a
router under this protocol (its client panics): the gRPC face is for our gateway.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2

from seldon_tfserving.codec.seldon_route import route_reply_json
from seldon_tfserving.codec.tfserving_body_check import check_request_body
from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.microservice.tf_faces import CallerContext, ModelPath, TfAnswer
from seldon_tfserving.protos import tensorflow_graph_pb2
from seldon_tfserving.route_decision import DecideRoute, RouteDecision

#: Seldon's metrics `method` tag of a route (`seldon_core.metrics.ROUTER_METRIC_METHOD_TAG`).
ROUTER_METHOD = "router"


class RouterTfFace:
    """The `RouterFace` of one of our routers, given its policy's `decide`."""

    def __init__(self, decide: DecideRoute) -> None:
        self._decide_route = decide

    def _decide(self, caller: CallerContext) -> RouteDecision:
        return self._decide_route({"puid": caller.puid} if caller.puid else None)

    def rest_route(self, path: ModelPath, body: bytes, caller: CallerContext) -> TfAnswer:
        check_request_body(body)
        decision = self._decide(caller)
        reply = route_reply_json(decision.branch, decision.tags)
        return TfAnswer(reply, ROUTER_METHOD, decision.metrics)

    def grpc_route(self, request: Any, caller: CallerContext) -> TfAnswer:
        if request.WhichOneof("request") is None:
            raise InvalidInput(
                "a RouteRequest carries the client's TF Serving request (predict, classify, "
                "regress or multi_inference); this one holds none"
            )
        decision = self._decide(caller)
        tags = struct_pb2.Struct()
        tags.update(decision.tags)
        response = tensorflow_graph_pb2.RouteResponse(route=decision.branch, tags=tags)
        return TfAnswer(response, ROUTER_METHOD, decision.metrics)
