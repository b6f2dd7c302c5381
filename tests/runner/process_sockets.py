"""What a process tree listens on, read from /proc as `ss -ltnp` would: every listening TCP
socket (IPv4 and IPv6) of every process descending from a pid, with the pid that holds it."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TCP_LISTEN = "0A"


@dataclass(frozen=True)
class Listener:
    """One listening socket: who holds it and where it listens."""

    pid: int
    host: str
    port: int


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (children, their children, ...), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the command name is in parentheses and may hold spaces: parse after it
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(parents.get(current, ()))
    return found


def _address(hex_address: str) -> tuple[str, int]:
    """/proc/net/tcp's `0100007F:1F90` (or tcp6's 32 hex digits) -> ('127.0.0.1', 8080)."""
    host_hex, port_hex = hex_address.split(":")
    raw = bytes.fromhex(host_hex)
    # the kernel prints each 32-bit word in host (little-endian) order
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    host = socket.inet_ntop(socket.AF_INET if len(words) == 4 else socket.AF_INET6, words)
    mapped = ipaddress.ip_address(host)
    if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped is not None:
        host = str(mapped.ipv4_mapped)
    return host, int(port_hex, 16)


def listening_inodes() -> dict[int, tuple[str, int]]:
    """Socket inode -> (host, port) of every listening TCP socket of this network namespace."""
    found = {}
    for table in ("tcp", "tcp6"):
        lines = (PROC / "net" / table).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if fields[3] == TCP_LISTEN:
                found[int(fields[9])] = _address(fields[1])
    return found


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets a process holds open."""
    inodes: set[int] = set()
    try:
        descriptors = list((PROC / str(pid) / "fd").iterdir())
    except OSError:
        return inodes
    for descriptor in descriptors:
        try:
            target = descriptor.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def listeners(root: int) -> list[Listener]:
    """Every listening TCP socket held by `root` or a process below it."""
    listening = listening_inodes()
    found = []
    for pid in descendants(root):
        for inode in socket_inodes(pid) & listening.keys():
            host, port = listening[inode]
            found.append(Listener(pid, host, port))
    return found
