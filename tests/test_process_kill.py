"""A failed test's cleanup leaves no child of the command it started running."""

from __future__ import annotations

import subprocess
import sys

from seldon_tfserving.runner.process_tree import TreeMember, alive, process_tree, wait_gone
from tests.process_kill import kill_with_its_tree

#: A parent that starts a child in a session of its own (as the runner starts its servers),
#: says so, and sleeps.
PARENT = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
    " start_new_session=True)\n"
    "print('1', flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_child_in_a_session_of_its_own_goes_with_its_parent() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, start_new_session=True
    )
    assert parent.stdout is not None and parent.stdout.readline().strip() == b"1"
    members = process_tree(parent.pid)
    children: list[TreeMember] = [m for m in members if m.pid != parent.pid]
    assert len(children) == 1 and children[0].group != parent.pid

    kill_with_its_tree(parent)

    assert parent.returncode is not None
    assert wait_gone(children, 10) == []
    assert not alive(children[0])


def test_a_command_that_has_exited_is_left_alone() -> None:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait(timeout=30)

    kill_with_its_tree(done)

    assert done.returncode == 0
