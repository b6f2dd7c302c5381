"""The processes a bench run starts on loopback: the backend, the components and a gateway.

They are launched by the runner's launcher (`runner/launch.py`): each in its own session with a
log file and a bounded wait until it answers; a process that dies while starting fails the run
with its log. The stack stops every one of them on exit.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from seldon_tfserving.bench.memory import ProcessMemory, process_memory
from seldon_tfserving.bench.process_names import BACKEND_PROCESS, FORWARDER_PROCESS
from seldon_tfserving.gateway.endpoints import ServerAddress
from seldon_tfserving.ports import free_port, port_open
from seldon_tfserving.runner.child import ChildProcess, stop_together
from seldon_tfserving.runner.launch import (
    LOOPBACK,
    MICROSERVICE,
    Launched,
    LaunchedBackend,
    MicroserviceSpec,
    launch_backend,
    launch_microservice,
    venv_program,
)

logger = logging.getLogger(__name__)

#: seldon-core's own `seldon-core-microservice`, which imports TensorFlow's runtime (the earlier
#: figures); our classes install the same server hooks when constructed.
WITH_TENSORFLOW_MICROSERVICE = (venv_program("seldon-core-microservice"),)


class BenchStack:
    """Starts the bench's processes and stops every one of them on exit.

    A run's logs are its own: logs an earlier run left in `log_dir` are removed first.
    """

    def __init__(self, log_dir: Path, microservice: Sequence[str] = MICROSERVICE) -> None:
        self.log_dir = log_dir
        self.microservice = tuple(microservice)
        self.processes: list[ChildProcess] = []
        for stale in log_dir.glob("*.log"):
            stale.unlink()

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
        stop_together(self.processes)
        self.processes.clear()

    def spawn(
        self, name: str, argv: Sequence[str], env: dict[str, str] | None = None
    ) -> ChildProcess:
        """Start a process of the bench's own (the forwarder, the gateway) with its log."""
        started = ChildProcess(name, argv, self.log_dir / f"{name}.log", dict(env or {})).start()
        self._track(started)
        return started

    def start_backend(
        self,
        model_config: Path,
        models: Sequence[str],
        wait: bool = True,
        name: str = BACKEND_PROCESS,
        extra_args: Sequence[str] = (),
    ) -> LaunchedBackend:
        """`seldon-tfserving serve-models` with the models' config; waits for every model
        unless `wait` is off (then its `wait_ready()` does, once other processes started).

        It does not move to other ports if it loses one: the components are told its address
        before it is ready."""
        backend = launch_backend(
            self.log_dir,
            [f"--model_config_file={model_config}", *extra_args],
            name=name,
            models=models,
            port_retries=0,
        )
        self._track(backend.process)
        if wait:
            backend.wait_ready()
        return backend

    def start_forwarder(self, backend_grpc: str, name: str = FORWARDER_PROCESS) -> str:
        """The bare Python gRPC forwarder (`bench.forwarder`) in front of `backend_grpc` (TF
        Serving, or a component); returns its endpoint once it listens."""
        port = free_port()
        process = self.spawn(
            name,
            [sys.executable, "-m", "seldon_tfserving.bench.forwarder", str(port), backend_grpc],
        )
        process.wait_until(lambda: port_open(port))
        return f"{LOOPBACK}:{port}"

    def start_components(
        self, specs: Sequence[MicroserviceSpec], before_waiting: Callable[[], None] = lambda: None
    ) -> list[ServerAddress]:
        """Real `seldon-core-microservice`s (run by `self.microservice`) hosting our classes,
        started together (they take seconds each to import); calls `before_waiting`, then
        returns once every one answers /health/ping."""
        started: list[Launched] = []
        for spec in specs:
            started.append(launch_microservice(self.log_dir, spec, program=self.microservice))
            self._track(started[-1].process)
        before_waiting()
        for component in started:
            component.wait_ready()
        return [component.address for component in started]

    def memory(self) -> list[ProcessMemory]:
        """Each running process's RSS and its children's, in the order they were started."""
        return [
            process_memory(process.name, process.pid)
            for process in self.processes
            if process.pid is not None
        ]

    def _track(self, process: ChildProcess) -> None:
        self.processes.append(process)
        logger.info("started %s (pid %s), log %s", process.name, process.pid, process.log_path)
