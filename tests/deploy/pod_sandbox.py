"""A pod's own network and paths on this machine, for running a container's command exactly
as the operator configures it.

Seldon's operator gives a node's container fixed ports (9000, 9500, 6000; TF Serving beside it
2000 and 2001) and TF Serving its model at /mnt/models. On a shared machine those ports may be
taken and /mnt is not ours, so the processes run in namespaces of their own, as containers of
one pod share theirs: a holder process (`unshare`: user, network and mount namespaces) brings
up a private loopback and mounts the model folders at their in-pod paths on a tmpfs /mnt;
every command, the probes' included, then runs inside through `nsenter`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

#: Run by the holder: loopback up, a private /mnt, each "PATH DIR" pair bound, then wait.
_HOLDER = """set -e
ip link set lo up
mount -t tmpfs tmpfs /mnt
while [ $# -gt 0 ]; do mkdir -p "$1"; mount --bind "$2" "$1"; shift 2; done
echo ready
exec sleep infinity
"""
READY_TIMEOUT_S = 20


class PodSandbox:
    """Namespaces shared by the processes of one pod; `command()` wraps a command to run there."""

    def __init__(self, mounts: Mapping[str, Path]) -> None:
        self.mounts = dict(mounts)
        self.holder: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        pairs = [word for path, folder in self.mounts.items() for word in (path, str(folder))]
        self.holder = subprocess.Popen(
            ["unshare", "--user", "--map-root-user", "--net", "--mount"]
            + ["--propagation", "private", "sh", "-c", _HOLDER, "sh", *pairs],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline().strip()
        if line != "ready":
            self.holder.kill()
            raise RuntimeError(f"the pod's namespaces could not be made: {line}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait(timeout=10)

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` as run inside the pod (nsenter execs it: its pid is the program's)."""
        assert self.holder is not None, "enter the sandbox first"
        return [
            "nsenter",
            f"--target={self.holder.pid}",
            "--user",
            "--net",
            "--mount",
            "--preserve-credentials",
            "--",
            *argv,
        ]

    def run(
        self, argv: Sequence[str], env: Mapping[str, str], timeout_s: float
    ) -> subprocess.CompletedProcess[str]:
        """Run a short command inside and return what it printed."""
        return subprocess.run(
            self.command(argv),
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
