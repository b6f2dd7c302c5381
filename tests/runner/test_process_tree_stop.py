"""A stop leaves a child's whole tree gone within its grace, whatever the tree does.

Real processes, a few lines of Python each: a child that ignores SIGTERM, and grandchildren that
leave the child's process group (`setsid`, as a daemonising library does) and either ignore
SIGTERM or mark that they received it. A signal to the group reaches none of those
grandchildren; the tree read before the first signal does.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from functools import partial
from pathlib import Path

import pytest

from seldon_tfserving.runner.child import ChildProcess
from seldon_tfserving.runner.process_tree import TreeMember, alive, process_tree
from tests.waiting import eventually

pytestmark = pytest.mark.timeout(120)

GRACE_S = 1.0
#: What a stop may take beyond its grace on a loaded machine (reaping, the last SIGKILLs).
SLACK_S = 3.0


def python_child(tmp_path: Path, name: str, code: str) -> ChildProcess:
    script = tmp_path / f"{name}.py"
    script.write_text(textwrap.dedent(code))
    return ChildProcess(name, [sys.executable, str(script)], tmp_path / f"{name}.log", cwd=tmp_path)


def written(path: Path) -> str:
    """What `path` holds, stripped; empty while it is not there (yet)."""
    return path.read_text().strip() if path.exists() else ""


def wait_for_file(path: Path, timeout_s: float = 30) -> str:
    return eventually(partial(written, path), timeout_s, awaited=f"{path} written")


def member(pid: int) -> TreeMember:
    (found,) = [m for m in process_tree(pid) if m.pid == pid]
    return found


def stop_timed(child: ChildProcess) -> float:
    began = time.monotonic()
    child.stop(GRACE_S)
    return time.monotonic() - began


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    child = python_child(
        tmp_path,
        "deaf",
        """
        import pathlib, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pathlib.Path("ready").write_text("1")
        time.sleep(600)
        """,
    )
    child.start()
    wait_for_file(tmp_path / "ready")
    took = stop_timed(child)
    assert GRACE_S <= took < GRACE_S + SLACK_S
    assert child.returncode == -signal.SIGKILL


def test_a_grandchild_that_left_the_group_and_ignores_sigterm_is_killed_too(
    tmp_path: Path,
) -> None:
    child = python_child(
        tmp_path,
        "parent",
        """
        import os, pathlib, signal, time
        if os.fork() == 0:
            os.setsid()  # its own session: a signal to the parent's group misses it
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            pathlib.Path("grandchild").write_text(str(os.getpid()))
            time.sleep(600)
            os._exit(0)
        time.sleep(600)
        """,
    )
    child.start()
    grandchild = member(int(wait_for_file(tmp_path / "grandchild")))
    assert child.pid is not None and grandchild.group != child.pid
    took = stop_timed(child)
    assert took < GRACE_S + SLACK_S
    assert not alive(grandchild)


def test_a_grandchild_outside_the_group_is_sent_sigterm_first(tmp_path: Path) -> None:
    child = python_child(
        tmp_path,
        "parent",
        """
        import os, pathlib, signal, sys, time
        if os.fork() == 0:
            os.setsid()
            def leave(signum, frame):
                pathlib.Path("terminated").write_text("SIGTERM")
                os._exit(0)
            signal.signal(signal.SIGTERM, leave)
            pathlib.Path("grandchild").write_text(str(os.getpid()))
            time.sleep(600)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        time.sleep(600)
        """,
    )
    child.start()
    grandchild = member(int(wait_for_file(tmp_path / "grandchild")))
    took = stop_timed(child)
    assert (tmp_path / "terminated").read_text() == "SIGTERM"
    assert not alive(grandchild)
    assert took < GRACE_S  # both left on SIGTERM: nobody waited for the grace
    assert child.returncode == 0


def test_a_pid_is_signalled_only_while_it_is_the_process_that_was_read(tmp_path: Path) -> None:
    me = member(os.getpid())
    assert alive(me)
    assert not alive(TreeMember(me.pid, me.start_time + 1, me.group))
    assert process_tree(2**22 + 12345) == ()  # above any pid the kernel hands out
