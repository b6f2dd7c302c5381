"""One client connection of the REST face: HTTP/1.1 parsed by h11, framed by RFC 9112's rules,
and every phase under a deadline, so that no client can hold the server or smuggle a request.

h11 refuses what RFC 9112 calls invalid framing (a Content-Length that is not digits, two that
differ, whitespace before a colon, a malformed chunk, a transfer coding other than chunked);
this module adds the rules it leaves to the server: a request with both Content-Length and
Transfer-Encoding, or Transfer-Encoding in HTTP/1.0, is refused (sections 6.1 and 6.3), and
every refusal closes the connection, so bytes after a bad head are never taken for a request.
A body over the limit is refused from its Content-Length before it is read (no
`100 Continue`), a chunked one as soon as its chunks pass the limit.

A connection is either parked (waiting for a request's head, read without blocking by the
server's selector thread) or active (a worker thread reads the body, has it served, writes the
answer, and keeps going while the client sends its next request at once).
"""

from __future__ import annotations

import http
import logging
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import h11

from seldon_tfserving.codec import tfserving_json

LOG = logging.getLogger(__name__)

#: (HTTP status, body, Content-Type) of one call.
RestAnswer = tuple[int, bytes, str]
#: Serves one call: (method, target, body) -> its answer; never raises.
RestHandler = Callable[[str, str, bytes], RestAnswer]

#: How long a kept-alive connection may wait for its next request (parked: no thread).
IDLE_CONNECTION_TIMEOUT_S = 120.0
#: From a request's first byte to the end of its head: a slow-header client is cut off here.
HEAD_TIMEOUT_S = 10.0
#: From the end of the head to the end of the body.
BODY_TIMEOUT_S = 60.0
#: How long an answer may take to leave (a client that stops reading is cut off).
SEND_TIMEOUT_S = 30.0
#: The most a request line and its headers may take.
MAX_HEAD_BYTES = 64 * 1024
#: After a refusal, how long the unread rest of a request is drained before the socket closes
#: (so that the refusal reaches a client still sending, instead of a reset).
LINGER_S = 2.0
#: After an answer, how long the worker waits for the next request before parking the
#: connection: a client calling in a loop never waits on a hand-over between threads (which
#: costs more than the call itself on a busy machine); a stop ends the wait at once.
KEEP_WARM_S = 1.0
READ_SIZE = 256 * 1024
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class HttpLimits:
    """The bounds every connection is held to."""

    max_body_bytes: int
    idle_timeout_s: float = IDLE_CONNECTION_TIMEOUT_S
    head_timeout_s: float = HEAD_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S
    send_timeout_s: float = SEND_TIMEOUT_S
    max_head_bytes: int = MAX_HEAD_BYTES


