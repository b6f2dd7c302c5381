"""How much CPU each process of a bench run spends while a target is measured.

Requests per second move with whatever else the shared machine runs, and on two cores a
hop's latency at concurrency 8 is mostly queueing behind the other processes; the CPU a
process spends per good answer is its own per-request work, and holds still across runs.
Read from /proc as user plus system time of the process and its descendants (gunicorn's
workers, the gRPC server Seldon forks, its metrics manager).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from seldon_tfserving.bench.memory import PROC, children_of

#: Clock ticks a second, the unit of /proc/PID/stat's utime and stime.
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
#: utime and stime: fields 14 and 15 of /proc/PID/stat, counted after the `)` ending `comm`.
_UTIME, _STIME = 11, 12


def own_cpu_seconds(pid: int, proc: Path = PROC) -> float | None:
    """User plus system CPU seconds of `pid` alone (None: the process is gone)."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name may hold spaces and brackets: the fields start after its last `)`
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return (int(fields[_UTIME]) + int(fields[_STIME])) / _TICKS_PER_SECOND
    except (IndexError, ValueError):
        return None


def tree_cpu_seconds(pid: int, proc: Path = PROC) -> float | None:
    """CPU seconds of `pid` and of every descendant alive now (None: `pid` is gone)."""
    own = own_cpu_seconds(pid, proc)
    if own is None:
        return None
    return own + sum(own_cpu_seconds(child, proc) or 0.0 for child in children_of(pid, proc))


class CpuClock:
    """Reads the CPU seconds of named processes, so that a window's spend is end - start."""

    def __init__(self, pids: Mapping[str, int], proc: Path = PROC) -> None:
        self._pids = dict(pids)
        self._proc = proc

    def read(self) -> dict[str, float]:
        """Each named process's CPU seconds so far (a process gone is left out)."""
        found = {}
        for name, pid in self._pids.items():
            seconds = tree_cpu_seconds(pid, self._proc)
            if seconds is not None:
                found[name] = seconds
        return found


def spent(start: Mapping[str, float], end: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds each process spent between two readings (only those read both times)."""
    return {name: end[name] - start[name] for name in start.keys() & end.keys()}
