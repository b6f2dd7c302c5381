"""Free loopback ports for children that bind them a moment after they are chosen.

The OS picks a port for `bind(0)` and takes it back when the probe socket closes, so two probes
in a row may name the same port. A second child on a taken HTTP port fails to start (and the
runner starts it again), but seldon-core's gRPC server binds with SO_REUSEPORT: two children
given one gRPC port would both listen and silently share its traffic, each answering the
other's requests. So a port is handed out at most once per process.
"""

from __future__ import annotations

import socket
import threading

#: Probes before giving up: each repeats a handed-out port only by chance.
MAX_PROBES = 1000

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now and that this process has not handed out before."""
    with _lock:
        for _ in range(MAX_PROBES):
            port = _probe(host)
            if port not in _handed_out:
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


def _probe(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
