"""The path both TF Serving faces share (`protocol: tensorflow`): split traffic, mirror to
shadows, walk the graph, remember the routing taken, and time it all into the executor's
server histogram, over the same DataPlane (deployments, pools, metrics) as Seldon's faces.

Feedback is Seldon's Feedback JSON, as the executor's `/api/v1.0/feedback` takes it; its
routing is the one in `response.meta.routing` or, since a TF body has none, the one this
gateway remembered for the puid the feedback names, sent over the transport that prediction
came by (ours: the executor sends no feedback to components under this protocol). The answer
echoes the feedback, as the executor's does.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from google.protobuf.message import Message

from seldon_tfserving.errors import Unimplemented
from seldon_tfserving.gateway.context import RequestContext
from seldon_tfserving.gateway.dataplane import DataPlane, DeploymentService
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.gateway.protocols import TENSORFLOW_PROTOCOL
from seldon_tfserving.gateway.routing_memory import RoutingMemory, TakenRouting
from seldon_tfserving.gateway.tf_executor import TfPredictorExecutor
from seldon_tfserving.gateway.tf_payload import TfPayload, TfTarget


class TfDataPlane:
    """Predict, status, metadata and feedback for the deployments that speak TF's protocol."""

    def __init__(self, dataplane: DataPlane, memory: RoutingMemory) -> None:
        self.dataplane = dataplane
        self.memory = memory

    def find(self, name: str | None, namespace: str | None) -> DeploymentService:
        """The deployment a request names; one of another protocol is not served here."""
        service = self.dataplane.find(name, namespace)
        if service.protocol != TENSORFLOW_PROTOCOL:
            raise Unimplemented(
                f"{service.deployment.name} speaks protocol {service.protocol}, not tensorflow"
            )
        return service

    def _choose(
        self, service: DeploymentService, predictor: str | None = None
    ) -> TfPredictorExecutor:
        if predictor is not None and predictor in service.tf_executors:
            return service.tf_executors[predictor]
        return service.tf_executors[self.dataplane.choose_predictor(service).name]

    def predict(
        self, service: DeploymentService, payload: TfPayload, ctx: RequestContext, label: str
    ) -> TfPayload:
        """The graph's answer; `ctx.routing` then holds the routing, also remembered."""
        executor = self._choose(service)
        for shadow in service.split.shadows:
            copy = RequestContext(
                puid=ctx.puid,
                transport=ctx.transport,
                headers=ctx.headers,
                skip_logging=ctx.skip_logging,
                tf_target=ctx.tf_target,
            )
            self.dataplane.shadows.submit(
                functools.partial(service.tf_executors[shadow.name].predict, payload, copy)
            )
        result = self.dataplane.observed(
            executor, label, ctx, lambda: executor.predict(payload, ctx)
        )
        taken = TakenRouting(executor.predictor.name, dict(ctx.routing), ctx.transport)
        self.memory.remember(ctx.puid, taken)
        return result

    def model_status(
        self,
        service: DeploymentService,
        target: TfTarget,
        request: Message | None,
        ctx: RequestContext,
        label: str,
    ) -> TfPayload:
        executor = self._choose(service)
        return self.dataplane.observed(
            executor, label, ctx, lambda: executor.model_status(target, request, ctx)
        )

    def model_metadata(
        self,
        service: DeploymentService,
        target: TfTarget,
        request: Message | None,
        ctx: RequestContext,
        label: str,
    ) -> TfPayload:
        executor = self._choose(service)
        return self.dataplane.observed(
            executor, label, ctx, lambda: executor.model_metadata(target, request, ctx)
        )

    def feedback(
        self,
        service: DeploymentService,
        body: bytes,
        ctx: RequestContext,
        client_puid: str | None,
        label: str,
    ) -> None:
        """Walk a Feedback down the routing its prediction took (raises on bad feedback)."""
        feedback = Payload.from_json("feedback", body)
        feedback.as_proto()  # a body that is no Seldon Feedback is the client's error
        document: dict[str, Any] = feedback.as_json()
        puid = client_puid or _meta_puid(document)
        taken = self.memory.recall(puid) if puid else None
        if taken is not None and not _has_routing(document):
            document = _with_routing(document, taken.routing)
            feedback = Payload.from_json("feedback", json.dumps(document).encode())
        if puid:
            ctx.puid = puid
        # the walk goes to the component processes that routed the prediction (ours)
        walk = RequestContext(
            puid=ctx.puid,
            transport=taken.transport if taken is not None else ctx.transport,
            headers=ctx.headers,
            skip_logging=ctx.skip_logging,
            tf_target=ctx.tf_target,
        )
        executor = self._choose(service, taken.predictor if taken is not None else None)
        self.dataplane.observed(executor, label, ctx, lambda: executor.feedback(feedback, walk))

    def unready(self) -> list[str]:
        """Why a TF-protocol deployment cannot serve: components down, models not AVAILABLE."""
        problems: list[str] = []
        for service in self.dataplane.services:
            if service.protocol == TENSORFLOW_PROTOCOL:
                problems.extend(self.dataplane.unready(service))
                for executor in service.tf_executors.values():
                    problems.extend(executor.unready())
        return problems


def _meta_puid(document: dict[str, Any]) -> str | None:
    """The puid a Feedback names in `response.meta.puid` (or `request.meta.puid`)."""
    for part in ("response", "request"):
        meta = _meta(document, part)
        if meta.get("puid"):
            return str(meta["puid"])
    return None


def _meta(document: dict[str, Any], part: str) -> dict[str, Any]:
    message = document.get(part)
    meta = message.get("meta") if isinstance(message, dict) else None
    return meta if isinstance(meta, dict) else {}


def _has_routing(document: dict[str, Any]) -> bool:
    return bool(_meta(document, "response").get("routing"))


def _with_routing(document: dict[str, Any], routing: Any) -> dict[str, Any]:
    response = dict(document.get("response") or {})
    meta = dict(response.get("meta") or {})
    meta["routing"] = dict(routing)
    response["meta"] = meta
    return {**document, "response": response}
