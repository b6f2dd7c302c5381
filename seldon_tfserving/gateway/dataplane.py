"""The one path both external faces share: find the deployment, split traffic, mirror to
shadows, walk the graph, annotate the response, and time it all (MLServer's dataplane idea).
"""

from __future__ import annotations

import functools
import random
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from seldon_tfserving.deploy.model import Predictor, SeldonDeployment
from seldon_tfserving.errors import (
    ConfigurationError,
    NotFound,
    ServingError,
    Unavailable,
    Unimplemented,
)
from seldon_tfserving.gateway.client_factories import seldon_client_factory, tf_client_factory
from seldon_tfserving.gateway.component_client import GrpcChannels
from seldon_tfserving.gateway.context import RequestContext
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.executor import ClientFactory, GraphExecutor, PredictorExecutor
from seldon_tfserving.gateway.fan_out import DEFAULT_FAN_OUT_THREADS, FanOut
from seldon_tfserving.gateway.liveness import DownComponents
from seldon_tfserving.gateway.metrics import GatewayMetrics, method_label, status_label
from seldon_tfserving.gateway.payload import Payload, with_meta
from seldon_tfserving.gateway.protocols import (
    PROTOCOLS,
    SELDON_PROTOCOL,
    TENSORFLOW_PROTOCOL,
    deployment_protocol,
)
from seldon_tfserving.gateway.request_logger import RequestLogger
from seldon_tfserving.gateway.settings import GatewaySettings
from seldon_tfserving.gateway.tf_calls import TfClientFactory
from seldon_tfserving.gateway.tf_executor import TfPredictorExecutor
from seldon_tfserving.gateway.traffic import ShadowDispatcher, TrafficSplit
from seldon_tfserving.transport import Transport

T = TypeVar("T")
_ShadowCall = Callable[[PredictorExecutor, RequestContext], Payload]

ROUTING_INJECTION_ENV = "SELDON_ENABLE_ROUTING_INJECTION"
REST_TIMEOUT_ANNOTATION = "seldon.io/rest-timeout"
GRPC_TIMEOUT_ANNOTATION = "seldon.io/grpc-timeout"


@dataclass(frozen=True)
class DeploymentService:
    """One SeldonDeployment as served: its traffic split and an executor per predictor, of
    its protocol (`executors` under seldon, `tf_executors` under tensorflow)."""

    deployment: SeldonDeployment
    split: TrafficSplit
    executors: Mapping[str, PredictorExecutor]
    injects_routing: Mapping[str, bool]
    protocol: str = SELDON_PROTOCOL
    tf_executors: Mapping[str, TfPredictorExecutor] = field(default_factory=dict)

    @property
    def all_executors(self) -> list[GraphExecutor[Any]]:
        return [*self.executors.values(), *self.tf_executors.values()]


def _annotation_timeout(
    deployment: SeldonDeployment, predictor: Predictor, name: str, default_s: float
) -> float:
    metadata = deployment.raw.get("metadata") or {}
    annotations = {**(metadata.get("annotations") or {}), **predictor.annotations}
    value = annotations.get(name)
    if value in (None, ""):
        return default_s
    try:
        millis = int(str(value))
    except ValueError:
        raise ConfigurationError(name, f"{value!r} is not a whole number of milliseconds") from None
    return millis / 1000.0 if millis > 0 else default_s


def _routing_injection_env(predictor: Predictor) -> bool:
    spec = predictor.raw.get("svcOrchSpec") or {}
    for variable in spec.get("env") or ():
        if variable.get("name") == ROUTING_INJECTION_ENV:
            return bool(str(variable.get("value", "")))
    return False


