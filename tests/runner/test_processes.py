"""The one launcher of children: own groups, bounded waits that fail with the log, clean stops,
a lost port moved; and supervision: unexpected exits reported once."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from seldon_tfserving.runner import launch
from seldon_tfserving.runner.child import (
    ChildExited,
    ChildNotReady,
    ChildProcess,
    stop_together,
    wait_all_ready,
)
from seldon_tfserving.runner.launch import (
    MicroserviceSpec,
    backend_argv,
    launch_microservice,
    lost_its_port,
    microservice_argv,
)
from seldon_tfserving.runner.processes import Child, Supervisor
from seldon_tfserving.runner.progress import FAILED, READY, STARTING, ProgressBoard
from tests.servers import free_port
from tests.waiting import eventually

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


def pid_logged(child: ChildProcess) -> bool:
    """Whether `child` wrote its pid (the first thing the test programs print)."""
    return child.log_path.read_text().strip().isdigit()


def pid_gone(pid: int) -> bool:
    return not pid_alive(pid)


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
        eventually(lambda: "up" in victim.log_path.read_text(), awaited="the victim up")
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
    eventually(lambda: stubborn.log_path.read_text().strip().isdigit(), awaited="its pid")
    grandchild = int(stubborn.log_path.read_text().strip())
    began = time.monotonic()
    supervisor.stop_all()
    assert time.monotonic() - began < 8
    assert not stubborn.running()
    eventually(lambda: not pid_alive(grandchild), 5, awaited="the grandchild gone")


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


# --- the shared wrapper -----------------------------------------------------------------------


def test_a_wait_fails_at_once_with_the_log_tail_when_the_child_dies(tmp_path: Path) -> None:
    dying = [sys.executable, "-c", "import sys; print('no model here', flush=True); sys.exit(3)"]
    child = ChildProcess("dying", dying, tmp_path / "dying.log").start()
    began = time.monotonic()
    with pytest.raises(ChildExited, match="no model here") as raised:
        child.wait_until(lambda: False, timeout_s=60)
    assert time.monotonic() - began < 30, "an exit is not waited out to the deadline"
    assert raised.value.returncode == 3
    assert "dying exited with 3 while starting" in str(raised.value)
    assert isinstance(raised.value, RuntimeError), "callers catch start-up failures as such"


def test_a_wait_past_its_deadline_names_the_late_children(tmp_path: Path) -> None:
    late = ChildProcess("late", SLEEPER, tmp_path / "late.log").start()
    ready = ChildProcess("ready", SLEEPER, tmp_path / "ready.log").start()
    shown: list[str] = []
    try:
        eventually(lambda: "up" in late.log_path.read_text(), awaited="the late child up")
        with pytest.raises(ChildNotReady, match="late not ready after 1 s") as raised:
            wait_all_ready(
                [(late, lambda: False), (ready, lambda: True)],
                timeout_s=1,
                on_ready=lambda child: shown.append(child.name),
            )
        assert raised.value.waiting == (late,)
        assert shown == ["ready"]
        assert "up" in str(raised.value), "the message quotes the log"
    finally:
        stop_together([late, ready], timeout_s=1)


def test_a_check_that_cannot_connect_yet_counts_as_not_ready(tmp_path: Path) -> None:
    child = ChildProcess("sleeper", SLEEPER, tmp_path / "sleeper.log").start()
    calls = []

    def refused_twice() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("not listening yet")
        return True

    try:
        child.wait_until(refused_twice, timeout_s=30, poll_s=0.01)
        assert len(calls) == 3
    finally:
        child.stop(timeout_s=1)


def test_stopping_together_gives_every_group_one_grace(tmp_path: Path) -> None:
    children = [
        ChildProcess(f"stubborn-{n}", STUBBORN, tmp_path / f"stubborn-{n}.log").start()
        for n in range(4)
    ]
    for child in children:
        eventually(partial(pid_logged, child), awaited=f"{child.name}'s pid")
    grandchildren = [int(c.log_path.read_text().strip()) for c in children]
    began = time.monotonic()
    stop_together(children, timeout_s=2)
    # one grace each, one after another, would be 4 x 2 s; the slack is a loaded machine's
    assert time.monotonic() - began < 2 + 3, "one grace for all, not one each"
    assert not any(c.running() for c in children)
    for grandchild in grandchildren:
        eventually(partial(pid_gone, grandchild), 5, awaited=f"pid {grandchild} gone")


def test_a_restart_appends_to_the_log_and_reads_its_own_run(tmp_path: Path) -> None:
    says = [sys.executable, "-c", "import sys; print(sys.argv[1], flush=True)"]
    child = ChildProcess("echo", [*says, "first"], tmp_path / "echo.log").start()
    assert child.process is not None and child.process.wait(timeout=30) == 0
    child.argv = [*says, "second"]
    child.start()
    assert child.process is not None and child.process.wait(timeout=30) == 0
    assert child.log_path.read_text().split() == ["first", "second"]
    assert child.log_of_this_run().split() == ["second"]


def test_a_second_child_under_a_supervised_name_is_refused_before_it_starts(
    tmp_path: Path,
) -> None:
    """Children are stopped by name: a second one under the same name would outlive the stop."""
    supervisor = Supervisor(tmp_path, lambda child, code: None, grace_s=2)
    try:
        first = supervisor.start("ab/default/tfserving", SLEEPER)
        with pytest.raises(ValueError, match="'ab/default/tfserving' is supervised already"):
            supervisor.start("ab/default/tfserving", SLEEPER)
        assert list(supervisor.children) == ["ab/default/tfserving"]
        assert supervisor.children["ab/default/tfserving"] is first
    finally:
        supervisor.stop_all()
    assert not first.running()


def test_starting_a_running_child_again_is_refused(tmp_path: Path) -> None:
    child = ChildProcess("sleeper", SLEEPER, tmp_path / "sleeper.log").start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            child.start()
    finally:
        child.kill()
    assert not child.running()


# --- the launchers ----------------------------------------------------------------------------


def test_the_microservice_command_line_is_seldons() -> None:
    argv = microservice_argv(
        ("seldon-core-microservice",),
        "seldon_tfserving.ABTestRouter",
        service_type="ROUTER",
        http_port=1,
        grpc_port=2,
        metrics_port=3,
        threads=4,
        parameters=[{"name": "ratio_a", "type": "FLOAT", "value": "0.5"}],
        extra_args=["--single-threaded", "0"],
    )
    assert argv[:10] == (
        "seldon-core-microservice",
        "seldon_tfserving.ABTestRouter",
        "--service-type",
        "ROUTER",
        "--http-port",
        "1",
        "--grpc-port",
        "2",
        "--metrics-port",
        "3",
    )
    assert argv[10:16] == ("--threads", "4", "--grpc-threads", "4", "--single-threaded", "0")
    assert argv[16] == "--parameters"
    assert json.loads(argv[17]) == [{"name": "ratio_a", "type": "FLOAT", "value": "0.5"}]
    bare = microservice_argv(
        ("m",), "X", service_type="MODEL", http_port=1, grpc_port=2, metrics_port=3
    )
    assert "--threads" not in bare and "--parameters" not in bare


def test_the_backend_command_line_puts_its_ports_before_the_callers_flags() -> None:
    assert backend_argv(("serve",), 8500, 8501, ["--model_name=m"]) == (
        "serve",
        "--port=8500",
        "--rest_api_port=8501",
        "--model_name=m",
    )


def test_a_port_taken_reads_as_such_in_the_logs_we_see() -> None:
    assert lost_its_port("[ERROR] Connection in use: ('0.0.0.0', 9000)")  # gunicorn
    assert lost_its_port("OSError: [Errno 98] Address already in use")
    assert not lost_its_port("ValueError: parameter 'transport' must be grpc or rest")


@pytest.mark.timeout(300)
def test_a_microservice_that_lost_its_http_port_starts_again_on_fresh_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """seldon-core-microservice does not exit when gunicorn cannot bind (its gRPC process
    lives on): the launcher reads the sign in the log and moves it."""
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    handed_out: list[int] = []

    def http_port_taken(host: str = "127.0.0.1") -> int:
        port = taken if not handed_out else free_port(host)
        handed_out.append(port)
        return port

    monkeypatch.setattr(launch, "free_port", http_port_taken)
    service = launch_microservice(
        tmp_path, MicroserviceSpec("seldon_tfserving.MeanCombiner", "COMBINER")
    )
    try:
        assert service.address.http_port == taken
        service.wait_ready()
        assert service.address.http_port not in (taken, *handed_out[:3])
        assert service.retries_left == 0
        assert "Connection in use" in service.process.log_path.read_text()
        assert "Connection in use" not in service.process.log_of_this_run()
    finally:
        service.process.stop(timeout_s=2)
        squatter.close()
