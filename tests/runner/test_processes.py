"""Supervision: children in their own groups, unexpected exits reported once, clean stops."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
from pathlib import Path

from seldon_tfserving.runner.processes import Child, Supervisor
from seldon_tfserving.runner.progress import FAILED, READY, STARTING, ProgressBoard

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(120)"]
#: ignores SIGTERM and starts a grandchild in its own group: only SIGKILL of the group ends both
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(120)\n",
]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def wait_for(condition: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def test_an_unexpected_exit_is_reported_once_with_its_code(tmp_path: Path) -> None:
    reports: list[tuple[str, int]] = []
    reported = threading.Event()

    def on_exit(child: Child, code: int) -> None:
        reports.append((child.name, code))
        reported.set()

    supervisor = Supervisor(tmp_path, on_exit, grace_s=2)
    try:
        victim = supervisor.start("d/p/victim", SLEEPER)
        survivor = supervisor.start("d/p/survivor", SLEEPER)
        assert wait_for(lambda: "up" in victim.log_path.read_text())
        assert victim.pid is not None
        os.killpg(victim.pid, signal.SIGKILL)
        assert reported.wait(10)
        time.sleep(0.5)
        assert reports == [("d/p/victim", -signal.SIGKILL)]
        assert survivor.running()
        assert victim.log_path.name == "d__p__victim.log"
    finally:
        supervisor.stop_all()
    assert not survivor.running()
    assert reports == [("d/p/victim", -signal.SIGKILL)], "a deliberate stop is not a failure"


def test_stopping_kills_what_ignores_sigterm_and_its_whole_group(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, lambda child, code: None, grace_s=1)
    stubborn = supervisor.start("stubborn", STUBBORN)
    assert wait_for(lambda: stubborn.log_path.read_text().strip().isdigit())
    grandchild = int(stubborn.log_path.read_text().strip())
    began = time.monotonic()
    supervisor.stop_all()
    assert time.monotonic() - began < 8
    assert not stubborn.running()
    assert wait_for(lambda: not pid_alive(grandchild), 5)


def test_a_restart_is_not_reported_as_a_failure(tmp_path: Path) -> None:
    reports: list[str] = []
    supervisor = Supervisor(tmp_path, lambda child, code: reports.append(child.name), grace_s=2)
    try:
        child = supervisor.start("backend", SLEEPER)
        first_pid = child.pid
        supervisor.restart("backend")
        assert child.running() and child.pid != first_pid
        time.sleep(0.6)
        assert reports == []
    finally:
        supervisor.stop_all()


def test_the_progress_board_writes_one_line_per_change_without_a_tty() -> None:
    stream = io.StringIO()
    board = ProgressBoard(stream)
    board.set("backend", "ab/default/tfserving", STARTING)
    board.set("backend", "ab/default/tfserving", STARTING)
    board.set("component", "ab/default/router", STARTING)
    board.set("backend", "ab/default/tfserving", READY)
    board.set("component", "ab/default/router", FAILED, "exited with 1")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    assert "starting" in lines[0] and "ab/default/tfserving" in lines[0]
    assert "ready" in lines[2] and " s)" in lines[2]
    assert "failed" in lines[3] and "exited with 1" in lines[3]
    assert board.state("ab/default/router") == FAILED


def test_the_progress_board_redraws_in_place_on_a_tty() -> None:
    stream = io.StringIO()
    board = ProgressBoard(stream, live=True)
    board.set("backend", "a", STARTING)
    board.set("backend", "b", STARTING)
    board.set("backend", "a", READY)
    # the third draw moves up over the two lines already drawn and rewrites them
    assert "\x1b[2F" in stream.getvalue()
    assert stream.getvalue().count("\x1b[2K") == 1 + 2 + 2
