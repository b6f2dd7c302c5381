"""gRPC on the HTTP port: a connection that opens with the HTTP/2 preface is passed through,
byte for byte, to the gateway's gRPC server, inside the front's event loop (no thread each).

Each side reads only while the other side's unsent bytes are under a bound, so a slow reader
slows its writer instead of filling memory.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from typing import Protocol

#: Every HTTP/2 connection (so every gRPC call) opens with this preface; no HTTP/1 method does.
HTTP2_PREFACE_START = b"PRI"
_READ_SIZE = 65536
_HIGH_WATER = 1 << 20


class Selector(Protocol):
    """What a tunnel needs of the event loop: interest in a socket's readiness."""

    def watch(self, sock: socket.socket, handler: object, read: bool, write: bool) -> None: ...

    def unwatch(self, sock: socket.socket) -> None: ...


class _Side:
    """One socket of the tunnel, with the bytes waiting to be written to it."""

    def __init__(self, tunnel: Tunnel, sock: socket.socket) -> None:
        self.tunnel = tunnel
        self.sock = sock
        self.unsent = bytearray()
        self.read_open = True
        self.write_open = True
        self.peer: _Side = self

    def interest(self) -> None:
        reading = self.read_open and len(self.peer.unsent) < _HIGH_WATER
        writing = bool(self.unsent) or not self.tunnel.connected
        if reading or writing:
            self.tunnel.loop.watch(self.sock, self, reading and self.tunnel.connected, writing)
        else:
            self.tunnel.loop.unwatch(self.sock)

    def on_readable(self) -> None:
        if self.tunnel.closed:
            return
        try:
            data = self.sock.recv(_READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self.tunnel.close()
            return
        if data:
            self.peer.send(data)
        else:
            self.read_open = False
            self.peer.finish_writing()
        self.tunnel.refresh()

    def on_writable(self) -> None:
        if self.tunnel.closed:
            return
        if not self.tunnel.connected:
            self.tunnel.on_connected()
            return
        self.flush()
        self.tunnel.refresh()

    def send(self, data: bytes) -> None:
        self.unsent += data
        self.flush()

    def flush(self) -> None:
        while self.unsent and self.tunnel.connected:
            try:
                sent = self.sock.send(self.unsent)
            except BlockingIOError:
                return
            except OSError:
                self.tunnel.close()
                return
            del self.unsent[:sent]
        if not self.unsent and not self.write_open:
            self._shutdown_write()

    def finish_writing(self) -> None:
        """The peer will send no more: half-close once what it sent is written."""
        self.write_open = False
        if not self.unsent:
            self._shutdown_write()

    def _shutdown_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Tunnel:
    """A client connection and its upstream gRPC connection, joined."""

    def __init__(
        self,
        loop: Selector,
        client: socket.socket,
        first_bytes: bytes,
        upstream: tuple[str, int],
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        self.loop = loop
        self.connected = False
        self.closed = False
        self._on_closed = on_closed
        self.client = _Side(self, client)
        upstream_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        upstream_sock.setblocking(False)
        upstream_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.upstream = _Side(self, upstream_sock)
        self.client.peer, self.upstream.peer = self.upstream, self.client
        self.upstream.unsent += first_bytes
        result = upstream_sock.connect_ex(upstream)
        if result not in (0, errno.EINPROGRESS):
            self.close()
            return
        self.refresh()

    def on_connected(self) -> None:
        error = self.upstream.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            self.close()
            return
        self.connected = True
        self.upstream.flush()
        self.refresh()

    def refresh(self) -> None:
        if self.closed:
            return
        if not self.client.read_open and not self.upstream.read_open:
            if not self.client.unsent and not self.upstream.unsent:
                self.close()
                return
        if self.connected:
            self.client.interest()
        else:
            self.loop.unwatch(self.client.sock)
        self.upstream.interest()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for side in (self.client, self.upstream):
            self.loop.unwatch(side.sock)
            try:
                side.sock.close()
            except OSError:
                pass
        if self._on_closed is not None:
            self._on_closed()
