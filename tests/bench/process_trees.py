"""A parent process with one child, for tests of what the bench reads of a process tree."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from seldon_tfserving.bench.memory import children_of


@contextmanager
def parent_with_child(child_code: str) -> Iterator[subprocess.Popen[str]]:
    """A parent that starts a child running `child_code` and sleeps; yields once the child
    has printed its first line (its code says when it is ready to be measured); kills both."""
    parent_code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {child_code!r}], stdout=sys.stdout)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "1"
        yield parent
    finally:
        for kid in children_of(parent.pid):
            subprocess.run(["kill", str(kid)], check=False)
        parent.kill()
        parent.wait()
