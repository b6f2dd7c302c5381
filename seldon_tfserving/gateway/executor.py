"""The graph walk of one predictor, as Seldon's executor does it (predictor_process.go).

MODEL and TRANSFORMER nodes call predict / transform-input, ROUTER nodes route (-1 all
children, -2 none), COMBINER nodes aggregate, OUTPUT_TRANSFORMER nodes transform-output;
every node that is called or routes records itself in the request's routing map. Feedback
walks back down the routing recorded in the response it carries.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import grpc

from seldon_tfserving.deploy.model import Predictor, SeldonDeployment
from seldon_tfserving.errors import (
    ConfigurationError,
    InternalError,
    NotFound,
    ServingError,
    Unavailable,
)
from seldon_tfserving.gateway import builtins
from seldon_tfserving.gateway.component_client import (
    ComponentClient,
    ComponentFailure,
    ComponentMethod,
)
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.graph_metadata import (
    builtin_metadata,
    graph_metadata,
    model_metadata_document,
)
from seldon_tfserving.gateway.graph_plan import NodePlan, plan_node
from seldon_tfserving.gateway.metrics import GatewayMetrics
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.gateway.request_logger import LogEvent, LogType, RequestLogger
from seldon_tfserving.gateway.routing import ROUTE_ALL, ROUTE_NONE, feedback_route, route_of

Transport = Literal["REST", "GRPC"]


@dataclass
class RequestContext:
    """One external request: its puid, the headers passed on, and the routing it records."""

    puid: str
    transport: Transport
    headers: Mapping[str, str] = field(default_factory=dict)
    skip_logging: bool = False
    routing: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_route(self, node: str, route: int) -> None:
        with self._lock:
            self.routing[node] = route


class DownComponents:
    """Components the runner reported dead, with the reason (shared by every predictor)."""

    def __init__(self) -> None:
        self._down: dict[str, str] = {}
        self._lock = threading.Lock()

    def mark_down(self, key: str, reason: str) -> None:
        with self._lock:
            self._down[key] = reason

    def mark_up(self, key: str) -> None:
        with self._lock:
            self._down.pop(key, None)

    def first_down(self, keys: Sequence[str]) -> tuple[str, str] | None:
        with self._lock:
            for key in keys:
                if key in self._down:
                    return key, self._down[key]
        return None


ClientFactory = Callable[[NodePlan, ComponentEndpoint, Transport], ComponentClient]


def grpc_code_label(code: grpc.StatusCode) -> str:
    """Go's spelling of a gRPC code (`DeadlineExceeded`), as the executor's metrics label it."""
    if code == grpc.StatusCode.CANCELLED:
        return "Canceled"
    if code == grpc.StatusCode.OK:
        return "OK"
    return "".join(part.capitalize() for part in code.name.split("_"))


def status_label(error: ServingError | None, transport: Transport) -> str:
    if transport == "REST":
        return "200" if error is None else str(error.http_status)
    return grpc_code_label(grpc.StatusCode.OK if error is None else error.grpc_code)


class PredictorExecutor:
    """Runs predictions and feedback through one predictor's graph."""

    def __init__(
        self,
        deployment: SeldonDeployment,
        predictor: Predictor,
        endpoints: Mapping[str, ComponentEndpoint],
        client_factory: ClientFactory,
        request_logger: RequestLogger,
        metrics: GatewayMetrics,
        down: DownComponents,
        default_logger_url: str | None,
        follow_request_transport: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self.deployment = deployment
        self.predictor = predictor
        self.root = plan_node(deployment.name, predictor, predictor.graph)
        self._logger = request_logger
        self._metrics = metrics
        self._down = down
        self._default_logger_url = default_logger_url
        self._follow_request = follow_request_transport
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._version = str(predictor.annotations.get("version", ""))
        self.component_keys = [p.key for p in self.root.walk() if p.needs_component]
        self._clients: dict[tuple[str, Transport], ComponentClient] = {}
        for plan in self.root.walk():
            if not plan.needs_component:
                continue
            endpoint = endpoints.get(plan.key)
            if endpoint is None:
                raise ConfigurationError(
                    "endpoints", f"no component endpoint for graph node {plan.key!r}"
                )
            for transport in ("REST", "GRPC"):
                self._clients[(plan.key, transport)] = client_factory(plan, endpoint, transport)
        #: the endpoint of every component this graph calls, by key
        self.endpoints = {key: endpoints[key] for key in self.component_keys}

    # -- the external operations -------------------------------------------------------------

    def check_available(self) -> None:
        """Unavailable when a component this graph needs was reported dead."""
        down = self._down.first_down(self.component_keys)
        if down is not None:
            key, reason = down
            raise Unavailable(f"component {key} is down: {reason}")

    def predict(self, payload: Payload, ctx: RequestContext) -> Payload:
        self.check_available()
        return self._predict(self.root, payload, ctx)

    def feedback(self, payload: Payload, ctx: RequestContext) -> Payload:
        self.check_available()
        return self._feedback(self.root, payload, ctx)

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

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def _component_metadata(self, plan: NodePlan, ctx: RequestContext) -> Any:
        client = self._clients[(plan.key, self._transport_for(plan, ctx))]
        return client.model_metadata({**ctx.headers, "Seldon-Puid": ctx.puid})

    # -- prediction ----------------------------------------------------------------------------

    def _predict(self, plan: NodePlan, msg: Payload, ctx: RequestContext) -> Payload:
        transformed = self._transform_input(plan, msg, ctx)
        combined = self._predict_children(plan, transformed, ctx)
        return self._transform_output(plan, combined, ctx)

    def _transform_input(self, plan: NodePlan, msg: Payload, ctx: RequestContext) -> Payload:
        if plan.input_method is None:
            return msg
        self._log(plan, "request", msg, ctx, modes=("request", "all"))
        ctx.record_route(plan.node.name, ROUTE_ALL)
        result = self._call(plan, plan.input_method, msg, ctx)
        self._log(plan, "response", result, ctx, modes=("response", "all"))
        return result

    def _transform_output(self, plan: NodePlan, msg: Payload, ctx: RequestContext) -> Payload:
        if not plan.output_method:
            return msg
        self._log(plan, "request", msg, ctx, modes=("request", "all"))
        result = self._call(plan, "transform-output", msg, ctx)
        self._log(plan, "response", result, ctx, modes=("response", "all"))
        return result

    def _predict_children(self, plan: NodePlan, msg: Payload, ctx: RequestContext) -> Payload:
        if not plan.children:
            return msg
        self._log(plan, "request", msg, ctx, modes=("request", "all"))
        route = self._route(plan, msg, ctx)
        if route == ROUTE_ALL:
            outputs = _fan_out(
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

    def _route(self, plan: NodePlan, msg: Payload, ctx: RequestContext) -> int:
        if plan.routes:
            route = route_of(plan.node.name, self._call(plan, "route", msg, ctx))
        elif plan.ab_test_ratio is not None:
            with self._rng_lock:
                route = builtins.random_ab_route(plan.ab_test_ratio, self._rng)
        else:
            return ROUTE_ALL
        self._metrics.routes.labels(
            self.deployment.name, self.predictor.name, plan.node.name, str(route)
        ).inc()
        return route

    def _aggregate(
        self, plan: NodePlan, outputs: list[Payload], msg: Payload, ctx: RequestContext
    ) -> Payload:
        if plan.aggregates:
            self._log(plan, "request", msg, ctx, modes=("request", "all"))
            ctx.record_route(plan.node.name, ROUTE_ALL)
            result = self._call(plan, "aggregate", outputs, ctx)
            self._log(plan, "response", result, ctx, modes=("response", "all"))
            return result
        if plan.averages:
            ctx.record_route(plan.node.name, ROUTE_ALL)
            return builtins.average(plan.node.name, outputs)
        return outputs[0]

    # -- feedback ------------------------------------------------------------------------------

    def _feedback(self, plan: NodePlan, feedback: Payload, ctx: RequestContext) -> Payload:
        self._log(plan, "feedback", feedback, ctx, modes=("response", "all"))
        if plan.children:
            route = feedback_route(feedback, plan.node.name)
            if route == ROUTE_ALL:
                _fan_out(
                    [functools.partial(self._feedback, c, feedback, ctx) for c in plan.children]
                )
            elif 0 <= route < len(plan.children):
                self._feedback(plan.children[route], feedback, ctx)
        if plan.takes_feedback:
            return self._call(plan, "send-feedback", feedback, ctx)
        return feedback

    # -- plumbing ------------------------------------------------------------------------------

    def _call(
        self,
        plan: NodePlan,
        method: ComponentMethod,
        payload: Payload | Sequence[Payload],
        ctx: RequestContext,
    ) -> Payload:
        transport = self._transport_for(plan, ctx)
        client = self._clients[(plan.key, transport)]
        headers = {**ctx.headers, "Seldon-Puid": ctx.puid}
        started = time.perf_counter()
        error: ServingError | None = None
        try:
            return client.call(method, payload, headers)
        except ServingError as failure:
            error = failure
            raise
        finally:
            image, version = plan.image
            self._metrics.client.labels(
                self.deployment.name,
                self.predictor.name,
                self._version,
                client.service_name(method),
                plan.node.name,
                image,
                version,
                "post" if transport == "REST" else "unary",
                _client_code(error, transport),
            ).observe(time.perf_counter() - started)

    def _transport_for(self, plan: NodePlan, ctx: RequestContext) -> Transport:
        if self._follow_request:
            return ctx.transport
        return self.endpoints[plan.key].transport

    def _log(
        self,
        plan: NodePlan,
        log_type: LogType,
        payload: Payload,
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
            )
        )


def _client_code(error: ServingError | None, transport: Transport) -> str:
    if isinstance(error, ComponentFailure) and transport == "REST":
        return str(error.status)
    return status_label(error, transport)


def _fan_out[T](calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run the calls concurrently (the first on this thread); the first error by index wins."""
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except BaseException as error:  # noqa: BLE001 - re-raised below on the caller's thread
            errors[index] = error

    threads = [
        threading.Thread(target=run, args=(i,), name="graph-child", daemon=True)
        for i in range(1, len(calls))
    ]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return [result for result in results]  # type: ignore[misc]
