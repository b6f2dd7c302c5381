"""The two children every part of the house starts, and when each one counts as ready.

A backend is `seldon-tfserving serve-models` (or any program taking tensorflow_model_server's
flags): ready when its gRPC port is open and each named model reports a version AVAILABLE on
its REST face. A microservice is `seldon-core-microservice INTERFACE` (through our entrypoint,
`microservice/serve.py`): ready when its gRPC port is open and a health path (Seldon's
`/health/ping`, or `/health/status` where the caller wants the class's own verdict) answers
200. Ports come from the one registry (`ports.py`); a child
that loses one to another process between choice and bind starts again on fresh ports.
"""

from __future__ import annotations

import json
import logging
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from seldon_tfserving.gateway.endpoints import ServerAddress
from seldon_tfserving.grpc_runtime import EXPERIMENTS_VARIABLE, experiments_as_shipped
from seldon_tfserving.ports import free_port, port_open
from seldon_tfserving.runner.bind_host import LOOPBACK as LOOPBACK
from seldon_tfserving.runner.child import START_TIMEOUT_S, STOP_GRACE_S, ChildProcess

logger = logging.getLogger(__name__)

PING = "/health/ping"
STATUS = "/health/status"
PROBE_TIMEOUT_S = 2.0
#: Starts again after a lost port: each repeats only if another process wins the race again.
PORT_RETRIES = 1
#: What a child's log says when a port it was given was taken meanwhile.
PORT_TAKEN_SIGNS = ("address already in use", "failed to bind", "errno 98", "connection in use")


def venv_program(name: str) -> str:
    """A console script of this environment (installed beside the running interpreter)."""
    return str(Path(sys.executable).parent / name)


SERVE_MODELS = (venv_program("seldon-tfserving"), "serve-models")
#: seldon-core-microservice behind our entrypoint: REST port bounded, graceful stop on SIGTERM
#: `python -m` puts the working directory first on the import path, as the s2i image's
#: `seldon-core-microservice` finds a user's module there (seldon-core appends it too; an
#: installed `tests` package, which seldon-core ships, would otherwise shadow a project's).
MICROSERVICE = (sys.executable, "-m", "seldon_tfserving.microservice")


def lost_its_port(report: str) -> bool:
    """Whether a start-up failure's log says a port was already taken."""
    lowered = report.lower()
    return any(sign in lowered for sign in PORT_TAKEN_SIGNS)


def backend_argv(
    program: Sequence[str], grpc_port: int, rest_port: int, flags: Sequence[str] = ()
) -> tuple[str, ...]:
    """tensorflow_model_server's command line: its two ports, then the caller's flags."""
    return (*program, f"--port={grpc_port}", f"--rest_api_port={rest_port}", *flags)


def microservice_argv(
    program: Sequence[str],
    interface: str,
    *,
    service_type: str,
    http_port: int,
    grpc_port: int,
    metrics_port: int,
    threads: int | None = None,
    parameters: Sequence[Mapping[str, str]] = (),
    extra_args: Sequence[str] = (),
) -> tuple[str, ...]:
    """`seldon-core-microservice`'s command line; parameters go last, as one JSON list."""
    argv = [
        *program,
        interface,
        "--service-type",
        service_type,
        "--http-port",
        str(http_port),
        "--grpc-port",
        str(grpc_port),
        "--metrics-port",
        str(metrics_port),
    ]
    if threads is not None:
        argv += ["--threads", str(threads), "--grpc-threads", str(threads)]
    argv += extra_args
    if parameters:
        argv += ["--parameters", json.dumps([dict(p) for p in parameters])]
    return tuple(argv)


def model_available(rest_url: str, model: str) -> bool:
    """Whether TF Serving's REST face at `rest_url` reports a version of `model` AVAILABLE."""
    try:
        reply = requests.get(f"{rest_url}/v1/models/{model}", timeout=PROBE_TIMEOUT_S)
        if not reply.ok:
            return False
        document = reply.json()
    except (requests.RequestException, ValueError):
        return False
    statuses = document.get("model_version_status") if isinstance(document, dict) else None
    return any(status.get("state") == "AVAILABLE" for status in statuses or ())


def backend_ready(
    grpc_port: int, rest_port: int | None, models: Sequence[str] = (), host: str = LOOPBACK
) -> bool:
    """gRPC open; with a REST face, every model in `models` AVAILABLE (naming none: REST open)."""
    if not port_open(grpc_port, host):
        return False
    if rest_port is None:
        return True
    if not models:
        return port_open(rest_port, host)
    rest_url = ServerAddress(host, rest_port, grpc_port).http_url
    return all(model_available(rest_url, model) for model in models)


def microservice_ready(address: ServerAddress, health_path: str = PING) -> bool:
    """gRPC open (Seldon serves it from a process of its own) and `health_path` answers 200."""
    if not port_open(address.grpc_port, address.host):
        return False
    try:
        reply = requests.get(f"{address.http_url}{health_path}", timeout=PROBE_TIMEOUT_S)
    except requests.RequestException:
        return False
    return reply.status_code == 200


@dataclass(frozen=True)
class MicroserviceSpec:
    """One microservice to launch: the class it hosts, its service type, Seldon parameters and
    thread counts; `name` (default: the class's) names its log."""

    interface: str
    service_type: str = "MODEL"
    parameters: Sequence[Mapping[str, str]] = ()
    threads: int | None = None
    extra_args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    #: the command that runs it, when not the launcher's (a class measured beside ours runs
    #: under seldon-core's own entrypoint, as Seldon runs it)
    program: Sequence[str] | None = None

    @property
    def log_name(self) -> str:
        return self.name or self.interface.rsplit(".", 1)[-1]