class DataPlane:
    """Predict and feedback for every deployment the gateway serves; its graphs share one
    fan-out pool of `fan_out_threads` threads. Components are called over REST or gRPC,
    unless a `client_factory` is given (the tests' recorded components, in process)."""

    def __init__(
        self,
        deployments: Sequence[SeldonDeployment],
        endpoints: Mapping[str, ComponentEndpoint],
        settings: GatewaySettings,
        metrics: GatewayMetrics,
        request_logger: RequestLogger,
        shadows: ShadowDispatcher,
        down: DownComponents,
        rng: random.Random | None = None,
        fan_out_threads: int = DEFAULT_FAN_OUT_THREADS,
        tf_clients: TfClientFactory | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        #: the clients of TF-protocol graphs' nodes, when not the real ones (tests' seam)
        self._tf_clients = tf_clients
        self._settings = settings
        self._client_factory = client_factory
        self._metrics = metrics
        self._shadows = shadows
        self._rng = rng or random.Random()
        self._channels = GrpcChannels(settings.grpc_max_message_bytes)
        self._fan_out = FanOut(fan_out_threads)
        self._services: dict[tuple[str, str], DeploymentService] = {}
        for deployment in deployments:
            key = (deployment.namespace, deployment.name)
            if key in self._services:
                raise ConfigurationError(
                    "deployments", f"{deployment.namespace}/{deployment.name} given twice"
                )
            protocol = deployment_protocol(deployment)
            if protocol not in PROTOCOLS:
                raise ConfigurationError(
                    "spec.protocol",
                    f"{deployment.name}: the gateway speaks {' and '.join(PROTOCOLS)}, "
                    f"not {protocol!r}",
                )
            executors: dict[str, PredictorExecutor] = {}
            tf_executors: dict[str, TfPredictorExecutor] = {}
            for predictor in deployment.predictors:
                executor = self._executor(deployment, predictor, endpoints, request_logger, down)
                if isinstance(executor, TfPredictorExecutor):
                    tf_executors[predictor.name] = executor
                else:
                    executors[predictor.name] = executor
            self._services[key] = DeploymentService(
                deployment=deployment,
                split=TrafficSplit(deployment.predictors, random.Random(self._rng.random())),
                executors=executors,
                injects_routing={
                    p.name: settings.inject_routing or _routing_injection_env(p)
                    for p in deployment.predictors
                },
                protocol=protocol,
                tf_executors=tf_executors,
            )

    def _executor(
        self,
        deployment: SeldonDeployment,
        predictor: Predictor,
        endpoints: Mapping[str, ComponentEndpoint],
        request_logger: RequestLogger,
        down: DownComponents,
    ) -> PredictorExecutor | TfPredictorExecutor:
        """The predictor's walk in its deployment's protocol, its calls bounded by the
        executor's timeout annotations."""
        default = self._settings.component_timeout_s
        rest_timeout = _annotation_timeout(deployment, predictor, REST_TIMEOUT_ANNOTATION, default)
        grpc_timeout = _annotation_timeout(deployment, predictor, GRPC_TIMEOUT_ANNOTATION, default)
        shared = (request_logger, self._metrics, down, self._fan_out)
        logger_url = self._settings.logger_default_url
        follow = self._settings.component_transport == "follow"
        rng = random.Random(self._rng.random())
        if deployment_protocol(deployment) == TENSORFLOW_PROTOCOL:
            tf_clients = self._tf_clients or tf_client_factory(
                self._settings, self._channels, rest_timeout, grpc_timeout
            )
            return TfPredictorExecutor(
                deployment, predictor, endpoints, tf_clients, *shared, logger_url, follow, rng
            )
        clients = self._client_factory or seldon_client_factory(
            self._settings, self._channels, rest_timeout, grpc_timeout
        )
        return PredictorExecutor(
            deployment, predictor, endpoints, clients, *shared, logger_url, follow, rng
        )

    @property
    def shadows(self) -> ShadowDispatcher:
        return self._shadows

    @property
    def services(self) -> list[DeploymentService]:
        return list(self._services.values())

    def find(self, name: str | None, namespace: str | None) -> DeploymentService:
        """The deployment a request names (by `seldon`/`namespace`, or the only one served)."""
        if name is None:
            if len(self._services) == 1:
                return next(iter(self._services.values()))
            raise NotFound("name the deployment: /seldon/<namespace>/<name>/... or `seldon` header")
        if namespace is not None:
            service = self._services.get((namespace, name))
            if service is None:
                raise NotFound(f"no SeldonDeployment {namespace}/{name}")
            return service
        matches = [s for (_, n), s in self._services.items() if n == name]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFound(f"no SeldonDeployment named {name!r}")
        raise NotFound(f"several SeldonDeployments are named {name!r}; give the namespace")

    def predict(
        self, service: DeploymentService, payload: Payload, ctx: RequestContext, label: str
    ) -> Payload:
        executor = self._choose(service)
        self._mirror(service, lambda e, c: e.predict(payload, c), ctx)
        return self.observed(
            executor, label, ctx, lambda: self._answer(service, executor, payload, ctx)
        )

    def feedback(
        self, service: DeploymentService, payload: Payload, ctx: RequestContext, label: str
    ) -> Payload:
        executor = self._choose(service)
        self._mirror(service, lambda e, c: e.feedback(payload, c), ctx)
        return self.observed(executor, label, ctx, lambda: executor.feedback(payload, ctx))

    def model_metadata(
        self, service: DeploymentService, model: str, ctx: RequestContext, label: str
    ) -> Any:
        executor = self._choose(service)
        return self.observed(executor, label, ctx, lambda: executor.model_metadata(model, ctx))

    def graph_metadata(
        self, service: DeploymentService, ctx: RequestContext, label: str
    ) -> dict[str, Any]:
        """The graph metadata of the predictor the traffic split picks, as a request through
        the deployment's ingress reaches one predictor's executor."""
        executor = self._choose(service)
        return self.observed(executor, label, ctx, lambda: executor.graph_metadata(ctx))

    def unready(self, service: DeploymentService) -> list[str]:
        """Why the deployment cannot serve now: components reported dead or not answering."""
        problems: list[str] = []
        for executor in service.all_executors:
            try:
                executor.check_available()
            except Unavailable as error:
                problems.append(error.message)
                continue
            for key, endpoint in executor.endpoints.items():
                for port in (endpoint.http_port, endpoint.grpc_port):
                    try:
                        socket.create_connection((endpoint.host, port), timeout=1).close()
                    except OSError as error:
                        problems.append(f"component {key} at {endpoint.host}:{port}: {error}")
        return problems

    def close(self) -> None:
        for service in self._services.values():
            for executor in service.all_executors:
                executor.close()
        self._fan_out.close()
        self._channels.close()

    def _choose(self, service: DeploymentService) -> PredictorExecutor:
        if service.protocol != SELDON_PROTOCOL:
            raise Unimplemented(
                f"{service.deployment.name} speaks protocol {service.protocol}, not seldon"
            )
        return service.executors[self.choose_predictor(service).name]

    @staticmethod
    def choose_predictor(service: DeploymentService) -> Predictor:
        """The predictor the traffic split sends this request to."""
        predictor = service.split.choose()
        if predictor is None:
            raise Unavailable(f"{service.deployment.name} has no predictor taking traffic")
        return predictor

    def _mirror(self, service: DeploymentService, call: _ShadowCall, ctx: RequestContext) -> None:
        for shadow in service.split.shadows:
            executor = service.executors[shadow.name]
            copy = RequestContext(
                puid=ctx.puid,
                transport=ctx.transport,
                headers=ctx.headers,
                skip_logging=ctx.skip_logging,
            )
            self._shadows.submit(functools.partial(call, executor, copy))

    def _answer(
        self,
        service: DeploymentService,
        executor: PredictorExecutor,
        payload: Payload,
        ctx: RequestContext,
    ) -> Payload:
        """The graph's answer to a prediction, with the routing and puid Seldon adds to it."""
        result = executor.predict(payload, ctx)
        if result is payload and payload.is_proto:
            # the graph answered with the request itself (a route of -2): annotate a copy,
            # the shadows may be reading the original
            result = Payload.from_proto("message", _copy(payload.as_proto()))
        return with_meta(
            result,
            dict(ctx.routing) if service.injects_routing[executor.predictor.name] else None,
            ctx.puid if self._settings.inject_puid else None,
        )

    def observed(
        self, executor: GraphExecutor[Any], label: str, ctx: RequestContext, call: Callable[[], T]
    ) -> T:
        """`call`'s answer, its time (and status) observed into the server histogram."""
        started = time.perf_counter()
        error: ServingError | None = None
        try:
            return call()
        except ServingError as failure:
            error = failure
            raise
        finally:
            self._observe(executor, label, ctx.transport, error, started)

    def _observe(
        self,
        executor: GraphExecutor[Any],
        label: str,
        transport: Transport,
        error: ServingError | None,
        started: float,
    ) -> None:
        predictor = executor.predictor
        self._metrics.server.labels(
            executor.deployment.name,
            predictor.name,
            str(predictor.annotations.get("version", "")),
            label,
            method_label(transport),
            status_label(error, transport),
        ).observe(time.perf_counter() - started)


def _copy(message: Any) -> Any:
    duplicate = type(message)()
    duplicate.CopyFrom(message)
    return duplicate
