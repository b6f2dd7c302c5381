"""Real processes on loopback for the tests: free ports, start, wait until ready, stop.

Every wait is bounded; a process that fails to come up raises with the tail of its log, so a
failing fixture says why.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from seldon_tfserving.ports import free_port as free_port  # one registry with the runner's
from seldon_tfserving.ports import port_open as port_open

VENV_BIN = Path(sys.executable).parent
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
TFSERVING_TESTDATA = SHARED / "testdata" / "tfserving"


@dataclass
class ServerProcess:
    """A child process with its log file; stopped by `stop()` or at fixture teardown."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        full_env = {**os.environ, **self.env}
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=PROJECT_ROOT,
            start_new_session=True,
        )
        return self

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout_s: float = 90.0) -> None:
        """Poll `ready` until true; fail fast if the process dies, or after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                if ready():
                    return
            except (requests.RequestException, OSError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout_s}s:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 3.0) -> None:
        """SIGTERM the process group, SIGKILL what is left after `timeout_s`.

        The grace is short on purpose: gunicorn takes up to 15 s to drain on SIGTERM, and the
        tests have nothing in flight when they stop a server.
        """
        if self.process is None or self.process.poll() is not None:
            self._close_log()
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            self._close_log()
            return
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
        self._kill_group()

    def _kill_group(self) -> None:
        """SIGKILL every process left in the group (forked workers included), then reap."""
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=15)
        self._close_log()

    def _close_log(self) -> None:
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    def kill(self) -> None:
        """Kill at once, as a crashed container would go."""
        if self.process is not None:
            self._kill_group()


@dataclass
class Backend:
    """Our TF-Serving-compatible backend (`seldon-tfserving serve-models`) on free ports."""

    server: ServerProcess
    grpc_port: int
    rest_port: int

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def rest_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"


def start_backend(
    log_dir: Path, args: Sequence[str], name: str = "backend", ready_model: str | None = None
) -> Backend:
    """Start `serve-models` with tensorflow_model_server flags and wait for its REST face.

    When `ready_model` is given, waits until that model reports AVAILABLE.
    """
    grpc_port, rest_port = free_port(), free_port()
    argv = [
        str(VENV_BIN / "seldon-tfserving"),
        "serve-models",
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
        *args,
    ]
    server = ServerProcess(name, argv, log_dir / f"{name}-{grpc_port}.log").start()
    backend = Backend(server, grpc_port, rest_port)

    def ready() -> bool:
        if not port_open(grpc_port):
            return False
        if ready_model is None:
            return port_open(rest_port)
        reply = requests.get(f"{backend.rest_endpoint}/v1/models/{ready_model}", timeout=2)
        return reply.ok and any(
            v.get("state") == "AVAILABLE" for v in reply.json().get("model_version_status", [])
        )

    server.wait_until(ready)
    return backend


@dataclass
class Microservice:
    """A real `seldon-core-microservice` hosting one of our classes."""

    server: ServerProcess
    http_port: int
    grpc_port: int
    metrics_port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def start_microservice(
    log_dir: Path,
    interface: str,
    service_type: str = "MODEL",
    parameters: Sequence[dict[str, str]] = (),
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    wait_ready: bool = True,
) -> Microservice:
    """Start `seldon-core-microservice INTERFACE` on free ports and wait for /health/ping."""
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    argv = [
        str(VENV_BIN / "seldon-core-microservice"),
        interface,
        "--service-type",
        service_type,
        "--http-port",
        str(http_port),
        "--grpc-port",
        str(grpc_port),
        "--metrics-port",
        str(metrics_port),
        *extra_args,
    ]
    if parameters:
        argv += ["--parameters", json.dumps(list(parameters))]
    name = interface.rsplit(".", 1)[-1]
    server = ServerProcess(
        name, argv, log_dir / f"{name}-{http_port}.log", env=dict(env or {})
    ).start()
    service = Microservice(server, http_port, grpc_port, metrics_port)
    if wait_ready:
        server.wait_until(
            lambda: (
                port_open(grpc_port)
                and requests.get(f"{service.http_url}/health/ping", timeout=2).ok
            )
        )
    return service


def scrape_until(url: str, shows: Callable[[str], bool], timeout_s: float = 10.0) -> str:
    """A Prometheus scrape of `url` once it `shows` what a test awaits (or the last one).

    Our components record Seldon's metrics off the request path (`metrics_batching`), so a
    scrape shows a request's metrics within a flush interval rather than at once.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        answer = requests.get(url, timeout=10)
        answer.raise_for_status()
        if shows(answer.text) or time.monotonic() > deadline:
            return answer.text
        time.sleep(0.1)


def scrape_settled(url: str, quiet_s: float = 0.5, timeout_s: float = 10.0) -> str:
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
