"""Seldon's protocol for the graph walk: SeldonMessages pass between nodes unchanged, routes
are read from the router's SeldonMessage, AVERAGE_COMBINER averages Seldon data."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from seldon_tfserving.gateway import builtin_units
from seldon_tfserving.gateway.component_client import ComponentClient, ComponentMethod
from seldon_tfserving.gateway.context import RequestContext
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.graph_plan import NodePlan
from seldon_tfserving.gateway.node_calls import build_clients, transport_for
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.gateway.routing import route_of
from seldon_tfserving.transport import Transport

ClientFactory = Callable[[NodePlan, ComponentEndpoint, Transport], ComponentClient]


class SeldonNodeCalls:
    """Calls the microservices' internal Seldon API (`/predict`, `seldon.protos.Model`, ...)."""

    protocol = "seldon"

    def __init__(
        self,
        root: NodePlan,
        endpoints: Mapping[str, ComponentEndpoint],
        client_factory: ClientFactory,
        follow_request: bool,
    ) -> None:
        self._endpoints = endpoints
        self._follow_request = follow_request
        self._clients = build_clients(root, endpoints, client_factory)

    def client(self, plan: NodePlan, ctx: RequestContext) -> ComponentClient:
        return self._clients[(plan.key, self.transport_for(plan, ctx))]

    def call(
        self,
        plan: NodePlan,
        method: ComponentMethod,
        payload: Payload | Sequence[Payload],
        ctx: RequestContext,
    ) -> Payload:
        return self.client(plan, ctx).call(method, payload, ctx.component_headers())

    def service_name(self, plan: NodePlan, method: ComponentMethod, ctx: RequestContext) -> str:
        return self.client(plan, ctx).service_name(method)

    def transport_for(self, plan: NodePlan, ctx: RequestContext) -> Transport:
        return transport_for(plan, ctx, self._endpoints, self._follow_request)

    def chain(self, plan: NodePlan, payload: Payload, ctx: RequestContext) -> Payload:
        return payload

    def route(self, plan: NodePlan, answer: Payload) -> int:
        return route_of(plan.node.name, answer)

    def average(self, plan: NodePlan, outputs: list[Payload]) -> Payload:
        return builtin_units.average(plan.node.name, outputs)

    def takes_feedback(self, plan: NodePlan) -> bool:
        return plan.takes_feedback

    def send_feedback(self, plan: NodePlan, feedback: Payload, ctx: RequestContext) -> Payload:
        return self.call(plan, "send-feedback", feedback, ctx)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
