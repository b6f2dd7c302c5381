"""The local gateway: Seldon's external REST and gRPC API over the graphs the runner started.

REST and gRPC both answer on the HTTP port, as Istio and Ambassador answer both on one port
(SeldonClient uses one `gateway_endpoint` for both transports): a connection that opens with
the HTTP/2 preface is passed through to the gRPC server, which also listens on its own port.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from seldon_tfserving.deploy.model import SeldonDeployment
from seldon_tfserving.gateway.dataplane import DataPlane
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.executor import DownComponents
from seldon_tfserving.gateway.grpc_api import create_grpc_server
from seldon_tfserving.gateway.metrics import GatewayMetrics
from seldon_tfserving.gateway.request_logger import RequestLogger
from seldon_tfserving.gateway.rest_api import RestApi
from seldon_tfserving.gateway.settings import GatewaySettings
from seldon_tfserving.gateway.traffic import ShadowDispatcher

logger = logging.getLogger(__name__)

#: Every HTTP/2 connection (so every gRPC call) opens with this preface; no HTTP/1 method does.
HTTP2_PREFACE_START = b"PRI"
_SNIFF_TIMEOUT_S = 10.0


class _QuietHandler(WSGIRequestHandler):
    """Keep-alive HTTP/1.1, without a log line per request (errors are still logged)."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _SharedPortServer(ThreadedWSGIServer):
    """Threaded WSGI server that hands HTTP/2 connections to the gRPC port instead."""

    grpc_address: tuple[str, int] = ("127.0.0.1", 0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tunnels: set[socket.socket] = set()
        self._tunnels_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(_SNIFF_TIMEOUT_S)
            start = request.recv(len(HTTP2_PREFACE_START), socket.MSG_PEEK | socket.MSG_WAITALL)
            request.settimeout(None)
        except OSError:
            self.shutdown_request(request)
            return
        if start == HTTP2_PREFACE_START:
            try:
                self._tunnel(request)
            finally:
                self.shutdown_request(request)
            return
        super().process_request_thread(request, client_address)

    def _tunnel(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.grpc_address, timeout=5)
        except OSError as error:
            logger.warning("gRPC on the HTTP port: cannot reach the gRPC server: %s", error)
            return
        upstream.settimeout(None)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._tunnels_lock:
            self._tunnels.update((client, upstream))
        try:
            _pump(client, upstream)
        finally:
            with self._tunnels_lock:
                self._tunnels.difference_update((client, upstream))
            upstream.close()

    def close_tunnels(self) -> None:
        with self._tunnels_lock:
            tunnels = list(self._tunnels)
        for sock in tunnels:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until both directions are closed."""
    peers = {a: b, b: a}
    open_reads = {a, b}
    with selectors.DefaultSelector() as selector:
        for sock in open_reads:
            selector.register(sock, selectors.EVENT_READ)
        while open_reads:
            for key, _ in selector.select():
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = source.recv(65536)
                except OSError:
                    data = b""
                target = peers[source]
                if data:
                    try:
                        target.sendall(data)
                        continue
                    except OSError:
                        return
                selector.unregister(source)
                open_reads.discard(source)
                try:
                    target.shutdown(socket.SHUT_WR)
                except OSError:
                    return


class Gateway:
    """Serves every given SeldonDeployment on a REST port (REST and gRPC) and a gRPC port."""

    def __init__(
        self,
        deployments: Sequence[SeldonDeployment],
        endpoints: Mapping[str, ComponentEndpoint],
        *,
        host: str = "127.0.0.1",
        http_port: int = 8003,
        grpc_port: int = 5001,
        settings: GatewaySettings | None = None,
    ) -> None:
        self.settings = settings or GatewaySettings()
        self.host = host
        self.metrics = GatewayMetrics()
        self._down = DownComponents()
        self.request_logger = RequestLogger(
            source=f"http://{self.settings.hostname}:{http_port}/",
            metrics=self.metrics,
            queue_size=self.settings.logger_queue_size,
            workers=self.settings.logger_workers,
            timeout_s=self.settings.logger_timeout_s,
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
        )
        self._requested_ports = (http_port, grpc_port)
        self._grpc_server: grpc.Server | None = None
        self._http_server: _SharedPortServer | None = None
        self._http_thread: threading.Thread | None = None
        self.http_port = http_port
        self.grpc_port = grpc_port

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

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
        )
        self._grpc_server.start()
        app = RestApi(self.dataplane, self.metrics, self.settings.max_body_bytes)
        try:
            server = _SharedPortServer(self.host, http_port, app, handler=_QuietHandler)
        except OSError:
            self._grpc_server.stop(grace=None)
            self._grpc_server = None
            raise
        server.grpc_address = (
            "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host,
            self.grpc_port,
        )
        self._http_server = server
        self.http_port = server.server_address[1]
        self.request_logger.source = f"http://{self.settings.hostname}:{self.http_port}/"
        self._http_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="gateway-http",
            daemon=True,
        )
        self._http_thread.start()
        logger.info("gateway listening: REST+gRPC %s, gRPC %s", self.http_url, self.grpc_target)

    def stop(self) -> None:
        if self._http_server is not None:
            self._http_server.shutdown()
            self._http_server.close_tunnels()
            self._http_server.server_close()
            self._http_server = None
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)
            self._http_thread = None
        if self._grpc_server is not None:
            self._grpc_server.stop(grace=1).wait(timeout=5)
            self._grpc_server = None
        self.shadows.stop()
        self.request_logger.stop()
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
