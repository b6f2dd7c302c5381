"""The local gateway: Seldon's external REST and gRPC API over the graphs the runner started.

REST and gRPC both answer on the HTTP port, as Istio and Ambassador answer both on one port
(SeldonClient uses one `gateway_endpoint` for both transports): the HTTP front (http_front.py,
an event loop with bounded workers) passes a connection that opens with the HTTP/2 preface
through to the gRPC server, which also listens on its own port. `stop` is the graceful stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence

import grpc

from seldon_tfserving.deploy.model import SeldonDeployment
from seldon_tfserving.gateway.cors import CorsPolicy
from seldon_tfserving.gateway.dataplane import DataPlane
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, ServerAddress
from seldon_tfserving.gateway.executor import ClientFactory
from seldon_tfserving.gateway.front_limits import FrontLimits
from seldon_tfserving.gateway.grpc_api import create_grpc_server
from seldon_tfserving.gateway.http_front import HttpFront
from seldon_tfserving.gateway.liveness import DownComponents
from seldon_tfserving.gateway.metrics import GatewayMetrics
from seldon_tfserving.gateway.protocols import TENSORFLOW_PROTOCOL
from seldon_tfserving.gateway.request_logger import RequestLogger
from seldon_tfserving.gateway.rest_api import RestApi
from seldon_tfserving.gateway.routing_memory import RoutingMemory
from seldon_tfserving.gateway.settings import GatewaySettings
from seldon_tfserving.gateway.tf_calls import TfClientFactory
from seldon_tfserving.gateway.tf_dataplane import TfDataPlane
from seldon_tfserving.gateway.tf_rest_api import TfRestApi
from seldon_tfserving.gateway.traffic import ShadowDispatcher

logger = logging.getLogger(__name__)


class Gateway:
    """Serves every given SeldonDeployment on a REST port (REST and gRPC) and a gRPC port;
    `client_factory` replaces the REST and gRPC component clients (see `DataPlane`)."""

    def __init__(
        self,
        deployments: Sequence[SeldonDeployment],
        endpoints: Mapping[str, ComponentEndpoint],
        *,
        host: str = "127.0.0.1",
        http_port: int = 8003,
        grpc_port: int = 5001,
        settings: GatewaySettings | None = None,
        tf_clients: TfClientFactory | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.settings = settings or GatewaySettings.from_environment()
        self.host = host
        self.metrics = GatewayMetrics()
        self._down = DownComponents()
        self.request_logger = RequestLogger(
            source=f"http://{self.settings.hostname}:{http_port}/",
            metrics=self.metrics,
            queue_size=self.settings.logger_queue_size,
            workers=self.settings.logger_workers,
            timeout_s=self.settings.logger_timeout_s,
            max_queued_bytes=self.settings.logger_queue_bytes,
        )
        self.shadows = ShadowDispatcher(
            self.metrics, self.settings.shadow_queue_size, self.settings.shadow_workers
        )
        self.dataplane = DataPlane(
            deployments,
            endpoints,
            self.settings,
            self.metrics,
            self.request_logger,
            self.shadows,
            self._down,
            tf_clients=tf_clients,
            client_factory=client_factory,
        )
        #: TF Serving's API for the deployments with `spec.protocol: tensorflow`
        self.tf_dataplane = TfDataPlane(
            self.dataplane, RoutingMemory(self.settings.routing_memory_size)
        )
        self._speaks_tf = any(
            service.protocol == TENSORFLOW_PROTOCOL for service in self.dataplane.services
        )
        self._requested_ports = (http_port, grpc_port)
        self._grpc_server: grpc.Server | None = None
        self._http_server: HttpFront | None = None
        #: set at the start of `stop`: readiness fails from then on
        self.stopping = threading.Event()
        self.http_port = http_port
        self.grpc_port = grpc_port

    @property
    def address(self) -> ServerAddress:
        """Where the gateway listens (its bound ports once started)."""
        return ServerAddress(self.host, self.http_port, self.grpc_port)

    @property
    def http_url(self) -> str:
        return self.address.http_url

    @property
    def grpc_target(self) -> str:
        return self.address.grpc_target

    def start(self) -> None:
        """Listen on both ports and serve in background threads; returns once listening."""
        if self._http_server is not None:
            return
        self.request_logger.start()
        self.shadows.start()
        http_port, grpc_port = self._requested_ports
        self._grpc_server, self.grpc_port = create_grpc_server(
            self.dataplane,
            self.host,
            grpc_port,
            self.settings.grpc_workers,
            self.settings.grpc_max_message_bytes,
            tf_dataplane=self.tf_dataplane if self._speaks_tf else None,
            max_meta_bytes=self.settings.max_meta_bytes,
        )
        self._grpc_server.start()
        cors = CorsPolicy(self.settings.cors_allowed_origins, self.settings.cors_allowed_headers)
        tf_face = TfRestApi(self.tf_dataplane, self.settings.max_body_bytes, cors)
        app = RestApi(
            self.dataplane,
            self.metrics,
            self.settings.max_body_bytes,
            cors=cors,
            max_meta_bytes=self.settings.max_meta_bytes,
            tf_face=tf_face if self._speaks_tf else None,
            readiness=self._unready,
        )
        try:
            server = HttpFront(
                self.host,
                http_port,
                app,
                self._front_limits(),
                grpc_address=(
                    "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host,
                    self.grpc_port,
                ),
            )
        except OSError:
            self._grpc_server.stop(grace=None)
            self._grpc_server = None
            raise
        self._http_server = server
        self.http_port = server.address[1]
        self.request_logger.source = f"http://{self.settings.hostname}:{self.http_port}/"
        server.start()
        logger.info("gateway listening: REST+gRPC %s, gRPC %s", self.http_url, self.grpc_target)

    def _front_limits(self) -> FrontLimits:
        settings = self.settings
        return FrontLimits(
            max_connections=settings.max_connections,
            workers=settings.http_workers,
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            keepalive_timeout_s=settings.keepalive_timeout_s,
            max_header_bytes=settings.max_header_bytes,
            max_body_bytes=settings.max_body_bytes,
        )

    def _unready(self) -> list[str]:
        """What keeps `/ready` at 503: the stop under way, TF models not yet AVAILABLE."""
        if self.stopping.is_set():
            return ["the gateway is stopping"]
        return self.tf_dataplane.unready() if self._speaks_tf else []

    def stop(self) -> None:
        """The graceful stop: readiness fails at once, no new connection is taken, requests
        in flight (REST and gRPC) are answered, then everything closes; all within
        `drain_timeout_s` (SIGTERM's handler calls this, and exits 0 once it returns)."""
        self.stopping.set()
        deadline = time.monotonic() + self.settings.drain_timeout_s
        grpc_stopped: threading.Event | None = None
        if self._http_server is not None:
            self._http_server.drain()
        if self._grpc_server is not None:
            grpc_stopped = self._grpc_server.stop(grace=self.settings.drain_timeout_s)
        if self._http_server is not None:
            self._http_server.wait_drained(deadline)
            if grpc_stopped is not None:
                grpc_stopped.wait(timeout=max(0.0, deadline - time.monotonic()))
            self._http_server.close()
            self._http_server = None
        elif grpc_stopped is not None:
            grpc_stopped.wait(timeout=max(0.0, deadline - time.monotonic()))
        self._grpc_server = None
        self.shadows.stop(timeout_s=1.0)
        self.request_logger.stop(timeout_s=1.0)
        self.dataplane.close()

    def mark_down(self, key: str, reason: str) -> None:
        """A component died: graphs that need it answer 503 until `mark_up`."""
        logger.warning("component %s is down: %s", key, reason)
        self._down.mark_down(key, reason)

    def mark_up(self, key: str) -> None:
        """A component is back (the runner restarted it on the same ports)."""
        self._down.mark_up(key)

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
