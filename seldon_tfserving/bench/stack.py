"""The processes a bench run starts on loopback: the backend, the components and a gateway.

Every process gets its own session (so stopping it stops its children), a log file, and a
bounded wait until it answers; a process that dies while starting fails the run with its log.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import requests

from seldon_tfserving.ports import free_port, port_open

logger = logging.getLogger(__name__)

#: Seconds a process may take to answer after it starts (TensorFlow imports are slow on 2 cores).
START_TIMEOUT_S = 180.0
LOOPBACK = "127.0.0.1"


class StartFailed(RuntimeError):
    """A bench process exited or did not answer in time; the message has its log's tail."""


def _program(name: str) -> str:
    """A console script of this venv (next to the running interpreter)."""
    return str(Path(sys.executable).parent / name)


@dataclass
class BenchProcess:
    """One child process with its log; `stop()` ends its whole process group."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_until(self, ready: Callable[[], bool], timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartFailed(f"{self.name} exited:\n{self.log_tail()}")
            try:
                if ready():
                    return
            except (requests.RequestException, OSError):
                pass
            time.sleep(0.2)
        raise StartFailed(f"{self.name} did not answer in {timeout_s:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout_s)
        except ProcessLookupError:
            pass


@dataclass(frozen=True)
class BackendAddress:
    grpc_endpoint: str
    rest_endpoint: str


@dataclass(frozen=True)
class ComponentAddress:
    http_port: int
    grpc_port: int

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"{LOOPBACK}:{self.grpc_port}"


class BenchStack:
    """Starts the bench's processes and stops every one of them on exit, in reverse order."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[BenchProcess] = []
        self._backends: dict[BackendAddress, tuple[BenchProcess, int]] = {}

    def __enter__(self) -> BenchStack:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        while self.processes:
            self.processes.pop().stop()

    def spawn(
        self, name: str, argv: Sequence[str], env: dict[str, str] | None = None
    ) -> BenchProcess:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        started = BenchProcess(name, process, log_path)
        self.processes.append(started)
        logger.info("started %s (pid %d), log %s", name, process.pid, log_path)
        return started

    def start_backend(
        self,
        model_config: Path,
        models: Sequence[str],
        wait: bool = True,
        name: str = "backend",
        extra_args: Sequence[str] = (),
    ) -> BackendAddress:
        """`seldon-tfserving serve-models` with the models' config; waits for every model
        unless `wait` is off (then `wait_for_backend` does, once other processes are started)."""
        grpc_port, rest_port = free_port(), free_port()
        process = self.spawn(
            name,
            [
                _program("seldon-tfserving"),
                "serve-models",
                f"--port={grpc_port}",
                f"--rest_api_port={rest_port}",
                f"--model_config_file={model_config}",
                *extra_args,
            ],
        )
        address = BackendAddress(f"{LOOPBACK}:{grpc_port}", f"http://{LOOPBACK}:{rest_port}")
        self._backends[address] = (process, grpc_port)
        if wait:
            self.wait_for_backend(address, models)
        return address

    def wait_for_backend(self, address: BackendAddress, models: Sequence[str]) -> None:
        if address not in self._backends:
            raise RuntimeError("start_backend first")
        process, grpc_port = self._backends[address]

        def available(model: str) -> bool:
            reply = requests.get(f"{address.rest_endpoint}/v1/models/{model}", timeout=2)
            states = [v.get("state") for v in reply.json().get("model_version_status", [])]
            return reply.ok and "AVAILABLE" in states

        process.wait_until(lambda: port_open(grpc_port) and all(available(m) for m in models))

    def start_forwarder(self, backend_grpc: str) -> str:
        """The bare Python gRPC forwarder (`bench.forwarder`) in front of `backend_grpc`;
        returns its endpoint once it listens."""
        port = free_port()
        process = self.spawn(
            "forwarder",
            [sys.executable, "-m", "seldon_tfserving.bench.forwarder", str(port), backend_grpc],
        )
        process.wait_until(lambda: port_open(port))
        return f"{LOOPBACK}:{port}"

    def start_components(
        self, specs: Sequence[ComponentSpec], before_waiting: Callable[[], None] = lambda: None
    ) -> list[ComponentAddress]:
        """Real `seldon-core-microservice`s hosting our classes, started together (they take
        seconds each to import); calls `before_waiting`, then returns once every one answers
        /health/ping."""
        started = []
        for spec in specs:
            address = ComponentAddress(free_port(), free_port())
            argv = [
                _program("seldon-core-microservice"),
                spec.interface,
                "--service-type",
                spec.service_type,
                "--http-port",
                str(address.http_port),
                "--grpc-port",
                str(address.grpc_port),
                "--metrics-port",
                str(free_port()),
                "--threads",
                str(spec.threads),
                "--grpc-threads",
                str(spec.threads),
            ]
            if spec.parameters:
                argv += ["--parameters", json.dumps(list(spec.parameters))]
            started.append((self.spawn(spec.name, argv), address))
        before_waiting()
        for process, address in started:
            process.wait_until(functools.partial(_component_answers, address))
        return [address for _, address in started]


def _component_answers(address: ComponentAddress) -> bool:
    return (
        port_open(address.grpc_port)
        and requests.get(f"{address.http_url}/health/ping", timeout=2).ok
    )


@dataclass(frozen=True)
class ComponentSpec:
    """One component to start: its log name, class, Seldon parameters and service type."""

    name: str
    interface: str
    parameters: Sequence[dict[str, str]] = ()
    service_type: str = "MODEL"
    threads: int = 8
