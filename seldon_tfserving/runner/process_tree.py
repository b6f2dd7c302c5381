"""A process and every process below it, read from /proc: what a stop must leave gone.

A child runs in a process group of its own and the group is what gets signalled, but a process
below it may have left the group (`setsid`, a daemonising library), and once its parent dies it
is no longer found by walking down from the child. So the tree is read once, before the first
signal; the members outside the group are signalled too, and whichever member is still alive
after the grace is killed. A member is known by its pid and its start time, so a pid the kernel
has since handed to another process is never signalled.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
#: How often `wait_gone` looks again.
POLL_S = 0.05


@dataclass(frozen=True)
class TreeMember:
    """One process of a tree, as /proc/PID/stat names it."""

    pid: int
    #: clock ticks after boot when it started: with the pid, this process and no other
    start_time: int
    #: its process group
    group: int


@dataclass(frozen=True)
class _Stat:
    parent: int
    group: int
    state: str
    start_time: int


def _stat(pid: int) -> _Stat | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may hold spaces: the fields follow the last ')'
    fields = text.rsplit(")", 1)[1].split()
    return _Stat(int(fields[1]), int(fields[2]), fields[0], int(fields[19]))


def process_tree(root: int) -> tuple[TreeMember, ...]:
    """`root` and every process below it now (nothing when `root` is gone)."""
    stats: dict[int, _Stat] = {}
    below: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None:
            stats[int(entry.name)] = stat
            below.setdefault(stat.parent, []).append(int(entry.name))
    if root not in stats:
        return ()
    members, queue = [], [root]
    while queue:
        pid = queue.pop()
        members.append(TreeMember(pid, stats[pid].start_time, stats[pid].group))
        queue.extend(below.get(pid, ()))
    return tuple(members)


def alive(member: TreeMember) -> bool:
    """Whether this very process still runs (a zombie has finished)."""
    stat = _stat(member.pid)
    return stat is not None and stat.start_time == member.start_time and stat.state not in "ZX"


def outside_group(members: Iterable[TreeMember], group: int) -> list[TreeMember]:
    """The members a signal to process group `group` does not reach."""
    return [member for member in members if member.group != group]


def signal_members(members: Iterable[TreeMember], sig: signal.Signals) -> None:
    """Send `sig` to each member that is still the process it was."""
    for member in members:
        if alive(member):
            try:
                os.kill(member.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def wait_gone(members: Sequence[TreeMember], timeout_s: float) -> list[TreeMember]:
    """Wait until no member is alive, at most `timeout_s`; the ones still alive."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [member for member in members if alive(member)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL_S)
