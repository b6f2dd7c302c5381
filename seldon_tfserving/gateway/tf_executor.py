"""The graph walk under `protocol: tensorflow`, with what only this protocol asks of a graph:
a node's model status and metadata (the executor's Status and Metadata), and readiness that
waits for every MODEL node's TF model to be AVAILABLE (the executor only dials a port)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping

from google.protobuf.message import Message
from tensorflow_serving.apis import get_model_status_pb2

from seldon_tfserving.deploy.model import Predictor, SeldonDeployment
from seldon_tfserving.errors import NotFound, ServingError
from seldon_tfserving.gateway.context import RequestContext
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.executor import GraphExecutor
from seldon_tfserving.gateway.fan_out import FanOut
from seldon_tfserving.gateway.graph_plan import NodePlan, plan_node
from seldon_tfserving.gateway.liveness import DownComponents
from seldon_tfserving.gateway.metrics import GatewayMetrics
from seldon_tfserving.gateway.request_logger import RequestLogger
from seldon_tfserving.gateway.tf_calls import TfClientFactory, TfNodeCalls
from seldon_tfserving.gateway.tf_payload import TfPayload, TfTarget
from seldon_tfserving.transport import Transport

_AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE


class TfPredictorExecutor(GraphExecutor[TfPayload]):
    """One predictor's graph, walked in TF Serving's protocol."""

    def __init__(
        self,
        deployment: SeldonDeployment,
        predictor: Predictor,
        endpoints: Mapping[str, ComponentEndpoint],
        client_factory: TfClientFactory,
        request_logger: RequestLogger,
        metrics: GatewayMetrics,
        down: DownComponents,
        fan_out: FanOut,
        default_logger_url: str | None,
        follow_request_transport: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        root = plan_node(deployment.name, predictor, predictor.graph)
        self.tf_calls = TfNodeCalls(root, endpoints, client_factory, follow_request_transport)
        super().__init__(
            deployment,
            predictor,
            endpoints,
            self.tf_calls,
            request_logger,
            metrics,
            down,
            fan_out,
            default_logger_url,
            rng=rng,
            root=root,
        )

    def _node(self, model: str) -> NodePlan:
        """The node named `model` (the operator's GetPredictiveUnit: depth first, by name)."""
        plan = next((p for p in self.root.walk() if p.node.name == model), None)
        if plan is None or not plan.needs_component:
            raise NotFound(f"Failed to find model {model}")
        return plan

    def model_status(
        self, target: TfTarget, request: Message | None, ctx: RequestContext
    ) -> TfPayload:
        """Node `target.model`'s answer to a model status request, passed through."""
        self.check_available()
        plan = self._node(target.model)
        client = self.tf_calls.client(plan, ctx)
        return client.status(target, request, ctx.component_headers())

    def model_metadata(
        self, target: TfTarget, request: Message | None, ctx: RequestContext
    ) -> TfPayload:
        """Node `target.model`'s answer to a model metadata request, passed through."""
        self.check_available()
        plan = self._node(target.model)
        client = self.tf_calls.client(plan, ctx)
        return client.metadata(target, request, ctx.component_headers())

    def unready(self) -> list[str]:
        """Why the graph cannot serve yet: each model of a MODEL node that is not AVAILABLE (a
        TF Serving node's every model; a component's, asked by the node's name)."""
        problems: list[str] = []
        for plan in self.root.walk():
            if plan.input_method != "predict":
                continue
            endpoint = self.endpoints[plan.key]
            for name in endpoint.models or (plan.node.name,):
                problem = self._unready_model(plan, endpoint.transport, name)
                if problem:
                    problems.append(problem)
        return problems

    def _unready_model(self, plan: NodePlan, transport: Transport, name: str) -> str | None:
        ctx = RequestContext(puid=str(uuid.uuid4()), transport=transport)
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = name
        try:
            answer = self.tf_calls.client(plan, ctx).status(
                TfTarget(model=name), request, ctx.component_headers()
            )
        except ServingError as error:
            return f"model {name!r} of {plan.key}: {error.message}"
        states = _states(answer)
        if "AVAILABLE" not in states:
            return f"model {name!r} of {plan.key} is not AVAILABLE: {states}"
        return None


def _states(answer: TfPayload) -> list[str]:
    """The state of each version in a model status answer (REST JSON or gRPC)."""
    if answer.is_proto:
        return [
            "AVAILABLE" if status.state == _AVAILABLE else str(status.state)
            for status in answer.message().model_version_status
        ]
    document = answer.document()
    versions = document.get("model_version_status") if isinstance(document, dict) else None
    return [str(v.get("state")) for v in versions or () if isinstance(v, dict)]
