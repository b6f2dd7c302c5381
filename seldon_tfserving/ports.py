"""Free loopback ports for children that bind them a moment after they are chosen.

A port chosen now is bound by a child only seconds later, so two dangers sit in between. The
kernel's `bind(0)` and every outgoing connection draw from the same ephemeral range, so a port
probed there can be taken by some client's connection before the child binds it; ports are
therefore drawn outside that range. And another process (a second `up`, a second test worker)
may pick the same port in the meantime: a second child on a taken HTTP port fails to start, but
seldon-core's gRPC server binds with SO_REUSEPORT, so two children given one gRPC port would
both listen and silently answer each other's requests. So a port is handed out at most once per
process, and claimed machine-wide (a file per port, under one lock) long enough to be bound.
"""

from __future__ import annotations

import fcntl
import random
import socket
import tempfile
import threading
import time
from pathlib import Path

#: Candidates tried before giving up: each repeats a handed-out port only by chance.
MAX_PROBES = 1000
#: How long a claim keeps other processes off a port: past it the port is judged by the
#: kernel alone (bound by then, or free again).
CLAIM_S = 300.0
#: Where claims live: one empty file per port, its age the claim's; `.lock` guards them all.
CLAIMS = Path(tempfile.gettempdir()) / "seldon-tfserving-port-claims"
#: Below this the ports are privileged or well known.
FIRST_UNPRIVILEGED = 1025
#: Linux's own default, used where /proc does not say.
DEFAULT_EPHEMERAL = (32768, 60999)

_handed_out: set[int] = set()
_lock = threading.Lock()
_random = random.Random()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now, outside the ephemeral range, that no process has
    been handed in the last CLAIM_S seconds."""
    with _lock:
        for _ in range(MAX_PROBES):
            port = _probe(host)
            if port not in _handed_out and _claim(port):
                _handed_out.add(port)
                return port
    raise RuntimeError(f"no free port on {host} that was not handed out already")


def port_is_free(host: str, port: int) -> bool:
    """Whether a listener could bind `host:port` now (checked before anything starts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on `host:port` now."""
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for `bind(0)` and outgoing connections (inclusive)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL


def _probe(host: str) -> int:
    """A random unprivileged port outside the ephemeral range that `host` could bind now."""
    low, high = ephemeral_range()
    below, above = range(FIRST_UNPRIVILEGED, low), range(high + 1, 65536)
    for _ in range(MAX_PROBES):
        pick = _random.randrange(len(below) + len(above))
        port = below[pick] if pick < len(below) else above[pick - len(below)]
        if port_is_free(host, port):
            return port
    raise RuntimeError(f"no bindable port on {host} outside the ephemeral range {low}-{high}")


def _claim(port: int) -> bool:
    """Claim `port` machine-wide; False while another claim on it is younger than CLAIM_S.

    One lock file serialises the check and the claim across processes, so a stale claim is
    renewed by one of them only. Where the claims folder cannot be used (another user's, a
    read-only temp), the claim is this process's alone, as the registry above is."""
    path = CLAIMS / str(port)
    try:
        CLAIMS.mkdir(parents=True, exist_ok=True)
        with open(CLAIMS / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if time.time() - path.stat().st_mtime < CLAIM_S:
                    return False
            except FileNotFoundError:
                pass
            path.touch()
    except OSError:
        pass  # the claim is this process's alone
    return True
