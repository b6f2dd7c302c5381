"""How a test ends a command it started that is still running: nothing is left behind.

The runner starts each child in a session of its own (`runner/child.py`), so SIGKILL to the
runner's own group would leave its servers running, holding their ports, after a failed test.
"""

from __future__ import annotations

import os
import signal
import subprocess

from seldon_tfserving.runner.process_tree import process_tree, signal_members


def kill_with_its_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL `process` (if it still runs), its group and every process below it."""
    if process.poll() is not None:
        return
    members = process_tree(process.pid)
    os.killpg(process.pid, signal.SIGKILL)
    signal_members(members, signal.SIGKILL)
    process.wait(timeout=30)
