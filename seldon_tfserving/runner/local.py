"""`LocalRunner`: a SeldonDeployment YAML run on this machine the way a cluster would run it.

Backends first (the TF Serving containers), then the graph's components, then the gateway in
front; everything stops on `stop()` or leaving the `with` block. A child that dies later is
reported and the gateway marks the graph nodes it served as down, so they answer 503.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from seldon_tfserving.deploy.model import load_documents
from seldon_tfserving.ports import free_port, port_is_free
from seldon_tfserving.runner.errors import StartupError
from seldon_tfserving.runner.plan import RunPlan, find_programs, plan_run
from seldon_tfserving.runner.processes import Child, Supervisor
from seldon_tfserving.runner.progress import FAILED, READY, STARTING, STOPPED, ProgressBoard
from seldon_tfserving.runner.readiness import backend_ready, component_ready

if TYPE_CHECKING:
    from seldon_tfserving.gateway.server import Gateway
    from seldon_tfserving.gateway.settings import GatewaySettings

logger = logging.getLogger(__name__)

DEFAULT_READY_TIMEOUT_S = 180.0
POLL_INTERVAL_S = 0.2
#: Ports are chosen free, then bound by the child a moment later; another process may win.
START_RETRIES = 1
PORT_TAKEN_SIGNS = ("address already in use", "failed to bind", "errno 98", "connection in use")


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
        host: str = "127.0.0.1",
        http_port: int = 0,
        grpc_port: int = 0,
        predictor: str | None = None,
        log_dir: Path | None = None,
        ready_timeout: float = DEFAULT_READY_TIMEOUT_S,
        progress: ProgressBoard | None = None,
        gateway_settings: GatewaySettings | None = None,
    ) -> None:
        self.graph = Path(graph)
        self.volumes = {name: Path(path).resolve() for name, path in (volumes or {}).items()}
        self.host = host
        self.http_port = http_port or free_port(host)
        self.grpc_port = grpc_port or free_port(host)
        self.predictor = predictor
        self.ready_timeout = ready_timeout
        self.progress = progress or ProgressBoard(None)
        self.gateway_settings = gateway_settings
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="seldon-up-"))
        self._scratch = tempfile.TemporaryDirectory(prefix="seldon-up-scratch-")
        self.plan: RunPlan | None = None
        self.gateway: Gateway | None = None
        self.failures: list[ChildFailure] = []
        self._failure_lock = threading.Lock()
        self.supervisor = Supervisor(self.log_dir, self._child_exited)

    # -- the public face -------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

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
                if attempt == START_RETRIES or not _lost_its_port(str(error)):
                    self.stop()
                    raise
                retry_note = "a port was taken meanwhile; starting again on fresh ports"
                if self.progress.stream is not None:
                    self.progress.message(f"  {retry_note}")
                else:
                    logger.warning(retry_note)
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
        self._start_all(
            [(b.name, "backend", b.argv, {}, _probe(backend_ready, b)) for b in self.plan.backends]
        )
        self._start_all(
            [
                (c.key, "component", c.argv, c.env, _probe(component_ready, c))
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
        self._wait_ready([(backend.name, "backend", child, _probe(backend_ready, backend))])
        # the pod's components reconnect on their own; wait until each says it is healthy
        children = self.supervisor.children
        alive = [
            c for c in plan.components if c.key in backend.serves and children[c.key].running()
        ]
        self._wait_ready(
            [(c.key, "component", children[c.key], _probe(component_ready, c)) for c in alive],
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
        if reload_model_config(f"127.0.0.1:{backend.grpc_port}", text):
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
        return plan_run(
            load_documents(self.graph),
            volumes=self.volumes,
            scratch_dir=Path(self._scratch.name),
            allocate_port=lambda: free_port(self.host),
            programs=find_programs(),
            predictor=self.predictor,
        )

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

    def _start_all(
        self,
        specs: Sequence[tuple[str, str, Sequence[str], Mapping[str, str], Callable[[], bool]]],
    ) -> None:
        """Start a group of children together and wait until each is ready."""
        started = []
        for name, kind, argv, env, ready in specs:
            self.progress.set(kind, name, STARTING)
            started.append((name, kind, self.supervisor.start(name, argv, env, kind), ready))
        self._wait_ready(started)

    def _wait_ready(
        self,
        pending: Sequence[tuple[str, str, Child, Callable[[], bool]]],
        quiet: bool = False,
    ) -> None:
        """Poll each probe until true; raise StartupError if a child exits or time runs out.
        `quiet` leaves the progress board alone (for children already shown as ready)."""
        deadline = time.monotonic() + self.ready_timeout
        waiting = list(pending)
        while waiting:
            for item in list(waiting):
                name, kind, child, ready = item
                if not child.running():
                    code = child.process.returncode if child.process else -1
                    self.progress.set(kind, name, FAILED, f"exited with {code}")
                    raise StartupError(
                        f"{kind} {name} exited with {code} while starting "
                        f"(log: {child.log_path}):\n{child.log_tail()}"
                    )
                if ready():
                    if not quiet:
                        self.progress.set(kind, name, READY)
                    waiting.remove(item)
            if waiting and time.monotonic() > deadline:
                for name, kind, _, _ in waiting:
                    self.progress.set(kind, name, FAILED, "not ready in time")
                name, kind, child, _ = waiting[0]
                raise StartupError(
                    f"{kind} {name} not ready after {self.ready_timeout:.0f} s "
                    f"(log: {child.log_path}):\n{child.log_tail()}"
                )
            if waiting:
                time.sleep(POLL_INTERVAL_S)

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


def _lost_its_port(report: str) -> bool:
    """Whether a start-up failure's log says a port was already taken."""
    lowered = report.lower()
    return any(sign in lowered for sign in PORT_TAKEN_SIGNS)


def _probe(check: Callable[[Any], bool], target: Any) -> Callable[[], bool]:
    return lambda: check(target)
