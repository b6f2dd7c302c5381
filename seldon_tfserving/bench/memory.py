"""How much memory each process of a bench run holds: its resident set (VmRSS) and its
children's (gunicorn's workers, the metrics manager), read from /proc after the load.

A component's cost is not only its latency: on a node its memory decides how many replicas
fit, and a wrapper that imports TensorFlow's runtime holds hundreds of MB it never uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROC = Path("/proc")


def resident_kib(pid: int, proc: Path = PROC) -> int | None:
    """VmRSS of `pid` in KiB (None: the process is gone, or /proc has no such figure)."""
    try:
        status = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def command_of(pid: int, proc: Path = PROC) -> str:
    """The process's command line, its words joined by spaces (empty if it is gone)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def children_of(pid: int, proc: Path = PROC) -> list[int]:
    """Every descendant of `pid`, parents before their children (via each thread's
    `children` list)."""
    found: list[int] = []
    queue = [pid]
    while queue:
        parent = queue.pop(0)
        kids: set[int] = set()
        try:
            tasks = list((proc / str(parent) / "task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                kids.update(int(word) for word in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
        for kid in sorted(kids):
            if kid not in found:
                found.append(kid)
                queue.append(kid)
    return found


@dataclass(frozen=True)
class ProcessMemory:
    """One process of the run (its name in the run) and each of its descendants' RSS."""

    name: str
    pid: int
    rss_kib: int | None
    #: (pid, RSS KiB, command line) of every descendant
    children: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def total_kib(self) -> int:
        """The process and all its descendants (shared pages are counted in each)."""
        return (self.rss_kib or 0) + sum(rss for _, rss, _ in self.children)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pid": self.pid,
            "rss_mib": _mib(self.rss_kib),
            "children": [
                {"pid": pid, "rss_mib": _mib(rss), "command": command}
                for pid, rss, command in self.children
            ],
            "total_rss_mib": _mib(self.total_kib),
        }


def _mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def process_memory(name: str, pid: int, proc: Path = PROC) -> ProcessMemory:
    """What `pid` and its descendants hold now."""
    children = []
    for kid in children_of(pid, proc):
        rss = resident_kib(kid, proc)
        if rss is not None:
            children.append((kid, rss, command_of(kid, proc)))
    return ProcessMemory(name, pid, resident_kib(pid, proc), children)


def memory_table(processes: Iterable[ProcessMemory]) -> str:
    """Markdown: one row per process of the run, its own RSS, its children's, the total."""
    lines = [
        "| process | RSS MiB | children | children's RSS MiB | total MiB |",
        "|---|--:|--:|--:|--:|",
    ]
    for p in processes:
        own = "-" if p.rss_kib is None else f"{p.rss_kib / 1024:.0f}"
        kids = sum(rss for _, rss, _ in p.children)
        lines.append(
            f"| {p.name} | {own} | {len(p.children)} | {kids / 1024:.0f} | "
            f"{p.total_kib / 1024:.0f} |"
        )
    return "\n".join(lines) + "\n"
