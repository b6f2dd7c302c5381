"""`LocalRunner`: a SeldonDeployment YAML run on this machine the way a cluster would run it.

Backends first (the TF Serving containers), then the graph's components, then the gateway in
front; everything stops on `stop()` or leaving the `with` block. A child that dies later is
reported and the gateway marks the graph nodes it served as down, so they answer 503.
"""

from __future__ import annotations

import functools
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from seldon_tfserving.deploy.model import load_documents
from seldon_tfserving.gateway.endpoints import ServerAddress
from seldon_tfserving.ports import free_port, port_is_free
from seldon_tfserving.runner.bind_host import listen_host
from seldon_tfserving.runner.child import ChildExited, ChildNotReady, wait_all_ready
from seldon_tfserving.runner.errors import StartupError
from seldon_tfserving.runner.launch import lost_its_port
from seldon_tfserving.runner.plan import RunPlan, find_programs, plan_run
from seldon_tfserving.runner.probes import ReadinessProbe
from seldon_tfserving.runner.processes import Child, Supervisor
from seldon_tfserving.runner.progress import FAILED, READY, STARTING, STOPPED, ProgressBoard
from seldon_tfserving.runner.readiness import backend_ready, component_ready
from seldon_tfserving.runner.trusted_code import ONLY_OURS, TrustedCode

if TYPE_CHECKING:
    from seldon_tfserving.gateway.server import Gateway
    from seldon_tfserving.gateway.settings import GatewaySettings

logger = logging.getLogger(__name__)

DEFAULT_READY_TIMEOUT_S = 180.0
POLL_INTERVAL_S = 0.2
#: Ports are chosen free, then bound by the child a moment later; another process may win.
START_RETRIES = 1


@dataclass(frozen=True)
class ChildFailure:
    """A child that exited while it should have been serving."""

    name: str
    returncode: int
    #: endpoint keys of the graph nodes that went down with it
    nodes: tuple[str, ...]
    log_path: Path


