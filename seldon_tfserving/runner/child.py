"""One child process as every launcher of ours runs it: own session, own log, bounded waits.

A child gets a new session, so stopping its process group also stops the workers it forks
(gunicorn's, the metrics server); a wait polls a readiness check under a deadline and fails at
once, with the log's tail, when the child dies; stopping sends SIGTERM to the group, and to any
process below the child that left it (process_tree.py), then SIGKILL to whatever is left after
a grace period, so a stop is bounded whatever the child does with SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self, TypeVar

from seldon_tfserving.runner.errors import StartupError
from seldon_tfserving.runner.process_tree import (
    TreeMember,
    outside_group,
    process_tree,
    signal_members,
    wait_gone,
)

C = TypeVar("C", bound="ChildProcess")

logger = logging.getLogger(__name__)

#: Seconds a child may take to be ready (TensorFlow imports are slow on two shared cores).
START_TIMEOUT_S = 180.0
#: How long SIGTERM gets before SIGKILL: every child here is a stateless server.
STOP_GRACE_S = 5.0
#: How often a wait polls its readiness checks.
POLL_S = 0.2
#: How long a SIGKILLed group may take to be reaped.
REAP_TIMEOUT_S = 10.0
#: How long the rest of a SIGKILLed tree may take to go.
GONE_TIMEOUT_S = 2.0
#: Lines of a child's log quoted when it fails to start.
LOG_TAIL_LINES = 40


@dataclass(eq=False)
class ChildProcess:
    """A command run in its own process group, logging to its own file; restartable."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    #: the default SIGTERM grace of `stop()`
    grace_s: float = STOP_GRACE_S
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    #: where the latest start began writing in the log
    _log_offset: int = field(default=0, init=False, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None

    @property
    def title(self) -> str:
        """How a failure report names this child."""
        return self.name

    def start(self) -> Self:
        """Launch the command in a new session, appending to the log (a restart keeps history)."""
        if self.running():
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child holds its own copy of the descriptor
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                cwd=self.cwd,
                start_new_session=True,
            )
        logger.debug("started %s (pid %s): %s", self.name, self.process.pid, self.argv)
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_of_this_run(self) -> str:
        """What the child logged since its latest start (a restart appends to the same file)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_until(
        self,
        ready: Callable[[], bool],
        timeout_s: float = START_TIMEOUT_S,
        *,
        start_again: Callable[[Self], bool] | None = None,
        poll_s: float = POLL_S,
    ) -> None:
        """Poll `ready` until true; raise ChildExited if the child dies, ChildNotReady late."""
        wait_all_ready([(self, ready)], timeout_s, start_again=start_again, poll_s=poll_s)

    def stop(self, timeout_s: float | None = None) -> None:
        """SIGTERM the group, SIGKILL what is left after `timeout_s` (default: `grace_s`)."""
        stop_together([self], timeout_s)

    def kill(self) -> None:
        """SIGKILL the whole group at once, as a crashed container goes, and reap it."""
        _signal_group(self, signal.SIGKILL)
        _reap(self)


class ChildExited(StartupError):
    """A child exited while it was starting; the message quotes its log."""

    def __init__(self, child: ChildProcess) -> None:
        self.child = child
        self.returncode = child.returncode
        super().__init__(
            f"{child.title} exited with {self.returncode} while starting "
            f"(log: {child.log_path}):\n{child.log_tail()}"
        )


class ChildNotReady(StartupError):
    """Children still not ready at the deadline; the message quotes the first one's log."""

    def __init__(self, waiting: Sequence[ChildProcess], timeout_s: float) -> None:
        self.waiting = tuple(waiting)
        first = self.waiting[0]
        super().__init__(
            f"{first.title} not ready after {timeout_s:.0f} s "
            f"(log: {first.log_path}):\n{first.log_tail()}"
        )


def wait_all_ready(
    pending: Iterable[tuple[C, Callable[[], bool]]],
    timeout_s: float = START_TIMEOUT_S,
    *,
    on_ready: Callable[[C], None] | None = None,
    start_again: Callable[[C], bool] | None = None,
    poll_s: float = POLL_S,
) -> None:
    """Poll children started together until each one's check is true, under one deadline.

    A check that raises OSError (a refused connection, a `requests` failure) counts as not
    ready yet. A child not ready (or exited) is offered to `start_again`: when that starts it
    again (returns True), it is waited for anew, with a full `timeout_s`. A child that exited
    otherwise fails the wait with ChildExited.
    """
    deadline = time.monotonic() + timeout_s
    waiting = list(pending)
    while waiting:
        for item in list(waiting):
            child, ready = item
            if child.running() and _answers(ready):
                waiting.remove(item)
                if on_ready is not None:
                    on_ready(child)
                continue
            if start_again is not None and start_again(child):
                deadline = max(deadline, time.monotonic() + timeout_s)
                continue
            if not child.running():
                raise ChildExited(child)
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise ChildNotReady([child for child, _ in waiting], timeout_s)
        time.sleep(poll_s)


def stop_together(children: Sequence[ChildProcess], timeout_s: float | None = None) -> None:
    """Stop children in parallel: SIGTERM to every tree, one grace period, then SIGKILL.

    The grace is `timeout_s`, or the longest `grace_s` among them. Each child's tree is read
    before the first signal: its group gets the signals (even when its leader has exited:
    forked workers may outlive their parent), and so does every process of the tree that left
    the group.
    """
    started = [child for child in children if child.process is not None]
    if not started:
        return
    grace_s = timeout_s if timeout_s is not None else max(c.grace_s for c in started)
    trees: dict[int, tuple[TreeMember, ...]] = {}
    for child in started:
        assert child.process is not None
        tree = trees[child.process.pid] = process_tree(child.process.pid)
        _signal_group(child, signal.SIGTERM)
        signal_members(outside_group(tree, child.process.pid), signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in started:
        assert child.process is not None
        tree = trees[child.process.pid]
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            wait_gone(tree, max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            # seldon-core-microservice's graceful shutdown can outlast a short grace period
            logger.info("%s still up %.0f s after SIGTERM; killing it", child.name, grace_s)
        _signal_group(child, signal.SIGKILL)
        signal_members(outside_group(tree, child.process.pid), signal.SIGKILL)
        _reap(child)
        if wait_gone(tree, GONE_TIMEOUT_S):
            logger.error("%s: processes of its tree did not die", child.name)


def _answers(ready: Callable[[], bool]) -> bool:
    try:
        return ready()
    except OSError:  # requests' errors are OSErrors too
        return False


def _signal_group(child: ChildProcess, sig: signal.Signals) -> None:
    if child.process is None:
        return
    try:
        os.killpg(child.process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(child: ChildProcess) -> None:
    if child.process is None:
        return
    try:
        child.process.wait(timeout=REAP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        logger.error("%s (pid %s) did not die", child.name, child.pid)
