"""The backend as one object: its models, TF Serving's gRPC and REST faces over them, and the
pollers that keep them in line with the disk, started and stopped together.

The command's life is `serve_until_signal`; tests and embedders use `start` / `stop` or `with`.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from types import FrameType

import grpc
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from seldon_tfserving.backend.config import resolve_sources
from seldon_tfserving.backend.config_reload import ServedConfig
from seldon_tfserving.backend.core import ServingCore
from seldon_tfserving.backend.grpc_service import build_grpc_server
from seldon_tfserving.backend.loader import session_config
from seldon_tfserving.backend.loading import load_serving_core
from seldon_tfserving.backend.monitoring import GrpcRequestMetrics, ServingMetrics
from seldon_tfserving.backend.rest_server import RestServer
from seldon_tfserving.backend.rest_service import (
    RestSettings,
    build_rest_server,
    default_rest_threads,
)
from seldon_tfserving.backend.server_options import ServerOptions
from seldon_tfserving.errors import ConfigurationError

LOG = logging.getLogger(__name__)

#: The signals that end `serve_until_signal` (a pod's stop, a terminal's Ctrl-C).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: How long gRPC calls in flight may finish when the server stops.
GRPC_GRACE_S = 2.0
#: How long stopping waits for each background thread before it goes on.
_JOIN_TIMEOUT_S = 5.0
_REST_POLL_INTERVAL_S = 0.2


class CannotListen(OSError):
    """A port or socket of the server cannot be bound; nothing the start began is left running."""


class BackendServer:
    """One TF-Serving-compatible server: what `tensorflow_model_server` runs, as an object."""

    def __init__(
        self,
        config: model_server_config_pb2.ModelServerConfig,
        options: ServerOptions | None = None,
    ) -> None:
        """Check `config` against the disk now (ConfigurationError, naming the problem); no
        model is loaded and no port bound before `start`."""
        self.options = options or ServerOptions()
        self._config = config
        self._sources = resolve_sources(config)
        _check_session_config(self.options)
        #: The ports served on, known once started (the asked ones until then; 0: no REST).
        self.grpc_port = self.options.port
        self.rest_port = self.options.rest_api_port
        #: TF Serving's metrics, recorded when its page is served (monitoring on, REST on).
        self.metrics = (
            ServingMetrics(batching=self.options.batching is not None)
            if self.options.prometheus is not None and self.options.rest_api_port
            else None
        )
        self._core: ServingCore | None = None
        self._grpc_server: grpc.Server | None = None
        self._grpc_workers: futures.ThreadPoolExecutor | None = None
        self._rest_server: RestServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def serving(self) -> bool:
        """Started, and not stopped since."""
        return self._core is not None

    def start(self) -> None:
        """Load every model, bind the ports, serve and poll in background threads; returns once
        serving. CannotListen when a port cannot be bound."""
        if self._core is None:
            self._serve(self._load())

    def stop(self) -> None:
        """Stop polling and both faces together (new calls are refused at once, calls in flight
        get a short grace to be answered), then unload every model. Safe to call twice, or
        unstarted."""
        core = self._core
        if core is None:
            return
        self._stopping.set()
        # Both faces stop taking calls at once and answer the ones in flight meanwhile.
        grpc_stopped = (
            self._grpc_server.stop(grace=GRPC_GRACE_S) if self._grpc_server is not None else None
        )
        if self._rest_server is not None:
            self._rest_server.shutdown()
            self._rest_server.server_close()
            self._rest_server = None
        for thread in self._threads:
            thread.join(timeout=_JOIN_TIMEOUT_S)
        self._threads = []
        if grpc_stopped is not None:
            grpc_stopped.wait(timeout=_JOIN_TIMEOUT_S + GRPC_GRACE_S)
            self._grpc_server = None
        if self._grpc_workers is not None:
            self._grpc_workers.shutdown(wait=True, cancel_futures=True)
            self._grpc_workers = None
        core.close()
        self._core = None
        LOG.info("stopped")

    def serve_until_signal(self) -> None:
        """The command's life: load, serve until SIGTERM or SIGINT, stop. In the main thread
        only (Python runs signal handlers there); the previous handlers are put back after.

        The handlers go in once the models are loaded, so a signal while loading still ends
        the process at once (its default action), as it did before. CannotListen as `start`.
        """
        core = self._load() if self._core is None else None
        stop_requested = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            LOG.info("signal %d: shutting down", signum)
            stop_requested.set()

        previous = {signum: signal.signal(signum, request_stop) for signum in STOP_SIGNALS}
        try:
            if core is not None:
                self._serve(core)
            stop_requested.wait()
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def __enter__(self) -> BackendServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the steps of a start -------------------------------------------------------------

    def _load(self) -> ServingCore:
        """TF Serving's initial load of every chosen version (each warmed up first)."""
        return load_serving_core(
            self._sources,
            warm_up=self.options.enable_model_warmup,
            batching=self.options.batching,
            settings=self.options.loading,
        )

    def _serve(self, core: ServingCore) -> None:
        """Bind both faces over `core` and serve; on a port that cannot be bound, give back
        what was bound, unload `core` and raise CannotListen."""
        served_config = ServedConfig(
            core.repository,
            self._config,
            allow_labels_for_unavailable=self.options.allow_version_labels_for_unavailable_models,
        )
        try:
            self._bind(core, served_config)
        except OSError as exc:
            self._unbind()
            core.close()
            raise CannotListen(str(exc)) from exc
        self._core = core
        self._stopping = threading.Event()
        assert self._grpc_server is not None
        self._grpc_server.start()
        if self._rest_server is not None:
            self._spawn("rest", self._rest_server.serve_forever, _REST_POLL_INTERVAL_S)
        self._start_pollers(served_config)
        LOG.info(
            "serving on ports grpc=%d rest=%s (models: %s)",
            self.grpc_port,
            self.rest_port or "off",
            ", ".join(core.model_names),
        )
        if self.metrics is not None and self.options.prometheus is not None:
            LOG.info("metrics for Prometheus at REST path %s", self.options.prometheus.path)

    def _bind(self, core: ServingCore, served_config: ServedConfig) -> None:
        """Bind the REST port (if asked) and the gRPC port and socket, serving nothing yet.
        REST goes first: a plain socket is the simpler to give back."""
        options = self.options
        if options.rest_api_port:
            timeout_ms = options.rest_api_timeout_in_ms
            settings = RestSettings(
                timeout_ms if timeout_ms > 0 else None,
                options.max_request_bytes,
                options.prometheus.path if options.prometheus is not None else None,
                threads=options.rest_api_num_threads or default_rest_threads(),
            )
            self._rest_server = build_rest_server(
                core,
                options.rest_api_port,
                settings,
                host=options.bind_address,
                metrics=self.metrics,
            )
            self.rest_port = int(self._rest_server.server_address[1])
        self._grpc_workers = futures.ThreadPoolExecutor(
            max_workers=options.grpc_max_threads, thread_name_prefix="grpc"
        )
        self._grpc_server, self.grpc_port = build_grpc_server(
            core,
            options.port,
            workers=self._grpc_workers,
            max_request_bytes=options.max_request_bytes,
            host=options.bind_address,
            served_config=served_config,
            socket_path=options.grpc_socket_path,
            interceptors=[GrpcRequestMetrics(self.metrics)] if self.metrics is not None else [],
            channel_arguments=options.grpc_channel_arguments,
        )

    def _unbind(self) -> None:
        """Give back whatever `_bind` bound before it failed."""
        if self._rest_server is not None:
            self._rest_server.server_close()
            self._rest_server = None
        if self._grpc_workers is not None:
            self._grpc_workers.shutdown(wait=True)
            self._grpc_workers = None
        self.grpc_port, self.rest_port = self.options.port, self.options.rest_api_port

    def _start_pollers(self, served_config: ServedConfig) -> None:
        """TF Serving's two pollers: version directories, and the config file when asked."""
        options = self.options
        if options.file_system_poll_wait_seconds > 0:
            self._spawn_poller(
                "version-poller", options.file_system_poll_wait_seconds, served_config.poll_versions
            )
        config_file = options.model_config_file
        if config_file is not None and options.model_config_file_poll_wait_seconds > 0:
            self._spawn_poller(
                "config-poller",
                options.model_config_file_poll_wait_seconds,
                lambda: served_config.reload_file(config_file),
            )

    def _spawn_poller(self, name: str, interval_s: float, task: Callable[[], None]) -> None:
        self._spawn(name, _every, interval_s, self._stopping, task)

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)


def _check_session_config(options: ServerOptions) -> None:
    """A --tensorflow_session_config_file that is not a ConfigProto stops the start, as it
    stops tensorflow_model_server's."""
    try:
        session_config(options.loading.session)
    except text_format.ParseError as exc:
        raise ConfigurationError(
            "tensorflow_session_config_file", f"not a ConfigProto text proto: {exc}"
        ) from None


def _every(interval_s: float, stop: threading.Event, task: Callable[[], None]) -> None:
    """Run `task` every `interval_s` until stopped (TF Serving's pollers); survive its failures."""
    while not stop.wait(interval_s):
        try:
            task()
        except ConfigurationError as exc:
            LOG.warning("poll: %s", exc)
        except Exception:  # the poller must outlive a bad moment on disk
            LOG.exception("poll failed")