class LocalRunner:
    """Start a graph's processes and its gateway; a context manager that always cleans up."""

    def __init__(
        self,
        graph: Path,
        *,
        volumes: Mapping[str, Path] | None = None,
        model_uris: Mapping[str, Path] | None = None,
        host: str = "127.0.0.1",
        http_port: int = 0,
        grpc_port: int = 0,
        predictor: str | None = None,
        log_dir: Path | None = None,
        ready_timeout: float = DEFAULT_READY_TIMEOUT_S,
        progress: ProgressBoard | None = None,
        gateway_settings: GatewaySettings | None = None,
        trusted: TrustedCode = ONLY_OURS,
        log_sink: Path | None = None,
    ) -> None:
        self.graph = Path(graph)
        self.volumes = {name: Path(path).resolve() for name, path in (volumes or {}).items()}
        #: model URI (gs://..., s3://...) -> the local folder serving its files
        self.model_uris = {uri: Path(path).resolve() for uri, path in (model_uris or {}).items()}
        #: where the gateway and every child listen (ValueError: not an address to bind)
        self.host = listen_host(host)
        #: the classes and code-loading env the graph's containers may run beyond ours
        self.trusted = trusted
        self.http_port = http_port or free_port(host)
        self.grpc_port = grpc_port or free_port(host)
        self.predictor = predictor
        self.ready_timeout = ready_timeout
        self.progress = progress or ProgressBoard(None)
        self.gateway_settings = gateway_settings
        #: `--log-sink DIR`: a local sink writing there, every node's logger pointed at it
        self.log_sink = Path(log_sink) if log_sink else None
        self.log_sink_port = free_port(host) if log_sink else None
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="seldon-up-"))
        self._scratch = tempfile.TemporaryDirectory(prefix="seldon-up-scratch-")
        self.plan: RunPlan | None = None
        self.gateway: Gateway | None = None
        self.failures: list[ChildFailure] = []
        self._failure_lock = threading.Lock()
        self.supervisor = Supervisor(self.log_dir, self._child_exited)

    # -- the public face -------------------------------------------------------------------

    @property
    def address(self) -> ServerAddress:
        """Where the gateway listens."""
        return ServerAddress(self.host, self.http_port, self.grpc_port)

    @property
    def http_url(self) -> str:
        return self.address.http_url

    @property
    def grpc_target(self) -> str:
        return self.address.grpc_target

    def start(self) -> Self:
        """Plan, start every child, wait until all are ready, then open the gateway.

        Raises PlanError (bad manifest) or StartupError (a child failed or timed out), after
        stopping whatever had started. A child that lost its port to another process between
        planning and binding is retried once, on fresh ports.
        """
        for attempt in range(1 + START_RETRIES):
            try:
                self._start_once()
                return self
            except StartupError as error:
                if attempt == START_RETRIES or not lost_its_port(str(error)):
                    self.stop()
                    raise
                self._note("a port was taken meanwhile; starting again on fresh ports")
                self.supervisor.stop_all()
                self.supervisor = Supervisor(self.log_dir, self._child_exited)
                with self._failure_lock:
                    self.failures.clear()
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def _start_once(self) -> None:
        for port in (self.http_port, self.grpc_port):
            if not port_is_free(self.host, port):
                raise StartupError(
                    f"the gateway cannot listen on {self.host}:{port}: it is in use "
                    f"(choose another with --http-port / --grpc-port)"
                )
        self.plan = self._make_plan()
        self._materialise(self.plan)
        sink = [] if self.log_sink is None else [self._log_sink_spec(self.log_sink)]
        self._start_all(
            sink
            + [
                (b.name, "backend", b.argv, {}, functools.partial(backend_ready, b))
                for b in self.plan.backends
            ]
        )
        if self.log_sink_url is not None:
            from seldon_tfserving.runner.log_sink import logged_deployments

            deployments = logged_deployments(self.plan.deployments, self.log_sink_url)
            self.plan = replace(self.plan, deployments=deployments)
        self._start_all(
            [
                (c.key, "component", c.command, c.env, functools.partial(component_ready, c))
                for c in self.plan.components
            ]
        )
        self._start_gateway(self.plan)

    def stop(self) -> None:
        """Stop the gateway, then every child (TERM, then KILL after a grace period)."""
        gateway, self.gateway = self.gateway, None
        if gateway is not None:
            try:
                gateway.stop()
            except Exception:  # the children must be stopped whatever the gateway did
                logger.exception("stopping the gateway failed")
            self.progress.set("gateway", "gateway", STOPPED)
        self.supervisor.stop_all()
        for name, child in self.supervisor.children.items():
            if self.progress.state(name) != FAILED:
                self.progress.set(child.kind, name, STOPPED)
        self._scratch.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def child(self, name: str) -> Child:
        """A running child by name: a backend's `deployment/predictor/container` or a node key."""
        return self.supervisor.children[name]

    def restart_backend(self, name: str | None = None) -> float:
        """Restart a backend on the same ports (e.g. to load a changed model config) and wait
        until it and the components of its pod serve again; returns how long that took."""
        plan = self._require_plan()
        backend = next((b for b in plan.backends if name in (None, b.name)), None)
        if backend is None:
            raise KeyError(f"no backend {name!r}")
        began = time.monotonic()
        self.progress.set("backend", backend.name, STARTING, "restarting")
        child = self.supervisor.restart(backend.name)
        self._wait_ready([(child, functools.partial(backend_ready, backend))])
        # the pod's components reconnect on their own; wait until each says it is healthy
        children = self.supervisor.children
        alive = [
            c for c in plan.components if c.key in backend.serves and children[c.key].running()
        ]
        self._wait_ready(
            [(children[c.key], functools.partial(component_ready, c)) for c in alive],
            quiet=True,
        )
        if self.gateway is not None:  # nodes marked down when this backend died serve again
            for component in alive:
                self.gateway.mark_up(component.key)
        return time.monotonic() - began

    def apply_model_config(self, name: str | None = None) -> tuple[str, float]:
        """Make a backend serve its (edited) model config file: TF Serving's reload RPC where
        the server offers it, else a restart. Returns ("reloaded" | "restarted", seconds)."""
        from seldon_tfserving.runner.reload import reload_model_config

        plan = self._require_plan()
        backend = next((b for b in plan.backends if name in (None, b.name)), None)
        if backend is None or backend.model_config_file is None:
            raise KeyError(f"no backend {name!r} with a model config file")
        began = time.monotonic()
        text = backend.model_config_file.read_text()
        if reload_model_config(f"{backend.host}:{backend.grpc_port}", text):
            return "reloaded", time.monotonic() - began
        return "restarted", self.restart_backend(backend.name)

    def wait_for_failure(self, timeout_s: float, since: int = 0) -> ChildFailure | None:
        """The first failure reported after the first `since` ones, waiting up to `timeout_s`
        (None if nothing more failed)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._failure_lock:
                if len(self.failures) > since:
                    return self.failures[since]
            time.sleep(POLL_INTERVAL_S)
        return None

    # -- the steps -------------------------------------------------------------------------

    def _make_plan(self) -> RunPlan:
        programs = find_programs(host=self.host)
        if programs.note is not None:
            self._note(programs.note)
        return plan_run(
            load_documents(self.graph),
            volumes=self.volumes,
            scratch_dir=Path(self._scratch.name),
            allocate_port=lambda: free_port(self.host),
            programs=programs,
            predictor=self.predictor,
            model_uris=self.model_uris,
            host=self.host,
            trusted=self.trusted,
        )

    def _note(self, text: str) -> None:
        """Tell the user: on the board when there is one (a log line would break its redraw)."""
        if self.progress.stream is not None:
            self.progress.message(f"  {text}")
        else:
            logger.warning(text)

    def _require_plan(self) -> RunPlan:
        if self.plan is None:
            raise RuntimeError("the runner has not started")
        return self.plan

    @staticmethod
    def _materialise(plan: RunPlan) -> None:
        for folder in plan.folders:
            folder.mkdir(parents=True, exist_ok=True)
        for path, text in plan.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def _log_sink_spec(
        self, folder: Path
    ) -> tuple[str, str, Sequence[str], Mapping[str, str], Callable[[], bool]]:
        """The `--log-sink` child, started beside the backends (the gateway needs it)."""
        from seldon_tfserving.runner.log_sink import sink_argv

        assert self.log_sink_port is not None
        argv = sink_argv(folder, self.host, self.log_sink_port)
        return (
            "log-sink",
            "log-sink",
            argv,
            {},
            ReadinessProbe(self.log_sink_port, "/ready").passes,
        )

    @property
    def log_sink_url(self) -> str | None:
        """Where every node's logger posts under `--log-sink`."""
        if self.log_sink_port is None:
            return None
        from seldon_tfserving.runner.log_sink import sink_url

        return sink_url(self.host, self.log_sink_port)

    def _start_all(
        self,
        specs: Sequence[tuple[str, str, Sequence[str], Mapping[str, str], Callable[[], bool]]],
    ) -> None:
        """Start a group of children together and wait until each is ready."""
        started = []
        for name, kind, argv, env, ready in specs:
            self.progress.set(kind, name, STARTING)
            started.append((self.supervisor.start(name, argv, env, kind), ready))
        self._wait_ready(started)

    def _wait_ready(
        self, pending: Sequence[tuple[Child, Callable[[], bool]]], quiet: bool = False
    ) -> None:
        """Wait for every probe under one deadline; StartupError if a child exits or is late.
        `quiet` leaves the progress board alone (for children already shown as ready)."""

        def shown_ready(child: Child) -> None:
            if not quiet:
                self.progress.set(child.kind, child.name, READY)

        kinds = {child.name: child.kind for child, _ in pending}
        try:
            wait_all_ready(pending, self.ready_timeout, on_ready=shown_ready)
        except ChildExited as error:
            name = error.child.name
            self.progress.set(kinds[name], name, FAILED, f"exited with {error.returncode}")
            raise
        except ChildNotReady as error:
            for child in error.waiting:
                self.progress.set(kinds[child.name], child.name, FAILED, "not ready in time")
            raise

    def _start_gateway(self, plan: RunPlan) -> None:
        from seldon_tfserving.runner.quiet_tf import import_tensorflow_quietly

        import_tensorflow_quietly()  # the gateway's protos import it: keep the console readable
        from seldon_tfserving.gateway.server import Gateway

        self.progress.set("gateway", "gateway", STARTING)
        gateway = Gateway(
            plan.deployments,
            plan.endpoints,
            host=self.host,
            http_port=self.http_port,
            grpc_port=self.grpc_port,
            settings=self.gateway_settings,
        )
        gateway.start()
        self.gateway = gateway
        # a child may have died while the gateway was starting: tell it now
        with self._failure_lock:
            failures = list(self.failures)
        for failure in failures:
            self._mark_down(failure)
        self.progress.set("gateway", "gateway", READY, f"{self.http_url}  grpc {self.grpc_target}")

    # -- failures --------------------------------------------------------------------------

    def _child_exited(self, child: Child, returncode: int) -> None:
        """The watcher's report: record it, show it, and take the child's nodes down."""
        plan = self.plan
        nodes: tuple[str, ...] = (child.name,)
        if plan is not None:
            backend = next((b for b in plan.backends if b.name == child.name), None)
            if backend is not None:
                nodes = backend.serves
        failure = ChildFailure(child.name, returncode, nodes, child.log_path)
        with self._failure_lock:
            self.failures.append(failure)
        # shown on the board when there is one (a log line would break its redraw on a TTY)
        level = logging.INFO if self.progress.stream is not None else logging.WARNING
        logger.log(level, "%s exited with %s (log: %s)", child.name, returncode, child.log_path)
        self.progress.set(
            child.kind, child.name, FAILED, f"exited with {returncode}; log: {child.log_path}"
        )
        if self.gateway is not None:
            self._mark_down(failure)

    def _mark_down(self, failure: ChildFailure) -> None:
        assert self.gateway is not None
        reason = f"{failure.name} exited with {failure.returncode}"
        for key in failure.nodes:
            self.gateway.mark_down(key, reason)