class Refusal(Exception):
    """A request answered without being served, with TF Serving's error body; the connection
    closes after it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Closed(Enum):
    """The client has closed its side, or went silent between requests: nothing to answer."""

    CLOSED = "closed"


#: What a parked connection has after a read: a whole head, a refusal, the end, or nothing yet.
HeadProgress = h11.Request | Refusal | Closed | None


def framing_refusal(request: h11.Request, limits: HttpLimits) -> Refusal | None:
    """What RFC 9112 makes a server refuse in a head that h11 accepted, or a head or body over
    the limits; None when the request may be read."""
    # h11 bounds a head still incomplete; one that arrived whole in a read is measured here.
    head_bytes = len(request.target) + sum(len(n) + len(v) + 4 for n, v in request.headers)
    if head_bytes > limits.max_head_bytes:
        return Refusal(431, f"Request head exceeds the limit of {limits.max_head_bytes} bytes")
    version = request.http_version
    if version not in (b"1.0", b"1.1"):
        return Refusal(400, f"HTTP version {version.decode('ascii', 'replace')} not supported")
    names = [name for name, _ in request.headers]
    if b"transfer-encoding" in names:
        if b"content-length" in names:
            return Refusal(400, "Both Content-Length and Transfer-Encoding given")
        if version == b"1.0":
            return Refusal(400, "Transfer-Encoding in an HTTP/1.0 request")
    for name, value in request.headers:
        if name == b"content-length" and int(value) > limits.max_body_bytes:
            return Refusal(
                413,
                f"Request body of {int(value)} bytes exceeds the limit of {limits.max_body_bytes}",
            )
    return None


def _malformed(exc: h11.RemoteProtocolError) -> Refusal:
    """h11's refusal, with its status when it is a client error (431: head too large), else
    400: bad input never gets a 5xx (h11 hints 501 for a transfer coding it does not know)."""
    status = exc.error_status_hint if 400 <= exc.error_status_hint < 500 else 400
    return Refusal(status, f"Malformed HTTP request: {exc}")


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _closing_answer(status: int, body: bytes, content_type: str) -> bytes:
    """A whole answer that closes the connection, written without h11 (whose state may be an
    error by now)."""
    head = (
        f"HTTP/1.1 {status} {_reason(status)}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class HttpConnection:
    """One client's socket and its HTTP state; parked or active, never both."""

    def __init__(self, sock: socket.socket, limits: HttpLimits) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self._limits = limits
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_head_bytes)
        #: a request's first byte has arrived (its head deadline runs)
        self.began = False
        #: set when the server stops: the request being served is answered with
        #: `Connection: close`, then the connection closes
        self.draining = False
        #: when a parked connection is given up (idle, or its head too slow)
        self.deadline = time.monotonic() + limits.idle_timeout_s

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # -- parked: the selector thread reads heads without blocking ---------------------------

    def on_readable(self) -> HeadProgress:
        """Take what the socket holds; the head once it is whole."""
        try:
            data = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return Closed.CLOSED
        if data and not self.began:
            self.began = True
            self.deadline = time.monotonic() + self._limits.head_timeout_s
        self._h11.receive_data(data)
        return self._head()

    def on_deadline(self) -> Refusal | Closed:
        """A parked connection past its deadline: a slow head is refused, an idle one closed."""
        if self.began:
            return Refusal(408, "Request head not received in time")
        return Closed.CLOSED

    def _head(self) -> HeadProgress:
        try:
            event = self._h11.next_event()
        except h11.RemoteProtocolError as exc:
            return _malformed(exc)
        if event is h11.NEED_DATA:
            return None
        if isinstance(event, h11.Request):
            return framing_refusal(event, self._limits) or event
        return Closed.CLOSED

    # -- active: a worker thread serves, blocking under deadlines ----------------------------

    def serve(self, first: h11.Request | Refusal, handler: RestHandler, stopping: int) -> bool:
        """Serve this request and those that follow at once; True when the connection is to be
        parked again, False once it is closed. `stopping` is a descriptor that turns readable
        when the server stops."""
        self.sock.setblocking(True)
        ready: HeadProgress = first
        try:
            while True:
                if isinstance(ready, Refusal):
                    self._refuse(ready)
                    return False
                if not isinstance(ready, h11.Request):
                    break
                method = ready.method.decode("ascii")
                target = ready.target.decode("latin-1")
                body = self._read_body()
                self._answer(*handler(method, target, body), method=method)
                if self._h11.our_state is not h11.DONE or self.draining:
                    break
                self._h11.start_next_cycle()
                self.began = False
                ready = self._next_head_at_once(stopping)
                if ready is None:
                    self._park()
                    return True
        except Refusal as refusal:
            self._refuse(refusal)
        except (OSError, h11.LocalProtocolError, _ClientGone):
            pass  # the client went away, or stopped reading its answer
        self.close()
        return False

    def _next_head_at_once(self, stopping: int) -> HeadProgress:
        """The next request when the client has sent it already or sends it within
        KEEP_WARM_S (unless the server stops meanwhile); None to park."""
        ready = self._head()
        if ready is not None:
            return ready
        poller = select.poll()  # not select(): descriptors may be past FD_SETSIZE
        poller.register(self.sock, select.POLLIN)
        poller.register(stopping, select.POLLIN)
        events = poller.poll(KEEP_WARM_S * 1000)
        if not any(fd == self.sock.fileno() for fd, _ in events):
            return None
        data = self.sock.recv(READ_SIZE)
        if data:
            self.began = True
        self._h11.receive_data(data)
        return self._head()

    def _park(self) -> None:
        now = time.monotonic()
        timeout = self._limits.head_timeout_s if self.began else self._limits.idle_timeout_s
        self.deadline = now + timeout
        self.sock.setblocking(False)

    def _read_body(self) -> bytes:
        if self._h11.they_are_waiting_for_100_continue:
            invitation = h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
            self._send(self._h11.send(invitation) or b"")
        deadline = time.monotonic() + self._limits.body_timeout_s
        parts: list[bytes] = []
        total = 0
        limit = self._limits.max_body_bytes
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise _malformed(exc) from None
            if event is h11.NEED_DATA:
                self._h11.receive_data(self._recv_before(deadline))
            elif isinstance(event, h11.Data):
                total += len(event.data)
                if total > limit:
                    raise Refusal(413, f"Request body exceeds the limit of {limit} bytes")
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            else:
                raise _ClientGone

    def _recv_before(self, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Refusal(408, "Request body not received in time")
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv(READ_SIZE)
        except TimeoutError:
            raise Refusal(408, "Request body not received in time") from None

    def _answer(self, status: int, body: bytes, content_type: str, *, method: str) -> None:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        if self.draining:
            headers.append(("Connection", "close"))
        h = self._h11
        data = h.send(h11.Response(status_code=status, reason=_reason(status), headers=headers))
        if method != "HEAD" and body:
            data = (data or b"") + (h.send(h11.Data(data=body)) or b"")
        self._send((data or b"") + (h.send(h11.EndOfMessage()) or b""))

    def _send(self, data: bytes) -> None:
        self.sock.settimeout(self._limits.send_timeout_s)
        self.sock.sendall(data)

    def _refuse(self, refusal: Refusal) -> None:
        """Answer a refusal and close, draining what the client still sends for a moment so
        that it reads the answer instead of a reset."""
        LOG.debug("refused: %d %s", refusal.status, refusal.message)
        body = tfserving_json.encode_error(refusal.message)
        try:
            self.sock.setblocking(True)
            self._send(_closing_answer(refusal.status, body, JSON_CONTENT_TYPE))
            self.sock.shutdown(socket.SHUT_WR)
            until = time.monotonic() + LINGER_S
            while (remaining := until - time.monotonic()) > 0:
                self.sock.settimeout(remaining)
                if not self.sock.recv(READ_SIZE):
                    break
        except OSError:
            pass
        finally:
            self.close()


class _ClientGone(Exception):
    """The client closed its side in the middle of a request."""
