"""A process tree as /proc shows it, for the specifications that a stop ends all of it: a
server started in a session of its own leads it, and every process it starts is a member."""

from __future__ import annotations

import os
import time
from pathlib import Path


def session_members(session: int) -> list[str]:
    """The processes of a session still running, each as "PID command line" (one that exited
    and waits to be reaped is not running)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) != session:
                continue
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except (ProcessLookupError, PermissionError, FileNotFoundError):
            continue
        if stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
            members.append(f"{entry} {cmdline[:120].decode(errors='replace')}")
    return members


def tree_gone_by(session: int, deadline: float) -> list[str]:
    """The session's running processes once none are left, or at `deadline` (monotonic)."""
    while (left := session_members(session)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