@dataclass(eq=False)
class Launched(ABC):
    """A child launched on ports of its own, with its readiness check."""

    process: ChildProcess
    #: where it listens (a backend's `http_port` is its REST port)
    address: ServerAddress
    #: how many more times it may start again on fresh ports (0: its address is out already)
    retries_left: int = field(default=PORT_RETRIES, kw_only=True)

    @abstractmethod
    def ready(self) -> bool: ...

    @abstractmethod
    def _move_to_fresh_ports(self) -> tuple[str, ...]:
        """Take new ports; return the command line that uses them."""

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until ready; raise StartupError with the log's tail if it exits or is late."""
        self.process.wait_until(self.ready, timeout_s, start_again=self.start_again_if_port_lost)

    def start_again_if_port_lost(self, _: ChildProcess | None = None) -> bool:
        """While starting: when this run's log says a port was taken meanwhile, start again on
        fresh ports (while retries are left). seldon-core-microservice does not exit when its
        REST server cannot bind (its gRPC process lives on), so an exit is not awaited."""
        if self.retries_left <= 0 or not lost_its_port(self.process.log_of_this_run()):
            return False
        self.retries_left -= 1
        self.process.kill()  # its other servers may still hold the ports it did get
        self.process.argv = self._move_to_fresh_ports()
        logger.warning("%s lost a port to another process; starting again", self.process.name)
        self.process.start()
        return True


@dataclass(eq=False)
class LaunchedBackend(Launched):
    """A backend (serve-models or tensorflow_model_server) on free gRPC and REST ports."""

    program: Sequence[str]
    flags: Sequence[str]
    #: ready once each of these reports AVAILABLE (none: once REST listens)
    models: Sequence[str]

    def ready(self) -> bool:
        address = self.address
        return backend_ready(address.grpc_port, address.http_port, self.models, address.host)

    def _move_to_fresh_ports(self) -> tuple[str, ...]:
        rest_port, grpc_port = free_port(), free_port()
        self.address = ServerAddress(self.address.host, rest_port, grpc_port)
        return backend_argv(self.program, grpc_port, rest_port, self.flags)


@dataclass(eq=False)
class LaunchedMicroservice(Launched):
    """A `seldon-core-microservice` on free HTTP, gRPC and metrics ports."""

    spec: MicroserviceSpec
    metrics_port: int
    program: Sequence[str]
    health_path: str

    def ready(self) -> bool:
        return microservice_ready(self.address, self.health_path)

    def _move_to_fresh_ports(self) -> tuple[str, ...]:
        self.address = ServerAddress(self.address.host, free_port(), free_port())
        self.metrics_port = free_port()
        return self.argv()

    def argv(self) -> tuple[str, ...]:
        spec = self.spec
        return microservice_argv(
            self.program,
            spec.interface,
            service_type=spec.service_type,
            http_port=self.address.http_port,
            grpc_port=self.address.grpc_port,
            metrics_port=self.metrics_port,
            threads=spec.threads,
            parameters=spec.parameters,
            extra_args=spec.extra_args,
        )


def launch_backend(
    log_dir: Path,
    flags: Sequence[str],
    *,
    name: str = "backend",
    models: Sequence[str] = (),
    program: Sequence[str] = SERVE_MODELS,
    cwd: Path | None = None,
    grace_s: float = STOP_GRACE_S,
    port_retries: int = PORT_RETRIES,
) -> LaunchedBackend:
    """Start a backend on free ports, logging to `<log_dir>/<name>-<grpc port>.log` (unique:
    the registry hands a port out once); `wait_ready()` waits for it. Any program but ours
    (the real tensorflow_model_server) runs with gRPC as its makers ship it."""
    grpc_port, rest_port = free_port(), free_port()
    ours = tuple(program) == SERVE_MODELS
    shipped = {} if ours else {EXPERIMENTS_VARIABLE: experiments_as_shipped()}
    process = ChildProcess(
        name,
        backend_argv(program, grpc_port, rest_port, flags),
        log_dir / f"{name}-{grpc_port}.log",
        shipped,
        cwd=cwd,
        grace_s=grace_s,
    )
    address = ServerAddress(LOOPBACK, rest_port, grpc_port)
    launched = LaunchedBackend(process, address, program, flags, models, retries_left=port_retries)
    process.start()
    return launched


def launch_microservice(
    log_dir: Path,
    spec: MicroserviceSpec,
    *,
    program: Sequence[str] = MICROSERVICE,
    health_path: str = PING,
    cwd: Path | None = None,
    grace_s: float = STOP_GRACE_S,
    port_retries: int = PORT_RETRIES,
) -> LaunchedMicroservice:
    """Start `seldon-core-microservice` on free ports, logging to `<log_dir>/<name>-<http
    port>.log`; `wait_ready()` waits until it answers."""
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    process = ChildProcess(
        spec.log_name,
        (),
        log_dir / f"{spec.log_name}-{http_port}.log",
        env=dict(spec.env),
        cwd=cwd,
        grace_s=grace_s,
    )
    launched = LaunchedMicroservice(
        process,
        ServerAddress(LOOPBACK, http_port, grpc_port),
        spec=spec,
        metrics_port=metrics_port,
        program=spec.program or program,
        health_path=health_path,
        retries_left=port_retries,
    )
    process.argv = launched.argv()
    process.start()
    return launched
