"""The graph walk of one predictor, as Seldon's executor does it (predictor_process.go).

MODEL and TRANSFORMER nodes call predict / transform-input, ROUTER nodes route (-1 all
children, -2 none), COMBINER nodes aggregate, OUTPUT_TRANSFORMER nodes transform-output;
every node that is called or routes records itself in the request's routing map. Feedback
walks back down the routing recorded in the response it carries. What differs per protocol
(how a node is called, chained, its route read) is a `NodeCalls` strategy; the walk is one.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from seldon_tfserving.deploy.model import Predictor, SeldonDeployment
from seldon_tfserving.errors import InternalError, NotFound, ServingError, Unavailable
from seldon_tfserving.gateway import builtin_units
from seldon_tfserving.gateway.component_client import ComponentMethod
from seldon_tfserving.gateway.context import RequestContext
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.fan_out import FanOut
from seldon_tfserving.gateway.graph_metadata import (
    builtin_metadata,
    graph_metadata,
    model_metadata_document,
)
from seldon_tfserving.gateway.graph_plan import NodePlan, plan_node
from seldon_tfserving.gateway.liveness import DownComponents
from seldon_tfserving.gateway.metrics import GatewayMetrics, method_label, status_label
from seldon_tfserving.gateway.node_calls import GraphPayload, NodeCalls
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.gateway.request_logger import LogEvent, LogType, RequestLogger
from seldon_tfserving.gateway.routing import ROUTE_ALL, ROUTE_NONE, feedback_route
from seldon_tfserving.gateway.seldon_calls import ClientFactory as ClientFactory
from seldon_tfserving.gateway.seldon_calls import SeldonNodeCalls

P = TypeVar("P", bound=GraphPayload)
T = TypeVar("T")


class GraphExecutor(Generic[P]):
    """Runs predictions and feedback through one predictor's graph, in one protocol."""

    def __init__(
        self,
        deployment: SeldonDeployment,
        predictor: Predictor,
        endpoints: Mapping[str, ComponentEndpoint],
        calls: NodeCalls[P],
        request_logger: RequestLogger,
        metrics: GatewayMetrics,
        down: DownComponents,
        fan_out: FanOut,
        default_logger_url: str | None,
        rng: random.Random | None = None,
        root: NodePlan | None = None,
    ) -> None:
        self.deployment = deployment
        self.predictor = predictor
        self.root = root or plan_node(deployment.name, predictor, predictor.graph)
        self.calls = calls
        self._logger = request_logger
        self._metrics = metrics
        self._down = down
        self._fan_out = fan_out
        self._default_logger_url = default_logger_url
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._version = str(predictor.annotations.get("version", ""))
        self.component_keys = [p.key for p in self.root.walk() if p.needs_component]
        #: the endpoint of every component this graph calls, by key
        self.endpoints = {key: endpoints[key] for key in self.component_keys}

    # -- the external operations -------------------------------------------------------------

    def check_available(self) -> None:
        """Unavailable when a component this graph needs was reported dead."""
        down = self._down.first_down(self.component_keys)
        if down is not None:
            key, reason = down
            raise Unavailable(f"component {key} is down: {reason}")

    def predict(self, payload: P, ctx: RequestContext) -> P:
        """The graph's answer to a request (the executor's Predict)."""
        self.check_available()
        return self._predict(self.root, payload, ctx)

    def feedback(self, payload: Payload, ctx: RequestContext) -> Payload:
        """Feedback down the routing its response recorded (the executor's SendFeedback)."""
        self.check_available()
        return self._feedback(self.root, payload, ctx)

    def close(self) -> None:
        """Close every component client (the fan-out pool belongs to whoever passed it)."""
        self.calls.close()

    # -- prediction ----------------------------------------------------------------------------

    def _predict(self, plan: NodePlan, msg: P, ctx: RequestContext) -> P:
        transformed = self._transform_input(plan, msg, ctx)
        combined = self._predict_children(plan, transformed, ctx)
        return self._transform_output(plan, combined, ctx)

    def _transform_input(self, plan: NodePlan, msg: P, ctx: RequestContext) -> P:
        if plan.input_method is None:
            return msg
        msg = self.calls.chain(plan, msg, ctx)
        self._log(plan, "request", msg, ctx, modes=("request", "all"))
        ctx.record_route(plan.node.name, ROUTE_ALL)
        result = self._call(plan, plan.input_method, msg, ctx)
        self._log(plan, "response", result, ctx, modes=("response", "all"))
        return result

    def _transform_output(self, plan: NodePlan, msg: P, ctx: RequestContext) -> P:
        if not plan.output_method:
            return msg
        msg = self.calls.chain(plan, msg, ctx)
        self._log(plan, "request", msg, ctx, modes=("request", "all"))
        result = self._call(plan, "transform-output", msg, ctx)
        self._log(plan, "response", result, ctx, modes=("response", "all"))
        return result

    def _predict_children(self, plan: NodePlan, msg: P, ctx: RequestContext) -> P:
        if not plan.children:
            return msg
        self._log(plan, "request", msg, ctx, modes=("request", "all"))
        route = self._route(plan, msg, ctx)
        if route == ROUTE_ALL:
            outputs = self._fan_out.run(
                [functools.partial(self._predict, c, msg, ctx) for c in plan.children]
            )
            ctx.record_route(plan.node.name, ROUTE_ALL)
        elif route == ROUTE_NONE:
            ctx.record_route(plan.node.name, ROUTE_NONE)
            return msg
        else:
            if not 0 <= route < len(plan.children):
                raise InternalError(
                    f"router {plan.node.name!r} chose route {route}, but it has "
                    f"{len(plan.children)} children"
                )
            ctx.record_route(plan.node.name, route)
            outputs = [self._predict(plan.children[route], msg, ctx)]
        result = self._aggregate(plan, outputs, msg, ctx)
        self._log(plan, "response", result, ctx, modes=("response", "all"))
        return result

    def _route(self, plan: NodePlan, msg: P, ctx: RequestContext) -> int:
        if plan.routes:
            route = self.calls.route(plan, self._call(plan, "route", msg, ctx))
        elif plan.ab_test_ratio is not None:
            with self._rng_lock:
                route = builtin_units.random_ab_route(plan.ab_test_ratio, self._rng)
        else:
            return ROUTE_ALL
        self._metrics.routes.labels(
            self.deployment.name, self.predictor.name, plan.node.name, str(route)
        ).inc()
        return route

    def _aggregate(self, plan: NodePlan, outputs: list[P], msg: P, ctx: RequestContext) -> P:
        if plan.aggregates:
            self._log(plan, "request", msg, ctx, modes=("request", "all"))
            ctx.record_route(plan.node.name, ROUTE_ALL)
            result = self._call(plan, "aggregate", outputs, ctx)
            self._log(plan, "response", result, ctx, modes=("response", "all"))
            return result
        if plan.averages:
            ctx.record_route(plan.node.name, ROUTE_ALL)
            return self.calls.average(plan, outputs)
        return outputs[0]

    # -- feedback ------------------------------------------------------------------------------

    def _feedback(self, plan: NodePlan, feedback: Payload, ctx: RequestContext) -> Payload:
        self._log(plan, "feedback", feedback, ctx, modes=("response", "all"))
        if plan.children:
            route = feedback_route(feedback, plan.node.name)
            if route == ROUTE_ALL:
                self._fan_out.run(
                    [functools.partial(self._feedback, c, feedback, ctx) for c in plan.children]
                )
            elif 0 <= route < len(plan.children):
                self._feedback(plan.children[route], feedback, ctx)
        if self.calls.takes_feedback(plan):
            return self._observed_call(
                plan, "send-feedback", ctx, lambda: self.calls.send_feedback(plan, feedback, ctx)
            )
        return feedback

    # -- plumbing ------------------------------------------------------------------------------

    def _call(
        self, plan: NodePlan, method: ComponentMethod, payload: P | Sequence[P], ctx: RequestContext
    ) -> P:
        return self._observed_call(
            plan, method, ctx, lambda: self.calls.call(plan, method, payload, ctx)
        )

    def _observed_call(
        self, plan: NodePlan, method: ComponentMethod, ctx: RequestContext, call: Callable[[], T]
    ) -> T:
        """`call`'s answer, its time observed into the client histogram."""
        transport = self.calls.transport_for(plan, ctx)
        started = time.perf_counter()
        error: ServingError | None = None
        try:
            return call()
        except ServingError as failure:
            error = failure
            raise
        finally:
            image, version = plan.image
            self._metrics.client.labels(
                self.deployment.name,
                self.predictor.name,
                self._version,
                self.calls.service_name(plan, method, ctx),
                plan.node.name,
                image,
                version,
                method_label(transport),
                status_label(error, transport),
            ).observe(time.perf_counter() - started)

    def _log(
        self,
        plan: NodePlan,
        log_type: LogType,
        payload: GraphPayload,
        ctx: RequestContext,
        modes: tuple[str, ...],
    ) -> None:
        node_logger = plan.node.logger
        if node_logger is None or node_logger.mode not in modes or ctx.skip_logging:
            return
        url = node_logger.url or self._default_logger_url
        if not url:
            return
        body, content_type = payload.log_body()
        self._logger.log(
            LogEvent(
                url=url,
                body=body,
                content_type=content_type,
                log_type=log_type,
                model_id=plan.node.name,
                request_id=ctx.puid,
                deployment=self.deployment.name,
                namespace=self.deployment.namespace,
                predictor=self.predictor.name,
                protocol=self.calls.protocol,
            )
        )


