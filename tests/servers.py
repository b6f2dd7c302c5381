"""Real processes on loopback for the tests: the runner's launcher, with the tests' names.

Backends and microservices are launched by `seldon_tfserving/runner/launch.py` on free ports
from the one registry; every wait is bounded, and a process that fails to come up raises with
the tail of its log, so a failing fixture says why.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from seldon_tfserving.gateway.endpoints import ServerAddress
from seldon_tfserving.ports import free_port as free_port  # one registry with the runner's
from seldon_tfserving.ports import port_open as port_open
from seldon_tfserving.runner.child import START_TIMEOUT_S, ChildProcess
from seldon_tfserving.runner.launch import (
    LOOPBACK,
    MICROSERVICE,
    LaunchedMicroservice,
    MicroserviceSpec,
    launch_backend,
    launch_microservice,
)
from tests.waiting import eventually

VENV_BIN = Path(sys.executable).parent
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
TFSERVING_TESTDATA = SHARED / "testdata" / "tfserving"
#: SIGTERM's grace when a test stops a server: gunicorn takes up to 15 s to drain, and the
#: tests have nothing in flight when they stop one.
STOP_GRACE_S = 3.0


@dataclass(eq=False)
class ServerProcess(ChildProcess):
    """A child a test starts by hand (`ServerProcess(name, argv, log).start()`), from the
    project root, with the tests' short grace on `stop()`."""

    cwd: Path | None = PROJECT_ROOT
    grace_s: float = STOP_GRACE_S


@dataclass
class Backend:
    """Our TF-Serving-compatible backend (`seldon-tfserving serve-models`) on free ports."""

    server: ChildProcess
    grpc_port: int
    rest_port: int

    @property
    def address(self) -> ServerAddress:
        return ServerAddress(LOOPBACK, self.rest_port, self.grpc_port)

    @property
    def grpc_endpoint(self) -> str:
        return self.address.grpc_target

    @property
    def rest_endpoint(self) -> str:
        return self.address.http_url


def start_backend(
    log_dir: Path, args: Sequence[str], name: str = "backend", ready_model: str | None = None
) -> Backend:
    """Start `serve-models` with tensorflow_model_server flags and wait for its REST face.

    When `ready_model` is given, waits until that model reports AVAILABLE.
    """
    launched = launch_backend(
        log_dir,
        args,
        name=name,
        models=(ready_model,) if ready_model else (),
        cwd=PROJECT_ROOT,
        grace_s=STOP_GRACE_S,
    )
    try:
        launched.wait_ready()
    except BaseException:  # one that never came up is stopped too, not left serving
        launched.process.stop()
        raise
    return Backend(launched.process, launched.address.grpc_port, launched.address.http_port)


@dataclass(frozen=True)
class Microservice:
    """A real `seldon-core-microservice` hosting one of our classes, as the launcher runs it
    (its ports move if it lost one while starting)."""

    launched: LaunchedMicroservice

    @property
    def server(self) -> ChildProcess:
        return self.launched.process

    @property
    def address(self) -> ServerAddress:
        return self.launched.address

    @property
    def http_port(self) -> int:
        return self.address.http_port

    @property
    def grpc_port(self) -> int:
        return self.address.grpc_port

    @property
    def metrics_port(self) -> int:
        return self.launched.metrics_port

    @property
    def http_url(self) -> str:
        return self.address.http_url

    @property
    def grpc_endpoint(self) -> str:
        return self.address.grpc_target


def start_microservice(
    log_dir: Path,
    interface: str,
    service_type: str = "MODEL",
    parameters: Sequence[dict[str, str]] = (),
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    wait_ready: bool = True,
    program: Sequence[str] = MICROSERVICE,
) -> Microservice:
    """Start `seldon-core-microservice INTERFACE` (run by `program`) on free ports and wait
    for /health/ping (unless `wait_ready` is off: then `wait_until_ready` does, once the
    others started)."""
    spec = MicroserviceSpec(
        interface,
        service_type,
        parameters=tuple(parameters),
        extra_args=tuple(extra_args),
        env=dict(env or {}),
    )
    service = Microservice(
        launch_microservice(log_dir, spec, program=program, cwd=PROJECT_ROOT, grace_s=STOP_GRACE_S)
    )
    if wait_ready:
        wait_until_ready(service)
    return service


def wait_until_ready(*services: Microservice, timeout_s: float = START_TIMEOUT_S) -> None:
    """Wait until each microservice answers /health/ping, each within `timeout_s`; one that
    lost a port to another process meanwhile is started again on fresh ports."""
    for service in services:
        service.launched.wait_ready(timeout_s)


def scrape_until(
    url: str, shows: Callable[[str], bool], timeout_s: float = 10.0, *, awaited: str = ""
) -> str:
    """A Prometheus scrape of `url` once it `shows` what a test awaits; AssertionError naming
    `awaited` if none did within `timeout_s`.

    Our components record Seldon's metrics off the request path (`metrics_buffer`), so a
    scrape shows a request's metrics within a flush interval rather than at once.
    """

    def scrape() -> str | None:
        answer = requests.get(url, timeout=10)
        answer.raise_for_status()
        return answer.text if shows(answer.text) else None

    return eventually(
        scrape,
        timeout_s,
        interval_s=0.1,
        awaited=awaited or f"a scrape of {url} showing what the test awaits",
    )


def scrape_settled(url: str, quiet_s: float = 1.5, timeout_s: float = 15.0) -> str:
    """A scrape of `url` once it stopped changing for `quiet_s` (more than a flush interval):
    a baseline that no earlier request's late-recorded metrics will move."""
    deadline = time.monotonic() + timeout_s
    last = requests.get(url, timeout=10).text
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = requests.get(url, timeout=10).text
        if now == last:
            return now
        last = now
    return last
