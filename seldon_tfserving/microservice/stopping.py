"""A component stops on SIGTERM: readiness fails at once, requests in flight are answered, and
the whole process tree is gone within seconds, exit code 0.

seldon-core-microservice runs gunicorn's REST master in its main process, gRPC in a child
that waits on gRPC worker processes, and the metrics and custom servers in more children.
On SIGTERM only gunicorn stops; the gRPC child, never told, is then waited on forever. Here
seldon-core's `start_servers` and the gRPC workers' `_wait_forever` are replaced: the first
SIGTERM is passed to every server process at once, each stops gracefully (gRPC: no new
calls, those in flight finish within the grace), and the main process waits for all of them
within a bound, killing what is left, before it exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from seldon_tfserving.process_exit import exit_now

logger = logging.getLogger(__name__)

#: beyond the stop grace, what the children may take to exit once told
EXIT_MARGIN_S = 1.0
#: how often a gRPC worker checks that its parent is still there
PARENT_CHECK_S = 0.5
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

Handler = Callable[[int, FrameType | None], Any] | int | None


class ServerProcesses:
    """The server processes of one microservice besides its REST master, told once to stop.

    gunicorn's master reaps any child of its process, these included, so an exit is seen by
    a child's sentinel (closed when it ends), never by waitpid.
    """

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.children: list[Any] = []
        self._told = False

    def start(self, target: Callable[[], None], *, daemon: bool) -> None:
        process = multiprocessing.Process(target=target, daemon=daemon)
        process.start()
        self.children.append(process)

    def tell_to_stop(self) -> None:
        """SIGTERM to every server child, once (signal-handler safe: no locks, no waiting)."""
        if self._told:
            return
        self._told = True
        for child in self.children:
            _signal(child.pid, signal.SIGTERM)

    def wait_for_exit(self) -> None:
        """Wait for the servers within the grace and margin, killing any still there; then
        end the helpers they needed to the last (Seldon's metrics store, a Manager process)."""
        deadline = time.monotonic() + self.grace_s + EXIT_MARGIN_S
        _ended_by(self.children, deadline)
        helpers = [p for p in multiprocessing.active_children() if p not in self.children]
        for helper in helpers:
            _signal(helper.pid, signal.SIGTERM)
        _ended_by(helpers, time.monotonic() + EXIT_MARGIN_S)


def _signal(pid: int | None, signum: int) -> None:
    if pid is not None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _ended_by(processes: list[Any], deadline: float) -> None:
    """Wait until each of `processes` has ended or `deadline` passed; kill what is left."""
    waiting = {process.sentinel: process for process in processes}
    while waiting and (left := deadline - time.monotonic()) > 0:
        for sentinel in multiprocessing.connection.wait(list(waiting), left):
            del waiting[sentinel]
    for process in waiting.values():
        logger.warning(
            "%s (%s) still running after the stop grace: killed", process.name, process.pid
        )
        _signal(process.pid, signal.SIGKILL)


def _chained(
    first: Callable[[], None], previous: Handler
) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        first()
        if callable(previous):
            previous(signum, frame)

    return handler


def pass_stop_signals_to(servers: ServerProcesses) -> None:
    """Once gunicorn's master has its signal handlers, have SIGTERM/SIGINT reach `servers` too."""
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _chained(servers.tell_to_stop, signal.getsignal(signum)))


def supervised_start_servers(grace_s: float) -> Callable[..., None]:
    """seldon-core's `start_servers`, with every child told to stop and waited for."""

    def start_servers(
        target1: Callable[[], None],
        target2: Callable[[], None] | None,
        target3: Callable[[], None] | None,
        metrics_target: Callable[[], None] | None,
    ) -> None:
        servers = ServerProcesses(grace_s)
        if target2 is not None:
            servers.start(_stopping_its_children(target2), daemon=False)
        for target in (target3, metrics_target):
            if target is not None:
                servers.start(target, daemon=True)
        _ACTIVE.append(servers)
        main_pid = os.getpid()
        code: int | str | None = 0
        try:
            target1()  # gunicorn's REST master, until it stops
        except SystemExit as stopped:
            if os.getpid() != main_pid:
                exit_now(stopped.code)  # a gunicorn worker forked from the master, ending
            code = stopped.code
        servers.tell_to_stop()
        servers.wait_for_exit()
        logger.info("microservice %d stopped (exit code %s)", main_pid, code)
        exit_now(code)

    return start_servers


#: the running microservice's servers (one per process), for gunicorn's `when_ready` hook
_ACTIVE: list[ServerProcesses] = []


def on_rest_master_ready(_arbiter: Any) -> None:
    """gunicorn's `when_ready`: its handlers are set; ours are chained in front of them."""
    for servers in _ACTIVE:
        pass_stop_signals_to(servers)


def _stopping_its_children(target: Callable[[], None]) -> Callable[[], None]:
    """Seldon's gRPC parent, which only joins its workers, made to pass SIGTERM on to them."""

    def run() -> None:
        def tell_workers(signum: int, _frame: FrameType | None) -> None:
            for worker in multiprocessing.active_children():
                if worker.pid is not None:
                    os.kill(worker.pid, signal.SIGTERM)

        for signum in _STOP_SIGNALS:
            signal.signal(signum, tell_workers)
        target()

    return run


def grpc_served_until_signalled(grace_s: float) -> Callable[[Any], None]:
    """seldon-core's `_wait_forever` for a gRPC worker: serve until SIGTERM, then stop within
    `grace_s` (new calls refused at once, calls in flight answered)."""

    def wait(server: Any) -> None:
        stop = threading.Event()
        for signum in _STOP_SIGNALS:
            signal.signal(signum, lambda _signum, _frame: stop.set())
        parent = os.getppid()
        while not stop.wait(PARENT_CHECK_S) and os.getppid() == parent:
            pass  # a parent killed past its grace leaves no orphan serving behind it
        server.stop(grace_s).wait()
        logger.info("gRPC server %d stopped", os.getpid())
        exit_now(0)

    return wait


def stop_on_sigterm(grace_s: float) -> None:
    """Make `seldon_core.microservice` stop its whole process tree on SIGTERM."""
    from seldon_core import microservice

    microservice.start_servers = supervised_start_servers(grace_s)
    microservice._wait_forever = grpc_served_until_signalled(grace_s)
