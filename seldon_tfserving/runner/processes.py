"""Supervision of the runner's children, each a `ChildProcess` (own group, own log file).

A watcher thread notices a child that exits while it was meant to run and reports it once;
stopping sends SIGTERM to every group, then SIGKILL after a grace period, so a microservice's
gunicorn workers and metrics process go with it. The grace is short: every child here is a
stateless server (router state is saved as it changes), and Ctrl-C should feel immediate.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from seldon_tfserving.runner.child import ChildProcess, stop_together

logger = logging.getLogger(__name__)

#: How often the watcher looks at its children.
WATCH_INTERVAL_S = 0.2


@dataclass(eq=False)
class Child(ChildProcess):
    """One supervised process: what it is, for reports, and whether its exit is expected."""

    #: "backend" or "component"
    kind: str = "process"
    #: set before a deliberate stop or restart, so the watcher does not report it
    stopping: bool = False
    reported: bool = False

    @property
    def title(self) -> str:
        return f"{self.kind} {self.name}"


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
        """Launch `argv` in a new session (its own process group), logging to the log folder;
        a name already supervised is refused before anything starts (the first would be lost
        to `stop_all` and keep running)."""
        with self._lock:
            if name in self._children:
                raise ValueError(f"a child named {name!r} is supervised already")
        child = Child(
            name,
            tuple(argv),
            self.log_dir / _log_name(name),
            dict(env or {}),
            grace_s=self.grace_s,
            kind=kind,
        )
        self._launch(child)
        with self._lock:
            self._children[name] = child
        self._ensure_watcher()
        return child

    def _launch(self, child: Child) -> None:
        child.start()
        child.stopping = False
        child.reported = False

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
        stop_together(children, self.grace_s)

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


def _log_name(name: str) -> str:
    return name.replace("/", "__") + ".log"