class PredictorExecutor(GraphExecutor[Payload]):
    """The walk under Seldon's protocol, with Seldon's model and graph metadata."""

    def __init__(
        self,
        deployment: SeldonDeployment,
        predictor: Predictor,
        endpoints: Mapping[str, ComponentEndpoint],
        client_factory: ClientFactory,
        request_logger: RequestLogger,
        metrics: GatewayMetrics,
        down: DownComponents,
        fan_out: FanOut,
        default_logger_url: str | None,
        follow_request_transport: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        root = plan_node(deployment.name, predictor, predictor.graph)
        self.seldon_calls = SeldonNodeCalls(
            root, endpoints, client_factory, follow_request_transport
        )
        super().__init__(
            deployment,
            predictor,
            endpoints,
            self.seldon_calls,
            request_logger,
            metrics,
            down,
            fan_out,
            default_logger_url,
            rng=rng,
            root=root,
        )

    def model_metadata(self, model: str, ctx: RequestContext) -> Any:
        """The metadata of graph node `model`, from its component (the executor's Metadata)."""
        self.check_available()
        plan = next((p for p in self.root.walk() if p.node.name == model), None)
        if plan is None or not plan.needs_component:
            raise NotFound(f"no component {model!r} in predictor {self.predictor.name!r}")
        return self._component_metadata(plan, ctx)

    def graph_metadata(self, ctx: RequestContext) -> dict[str, Any]:
        """Every node's metadata and the graph's inputs and outputs (the executor's
        GraphMetadata); one node failing to answer fails the whole, as in Seldon."""
        self.check_available()
        models = {
            plan.node.name: (
                model_metadata_document(self._component_metadata(plan, ctx))
                if plan.needs_component
                else builtin_metadata(plan)
            )
            for plan in self.root.walk()
        }
        return graph_metadata(self.predictor.name, self.root, models)

    def _component_metadata(self, plan: NodePlan, ctx: RequestContext) -> Any:
        return self.seldon_calls.client(plan, ctx).model_metadata(ctx.component_headers())
