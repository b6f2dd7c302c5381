"""What the graph walk asks of a protocol: how a node is called, how its answer is chained to
the next node, how a route is read from a router's answer, how the built-in average is done.

One walk (executor.py) runs both protocols; Seldon's pieces are in seldon_calls.py, TF
Serving's in tf_calls.py. Each strategy owns the component clients it calls through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from seldon_tfserving.errors import ConfigurationError
from seldon_tfserving.gateway.component_client import ComponentMethod
from seldon_tfserving.gateway.context import RequestContext
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.graph_plan import NodePlan
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.transport import TRANSPORTS, Transport

P = TypeVar("P")
T = TypeVar("T")


class GraphPayload(Protocol):
    """What the walk itself reads of a payload: the bytes the request logger sends."""

    def log_body(self) -> tuple[bytes, str]: ...


class NodeCalls(Protocol[P]):
    """One protocol's component calls, for the one graph walk."""

    #: the protocol's name as Seldon spells it (`Ce-Protocol` of logged events)
    protocol: str

    def call(
        self, plan: NodePlan, method: ComponentMethod, payload: P | Sequence[P], ctx: RequestContext
    ) -> P:
        """Call `plan`'s component; errors are ServingErrors carrying their status."""
        ...

    def service_name(self, plan: NodePlan, method: ComponentMethod, ctx: RequestContext) -> str:
        """The executor's `service` label of this call in the client histogram."""
        ...

    def transport_for(self, plan: NodePlan, ctx: RequestContext) -> Transport: ...

    def chain(self, plan: NodePlan, payload: P, ctx: RequestContext) -> P:
        """The request a MODEL/TRANSFORMER node is called with, from what reached it."""
        ...

    def route(self, plan: NodePlan, answer: P) -> int:
        """The branch a router's answer names (-1 all, -2 none)."""
        ...

    def average(self, plan: NodePlan, outputs: list[P]) -> P:
        """AVERAGE_COMBINER: the children's numeric answers averaged element-wise."""
        ...

    def takes_feedback(self, plan: NodePlan) -> bool: ...

    def send_feedback(self, plan: NodePlan, feedback: Payload, ctx: RequestContext) -> Payload:
        """Seldon's send-feedback to `plan`'s component (feedback is Seldon JSON under both)."""
        ...

    def close(self) -> None: ...


def build_clients(
    root: NodePlan,
    endpoints: Mapping[str, ComponentEndpoint],
    factory: Callable[[NodePlan, ComponentEndpoint, Transport], T],
) -> dict[tuple[str, Transport], T]:
    """A client per component node and transport; a node without an endpoint is refused."""
    clients: dict[tuple[str, Transport], T] = {}
    for plan in root.walk():
        if not plan.needs_component:
            continue
        endpoint = endpoints.get(plan.key)
        if endpoint is None:
            raise ConfigurationError(
                "endpoints", f"no component endpoint for graph node {plan.key!r}"
            )
        for transport in TRANSPORTS:
            clients[(plan.key, transport)] = factory(plan, endpoint, transport)
    return clients


def transport_for(
    plan: NodePlan,
    ctx: RequestContext,
    endpoints: Mapping[str, ComponentEndpoint],
    follow_request: bool,
) -> Transport:
    """The request's transport (the executor's rule), or the node's declared one."""
    if follow_request:
        return ctx.transport
    return endpoints[plan.key].transport
