"""Supervision of the runner's children: each in its own process group with its own log file.

A watcher thread notices a child that exits while it was meant to run and reports it once;
stopping sends SIGTERM to every group, then SIGKILL after a grace period, so a microservice's
gunicorn workers and metrics process go with it. The grace is short: every child here is a
stateless server (router state is saved as it changes), and Ctrl-C should feel immediate.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

#: How often the watcher looks at its children.
WATCH_INTERVAL_S = 0.2


@dataclass
class Child:
    """One supervised process: what it runs, where it logs, and whether its exit is expected."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    log_path: Path
    #: what it is, for reports: "backend" or "component"
    kind: str = "process"
    process: subprocess.Popen[bytes] | None = None
    #: set before a deliberate stop or restart, so the watcher does not report it
    stopping: bool = False
    reported: bool = False
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


ExitHandler = Callable[[Child, int], None]


class Supervisor:
    """Starts children, watches them, and stops them all (TERM, then KILL after `grace_s`)."""

    def __init__(self, log_dir: Path, on_unexpected_exit: ExitHandler, grace_s: float = 5.0):
        self.log_dir = log_dir
        self.on_unexpected_exit = on_unexpected_exit
        self.grace_s = grace_s
        self._children: dict[str, Child] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def children(self) -> dict[str, Child]:
        with self._lock:
            return dict(self._children)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        kind: str = "process",
    ) -> Child:
        """Launch `argv` in a new session (its own process group), logging to the log folder."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        child = Child(name, tuple(argv), dict(env or {}), self.log_dir / _log_name(name), kind)
        self._launch(child)
        with self._lock:
            self._children[name] = child
        self._ensure_watcher()
        return child

    def _launch(self, child: Child) -> None:
        child._log = child.log_path.open("ab")
        child.process = subprocess.Popen(
            child.argv,
            stdin=subprocess.DEVNULL,
            stdout=child._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **child.env},
            start_new_session=True,
        )
        child.stopping = False
        child.reported = False
        logger.debug("started %s (pid %s): %s", child.name, child.process.pid, child.argv)

    def restart(self, name: str) -> Child:
        """Stop one child deliberately and start it again with the same command."""
        child = self.children[name]
        self._stop_children([child])
        self._launch(child)
        return child

    def stop_all(self) -> None:
        """Stop every child and the watcher; safe to call more than once."""
        self._closing.set()
        self._stop_children(list(self.children.values()))
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5)

    def _stop_children(self, children: Sequence[Child]) -> None:
        for child in children:
            child.stopping = True
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for child in children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # seldon-core-microservice's graceful shutdown can outlast a short grace period
                logger.info(
                    "%s still up %.0f s after SIGTERM; killing it", child.name, self.grace_s
                )
            # the group may hold workers that outlive their parent: kill what is left
            _signal_group(child, signal.SIGKILL)
            try:
                child.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                logger.error("%s (pid %s) did not die", child.name, child.pid)
            if child._log is not None:
                child._log.close()
                child._log = None

    def _ensure_watcher(self) -> None:
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="child-watcher", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        while not self._closing.wait(WATCH_INTERVAL_S):
            for child in self.children.values():
                process = child.process
                if child.stopping or child.reported or process is None:
                    continue
                code = process.poll()
                if code is None:
                    continue
                child.reported = True
                try:
                    self.on_unexpected_exit(child, code)
                except Exception:  # a faulty handler must not end supervision of the rest
                    logger.exception("handling the exit of %s failed", child.name)


def _signal_group(child: Child, sig: signal.Signals) -> None:
    if child.process is None:
        return
    try:
        os.killpg(child.process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _log_name(name: str) -> str:
    return name.replace("/", "__") + ".log"
